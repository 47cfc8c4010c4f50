"""Whole-file answers to image GETs, remembered by request path for the fast path.

A hot image's GET does the same work every time: parse its key, find its record, check that the
URL is the record's, pick its store, build its file's path and headers. What that work gives
(a file and its headers) is remembered here for as long as what it depended on is unchanged:
the record is still the one this process remembers (so `RecentUploads`' TTL and its `forget` on
deletion bound this memory too) and the settings are the same object (each refresh, every few
seconds, starts over). Expiry is checked against the record on every use, and the caller still
`stat`s the file, so a file removed under a remembered answer still gets the JSON 404.
A copy in the S3 read-through cache is remembered the same way; its last use is still renewed
(`DiskCache.get`) by the full lookup each settings refresh brings, far more often than the
once a minute that cache asks for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from imghost.http.ranges import PathSend
from imghost.recent import RecentUploads
from imghost.repo.base import Upload

MAX_ENTRIES = 4096


@dataclass(frozen=True, slots=True)
class HotImage:
    """A whole-file answer, and the record and settings it was made from."""

    upload: Upload
    settings: dict[str, Any]
    answer: PathSend


class HotImages:
    def __init__(self, recent: RecentUploads, size: int = MAX_ENTRIES) -> None:
        self._recent = recent
        self._size = size
        self._entries: dict[str, HotImage] = {}

    def remember(self, request_path: str, image: HotImage) -> None:
        if len(self._entries) >= self._size and request_path not in self._entries:
            del self._entries[next(iter(self._entries))]
        self._entries[request_path] = image

    def get(self, request_path: str, settings: dict[str, Any] | None) -> HotImage | None:
        """The remembered answer to a whole GET of `request_path`, if it still holds."""
        image = self._entries.get(request_path)
        if image is None:
            return None
        upload = image.upload
        if (
            image.settings is not settings
            or self._recent.get(upload.id) is not upload
            or (upload.expires_at is not None and upload.expires_at <= time.time())
        ):
            self.forget(request_path)
            return None
        return image

    def forget(self, request_path: str) -> None:
        self._entries.pop(request_path, None)
