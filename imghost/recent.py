"""A per-process memory of recently served upload records, so hot images skip the database.

A record never changes while its upload lives, and every way it can stop living is still seen
at once: expiry is checked against the cached `expires_at`, and a deletion removes the bytes
first, which the read path notices (a missing file or object answers 404). Entries are dropped
after `TTL_SECONDS` so a deleted record does not linger.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from imghost.repo.base import Upload

TTL_SECONDS = 5.0
MAX_ENTRIES = 10_000


class RecentUploads:
    def __init__(self, ttl: float = TTL_SECONDS, size: int = MAX_ENTRIES) -> None:
        self._ttl = ttl
        self._size = size
        self._entries: OrderedDict[str, tuple[float, Upload]] = OrderedDict()

    def get(self, upload_id: str) -> Upload | None:
        entry = self._entries.get(upload_id)
        if entry is None:
            return None
        if time.monotonic() - entry[0] > self._ttl:
            del self._entries[upload_id]
            return None
        return entry[1]

    def put(self, upload: Upload) -> None:
        self._entries[upload.id] = (time.monotonic(), upload)
        self._entries.move_to_end(upload.id)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def forget(self, upload_id: str) -> None:
        self._entries.pop(upload_id, None)
