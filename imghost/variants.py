"""Variants of stored uploads: each made once, kept beside its upload, gone with it.

A variant is made on its first GET (or at upload, when asked): the first process to claim its
record makes it, every other request for it waits for that record to be ready, so twenty
parallel first GETs on several workers make it once. A maker that dies leaves its claim to run
out, and the next request takes it over. The record is committed only if it is still the
maker's: an upload deleted meanwhile takes its variant records with it, and the maker then
removes the object it just stored.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

from imghost.errors import NotFound, Unavailable
from imghost.ingest.prepare import DECODE_SLOTS, file_digest
from imghost.process.metrics import VARIANTS_MADE
from imghost.repo.base import Repo, Upload, Variant
from imghost.store import keys
from imghost.store.base import ObjectExists, Store
from imghost.vision.presets import PRESETS
from imghost.vision.variants import EXTENSIONS, make_variant, variant_mime

# How long a maker holds a variant's record before another request may take it over; making
# one from a 12 MP JPEG takes well under a second, from a 20 MB PNG a few.
MAKING_SECONDS = 60.0
# How often a request that waits for another maker looks at the record again.
WAIT_SECONDS = 0.05


def planned(upload: Upload, preset: str) -> Variant:
    """The variant `preset` gives `upload`, as it will be once made: its key, type and size."""
    made_for = PRESETS[preset]
    mime_type = variant_mime(upload.content_type)
    width, height = made_for.plan(upload.width, upload.height).size
    key = keys.variant_of(upload.storage_key, preset, EXTENSIONS[mime_type])
    return Variant(upload.id, preset, key, mime_type, width=width, height=height)


class Variants:
    """This process's way to variants: a memory of the ready ones, and the making."""

    def __init__(self, repo: Repo, work_dir: Path, remembered: int = 4096) -> None:
        self.repo = repo
        self.work_dir = work_dir
        # Ready records never change while their upload lives in its store; the upload's own
        # record is checked (expiry, deletion) before a variant is looked for, and a move to
        # another store (which makes its variants again there) changes the key.
        self._ready: OrderedDict[tuple[str, str, str], Variant] = OrderedDict()
        self._remembered = remembered
        # The event loop reads the memory while worker threads fill it.
        self._lock = threading.Lock()
        self._maker = f"{os.getpid()}-{secrets.token_hex(4)}"

    def ready(self, upload: Upload) -> dict[str, Variant]:
        """The upload's variants made so far, by preset."""
        return {v.preset: v for v in self.repo.variants_of(upload.id) if v.state == "ready"}

    def ready_of_all(self, uploads: list[Upload]) -> dict[str, dict[str, Variant]]:
        """`ready` for each of `uploads`, by upload id, in one query."""
        found: dict[str, dict[str, Variant]] = {}
        for variant in self.repo.variants_of_all([upload.id for upload in uploads]):
            if variant.state == "ready":
                found.setdefault(variant.upload_id, {})[variant.preset] = variant
        return found

    def remembered(self, upload: Upload, preset: str) -> Variant | None:
        """The ready variant if this process has seen it; asks nothing of any backend."""
        key = (upload.id, upload.store, preset)
        with self._lock:
            found = self._ready.get(key)
            if found is not None:
                self._ready.move_to_end(key)
            return found

    def get(self, upload: Upload, preset: str, store: Store) -> Variant:
        """The ready variant, made now if it is not yet (blocking: run it on a worker thread)."""
        remembered = self.remembered(upload, preset)
        if remembered is not None:
            return remembered
        variant = self._get_or_make(upload, preset, store)
        with self._lock:
            self._ready[(upload.id, upload.store, preset)] = variant
            while len(self._ready) > self._remembered:
                self._ready.popitem(last=False)
        return variant

    def forget(self, upload_id: str) -> None:
        with self._lock:
            for remembered in [key for key in self._ready if key[0] == upload_id]:
                del self._ready[remembered]

    def _get_or_make(self, upload: Upload, preset: str, store: Store) -> Variant:
        expected = planned(upload, preset)
        deadline = time.monotonic() + MAKING_SECONDS
        while True:
            claimed = self.repo.claim_variant(expected, self._maker, time.time(), MAKING_SECONDS)
            if claimed is None:
                raise _gone()
            found, mine = claimed
            if found.state == "ready":
                return found
            if mine:
                try:
                    return self._make(upload, expected, store)
                except BaseException:
                    # The next request makes it at once instead of waiting out this claim.
                    with contextlib.suppress(Exception):
                        self.repo.release_variant(expected, self._maker)
                    raise
            # Another maker has it: read (not claim) until it is ready or its time runs out.
            while time.monotonic() < deadline:
                time.sleep(WAIT_SECONDS)
                now = {v.preset: v for v in self.repo.variants_of(upload.id)}.get(preset)
                if now is None or now.state == "ready":
                    break
            else:
                raise Unavailable(
                    "variant_busy",
                    f"The {preset} variant is still being made. Try again shortly.",
                    retry_after=5,
                )

    def _make(self, upload: Upload, expected: Variant, store: Store) -> Variant:
        with contextlib.ExitStack() as temporaries:
            source = store.local_path(upload.where)
            if source is None:
                source = self._download(upload, store)
                temporaries.callback(source.unlink, missing_ok=True)
            # The same few decode slots as uploads: memory and cores stay bounded however many
            # first GETs arrive at once.
            with DECODE_SLOTS:
                made = make_variant(
                    source, PRESETS[expected.preset], self.work_dir, expected.content_type
                )
            temporaries.callback(made.path.unlink, missing_ok=True)
            # Before the put, which may move the file into the store.
            digest = file_digest(made.path)[1]
            location = self._put(store, expected.storage_key, made.path, made.mime_type)
        variant = replace(
            expected,
            size=made.size,
            width=made.width,
            height=made.height,
            digest=digest,
            location=None if location == expected.storage_key else location,
            state="ready",
        )
        VARIANTS_MADE.labels(expected.preset).inc()
        if not self.repo.commit_variant(variant, self._maker):
            # The upload was deleted while this was made (or the claim was taken over).
            with contextlib.suppress(Exception):
                store.delete(variant.where)
            raise _gone()
        return variant

    def _download(self, upload: Upload, store: Store) -> Path:
        path = self.work_dir / f"{secrets.token_hex(16)}.source"
        with path.open("wb") as out:
            for chunk in store.open_range(upload.where, 0, upload.size):
                out.write(chunk)
        return path

    @staticmethod
    def _put(store: Store, key: str, path: Path, mime_type: str) -> str:
        try:
            return store.put_file(key, path, mime_type)
        except ObjectExists:
            # Left by a maker that died before its commit: the same preset of the same bytes.
            store.delete(key)
            return store.put_file(key, path, mime_type)


def _gone() -> NotFound:
    return NotFound("not_found", "No image at this URL: it never existed or was deleted.")
