"""Start-up settings resolve in order and every setting is documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from imghost.settings.runtime import RUNTIME_SETTINGS
from imghost.settings.startup import STARTUP_SETTINGS, ConfigError, load_config
from scripts.readme_tables import render

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults(tmp_path: Path) -> None:
    config = load_config({"data_dir": str(tmp_path)}, environ={})
    assert config.data_dir == tmp_path
    assert config.database_url == f"sqlite:///{tmp_path}/imghost.db"
    assert (config.host, config.port) == ("127.0.0.1", 8000)
    assert config.public_url == "http://127.0.0.1:8000"
    assert config.workers >= 1


def test_order_is_defaults_toml_env_flags(tmp_path: Path) -> None:
    toml = tmp_path / "imghost.toml"
    toml.write_text('port = 9001\nhost = "0.0.0.0"\nworkers = 3\n')
    environ = {"IMGHOST_CONFIG": str(toml), "IMGHOST_PORT": "9002"}
    config = load_config({"workers": 5}, environ=environ)
    assert (config.host, config.port, config.workers) == ("0.0.0.0", 9002, 5)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"port": "eighty"}, "port must be a whole number"),
        ({"port": "70000"}, "port must be between"),
        ({"admin_key": "hunter2"}, "admin_key must start with 'sk-'"),
        ({"config": "/nonexistent.toml"}, "cannot read the config file"),
    ],
)
def test_bad_values_name_the_setting(flags: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(flags, environ={})


def test_unknown_toml_keys_are_refused(tmp_path: Path) -> None:
    toml = tmp_path / "imghost.toml"
    toml.write_text("prot = 1\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config({"config": str(toml)}, environ={})


def test_readme_settings_tables_are_generated_from_the_settings() -> None:
    readme = README.read_text()
    assert render(readme) == readme, (
        "run `python scripts/readme_tables.py` to regenerate README tables"
    )


def test_every_setting_appears_in_the_readme() -> None:
    readme = README.read_text()
    for setting in STARTUP_SETTINGS:
        assert f"| `{setting.name}` | `{setting.env}` |" in readme
    for runtime in RUNTIME_SETTINGS:
        assert f"| `{runtime.name}` |" in readme
