"""Which local files an agent may upload: only regular files inside the allowed folders.

An agent decides the path, so a prompt injected into anything it read could ask it to upload
`~/.ssh/id_rsa` to a public URL. Every path is resolved first (symlinks followed, `..`
collapsed), and the real file must lie inside an allowed folder, itself resolved.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


class PathRefused(Exception):
    """The path is outside the allowed folders, or not a readable regular file."""


class AllowedDirs:
    def __init__(self, folders: Iterable[str | os.PathLike[str]]) -> None:
        self.folders = tuple(Path(folder).expanduser().resolve(strict=True) for folder in folders)
        if not self.folders:
            raise ValueError("at least one allowed folder is needed")

    def check(self, given: str) -> Path:
        """The real path of `given` (relative to the working folder), if it may be uploaded."""
        try:
            real = Path(given).expanduser().resolve(strict=True)
        except (OSError, RuntimeError) as exc:  # missing, unreadable, or a symlink loop
            reason = getattr(exc, "strerror", None) or exc
            raise PathRefused(f"cannot read {given!r}: {reason}") from exc
        if not any(real.is_relative_to(folder) for folder in self.folders):
            allowed = ", ".join(str(folder) for folder in self.folders)
            raise PathRefused(
                f"{given!r} is outside the folders this server may upload from ({allowed}); "
                "the user can allow more with --allow-dir."
            )
        if not real.is_file():
            raise PathRefused(f"{given!r} is not a regular file.")
        return real
