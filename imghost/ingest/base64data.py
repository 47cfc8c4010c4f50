"""Base64 image data (bare or a `data:` URL) into a Spool, bounded by the decoded size limit."""

from __future__ import annotations

import binascii
import re

from imghost.errors import InvalidRequest, Refusal
from imghost.ingest.spool import Spool, too_large

_DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+)?(?:;[\w-]+=[^;,]*)*;base64,", re.ASCII)
# Decoded a slice at a time: a multiple of 4 characters keeps every slice whole base64.
_SLICE_CHARS = 64 * 1024
_WHITESPACE = re.compile(r"\s+")
_URL_SAFE = str.maketrans("-_", "+/")


def payload_of(data: object) -> str:
    """The base64 text of a `data` field: a data URL's payload, or bare base64."""
    if not isinstance(data, str) or not data:
        raise InvalidRequest("missing_data", "Send the image as base64 in the JSON field 'data'.")
    match = _DATA_URL.match(data)
    if data.startswith("data:") and match is None:
        raise InvalidRequest(
            "invalid_base64", "A data URL must look like data:image/png;base64,<data>."
        )
    return data[match.end() :] if match else data


def max_base64_chars(limit: int) -> int:
    """The longest base64 text whose decoded bytes can fit in `limit` (with padding)."""
    return 4 * ((limit + 2) // 3)


def decode_into(text: str, spool: Spool) -> None:
    """Decode `text` slice by slice into `spool`; refuse too long a text before decoding."""
    if _WHITESPACE.search(text):
        text = _WHITESPACE.sub("", text)
    text = text.translate(_URL_SAFE)
    if len(text) > max_base64_chars(spool.limit):
        raise too_large(spool.limit)
    if not text.isascii():
        raise _invalid("it holds characters that are not base64")
    if len(text) % 4:
        raise _invalid("its length is not a multiple of 4")
    for start in range(0, len(text), _SLICE_CHARS):
        try:
            spool.write(binascii.a2b_base64(text[start : start + _SLICE_CHARS], strict_mode=True))
        except binascii.Error as exc:
            raise _invalid(str(exc)) from exc


def _invalid(reason: str) -> Refusal:
    return InvalidRequest("invalid_base64", f"The 'data' field is not valid base64: {reason}.")
