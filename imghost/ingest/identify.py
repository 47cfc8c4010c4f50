"""Names for the formats we refuse, so a 415 can say what the file looks like."""

from __future__ import annotations

_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"BM", 0, "a BMP image"),
    (b"II*\x00", 0, "a TIFF image"),
    (b"MM\x00*", 0, "a TIFF image"),
    (b"\x00\x00\x01\x00", 0, "an ICO icon"),
    (b"8BPS", 0, "a Photoshop PSD"),
    (b"\x00\x00\x00\x0cjP  ", 0, "a JPEG 2000 image"),
    (b"\xff\x4f\xff\x51", 0, "a JPEG 2000 codestream"),
    (b"\xff\x0a", 0, "a JPEG XL image"),
    (b"\x00\x00\x00\x0cJXL ", 0, "a JPEG XL image"),
    (b"qoif", 0, "a QOI image"),
    (b"%PDF", 0, "a PDF document"),
    (b"PK\x03\x04", 0, "a ZIP archive"),
    (b"\x1f\x8b", 0, "a gzip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, "an MS Office (OLE) document"),
    (b"AT&TFORM", 0, "a DjVu document"),
)

_TEXT_MARKERS: tuple[tuple[bytes, str], ...] = (
    (b"<svg", "an SVG image"),
    (b"<?xml", "an XML document"),
    (b"<!doctype html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"<script", "an HTML page"),
    (b"{", "JSON text"),
    (b"[", "JSON text"),
)


def describe(head: bytes) -> str | None:
    """A short phrase for what `head` (a file's first bytes) looks like, if we know."""
    for signature, offset, name in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return name
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    for marker, name in _TEXT_MARKERS:
        if text.startswith(marker):
            return name
    return None
