"""Options declared once, on a backend's settings class, are the run-time settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pytest

from imghost.options import SettingError, declared, integer, option, string_map, text
from imghost.settings.runtime import RUNTIME_SETTINGS, validate
from imghost.store.remote import RemoteSettings
from imghost.store.s3 import S3Settings

BACKEND_SETTINGS = {"s3": S3Settings, "remote": RemoteSettings}


@dataclasses.dataclass(frozen=True, slots=True)
class Example:
    size: int = option(3, "How many.", integer(1, 9))
    token: str = option("", "A secret.", text(10), secret=True)
    fields: Mapping[str, str] = option({}, "Extra fields.", string_map)


def test_a_settings_class_declares_its_settings_in_field_order() -> None:
    size, token, fields = declared(Example, "example.")
    assert (size.name, size.default, size.help) == ("example.size", 3, "How many.")
    assert not size.secret
    assert (token.name, token.default, token.secret) == ("example.token", "", True)
    assert (fields.name, fields.default) == ("example.fields", {})
    assert size.check("example.size", 9) == 9
    with pytest.raises(SettingError) as refused:
        size.check("example.size", 10)
    assert str(refused.value) == "example.size must be between 1 and 9"


def test_a_mutable_default_is_not_shared() -> None:
    first, second = Example(), Example()
    assert first.fields == second.fields == {}
    assert first.fields is not second.fields
    assert first.fields is not declared(Example, "")[2].default


@pytest.mark.parametrize("backend", BACKEND_SETTINGS)
def test_every_option_of_a_backend_is_a_setting_with_its_default(backend: str) -> None:
    prefix = f"storage.{backend}."
    settings = {s.name: s.default for s in RUNTIME_SETTINGS if s.name.startswith(prefix)}
    defaults = dataclasses.asdict(BACKEND_SETTINGS[backend]())
    assert settings == {prefix + name: value for name, value in defaults.items()}


def test_a_backend_option_is_checked_as_a_setting() -> None:
    assert validate({"storage.s3.presign_seconds": 60}) == {"storage.s3.presign_seconds": 60}
    with pytest.raises(SettingError) as refused:
        validate({"storage.remote.method": "GET"})
    assert str(refused.value) == "storage.remote.method must be one of POST, PUT"
