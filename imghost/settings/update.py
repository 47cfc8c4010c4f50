"""Changing run-time settings: validated together, storage checked live, saved all or none."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from imghost.repo.base import Repo
from imghost.settings.runtime import validate, with_defaults, without_redacted
from imghost.store.base import StoreUnavailable
from imghost.store.registry import build_store


class StorageCheckFailed(Exception):
    """The storage settings as changed do not give a store that can be written and read."""


def update_settings(repo: Repo, changes: Mapping[str, Any], data_dir: Path) -> dict[str, Any]:
    """Apply `changes`; returns every setting's new value.

    Raises SettingError for a bad value (naming it) and StorageCheckFailed when the storage
    the changes select cannot be written now; in both cases nothing is saved.
    """
    checked = validate(without_redacted(changes))
    current = with_defaults(repo.get_settings())
    merged = {**current, **checked}
    if any(name.startswith("storage.") for name in checked):
        try:
            build_store(merged["storage.backend"], merged, data_dir).check()
        except StoreUnavailable as exc:
            backend = merged["storage.backend"]
            raise StorageCheckFailed(f"the {backend} store failed its check: {exc}") from exc
    repo.put_settings(checked)
    return merged
