"""Run-time settings as data: a name, a default, a help string and a check of the values each
may take.

The settings table (`imghost.settings.runtime`) is made of them. A storage backend declares its
own options on its settings class, each field with `option()`, so that an option's name,
default and help are written once, beside the code that reads it; `declared()` turns the class
into settings. This module imports nothing of imghost's, so that backends can use it.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

Check = Callable[[str, Any], Any]


class SettingError(ValueError):
    """A value a setting cannot take; the message names the setting and says why."""


@dataclasses.dataclass(frozen=True, slots=True)
class RuntimeSetting:
    name: str
    default: Any
    help: str
    check: Check
    secret: bool = False


def option(default: Any, help: str, check: Check, *, secret: bool = False) -> Any:
    """A settings-class field with `default` that is also a setting (see `declared`)."""
    about = {"help": help, "check": check, "secret": secret}
    if isinstance(default, dict | list):
        # Each instance gets its own copy, as a dataclass requires of a mutable default.
        factory = functools.partial(copy.copy, default)
        return dataclasses.field(default_factory=factory, metadata=about)
    return dataclasses.field(default=default, metadata=about)


def declared(settings_class: type, prefix: str) -> tuple[RuntimeSetting, ...]:
    """The fields of a settings class made with `option()`, as the settings `prefix + name`."""
    return tuple(
        RuntimeSetting(
            prefix + field.name,
            _default_of(field),
            field.metadata["help"],
            field.metadata["check"],
            field.metadata["secret"],
        )
        for field in dataclasses.fields(settings_class)
    )


def _default_of(field: dataclasses.Field[Any]) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def integer(low: int, high: int) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingError(f"{name} must be a whole number")
        if not low <= value <= high:
            raise SettingError(f"{name} must be between {low} and {high}")
        return value

    return check


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SettingError(f"{name} must be true or false")
    return value


def text(max_length: int = 1000) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise SettingError(f"{name} must be a string")
        if len(value) > max_length or any(ord(ch) < 32 for ch in value):
            raise SettingError(f"{name} must be one line of at most {max_length} characters")
        return value

    return check


def url(name: str, value: Any) -> str:
    """An http(s) base URL, or "" for none; a trailing slash is dropped."""
    value = text()(name, value)
    if value == "":
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingError(f"{name} must be an http(s) URL like https://img.example.com")
    return value.rstrip("/")


def choice(*allowed: str) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if value not in allowed:
            raise SettingError(f"{name} must be one of {', '.join(allowed)}")
        return value

    return check


def string_map(name: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise SettingError(f'{name} must be an object of string values, e.g. {{"album": "1"}}')
    return value


def list_of(item: Check) -> Callable[[str, Any], list[Any]]:
    def check(name: str, value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise SettingError(f"{name} must be a list")
        return [item(f"{name}[{index}]", element) for index, element in enumerate(value)]

    return check


def json_path(name: str, value: Any) -> str:
    value = text(200)(name, value)
    if not value or any(part == "" for part in value.split(".")):
        raise SettingError(f"{name} must be a dotted path like data, data.url or 0.src")
    return value
