"""Start-up settings: defaults, then an optional TOML file, then `IMGHOST_*`, then CLI flags.

Run-time settings (storage, limits, public URL…) live in the database instead: see
`imghost.settings.runtime`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class StartupSetting:
    name: str
    default: str
    help: str

    @property
    def env(self) -> str:
        return "IMGHOST_" + self.name.upper()


STARTUP_SETTINGS: tuple[StartupSetting, ...] = (
    StartupSetting("config", "", "Path of an optional TOML file holding any of these settings."),
    StartupSetting("data_dir", "./data", "Folder for the SQLite database and the local store."),
    StartupSetting(
        "database_url",
        "sqlite:///{data_dir}/imghost.db",
        "SQLAlchemy URL of the metadata database; `postgresql://…` selects PostgreSQL.",
    ),
    StartupSetting(
        "redis_url", "", "Redis URL for shared counters; empty keeps counters in the database."
    ),
    StartupSetting(
        "admin_key",
        "",
        "An `sk-…` admin key to create at start-up; empty generates one on the first start "
        "and prints it once.",
    ),
    StartupSetting("host", "127.0.0.1", "Address to listen on."),
    StartupSetting("port", "8000", "TCP port to listen on."),
    StartupSetting("workers", "{cpu_count}", "Number of worker processes."),
    StartupSetting(
        "cache_mb",
        "1024",
        "MiB of disk under `{data_dir}/cache` for copies of images served through a proxying "
        "store (S3 `proxy` mode, `remote`), least recently used dropped first; 0 turns it off.",
    ),
    StartupSetting(
        "public_url",
        "http://{host}:{port}",
        "Base of every returned image URL until the run-time setting `public_url` is set.",
    ),
)


@dataclass(frozen=True, slots=True)
class Config:
    data_dir: Path
    database_url: str
    redis_url: str
    admin_key: str
    host: str
    port: int
    workers: int
    public_url: str
    cache_mb: int

    @property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"

    def as_env(self) -> dict[str, str]:
        """The same configuration as `IMGHOST_*` variables, for worker processes."""
        return {"IMGHOST_" + f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}


class ConfigError(ValueError):
    """A start-up setting that cannot be used; the message names it."""


def load_config(
    flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Resolve the start-up settings in order: defaults → TOML file → environment → flags."""
    environ = os.environ if environ is None else environ
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    known = {s.name for s in STARTUP_SETTINGS}
    unknown = set(flags) - known
    if unknown:
        raise ConfigError(f"unknown start-up setting(s): {', '.join(sorted(unknown))}")

    values: dict[str, str] = {}
    config_file = flags.get("config") or environ.get("IMGHOST_CONFIG", "")
    if config_file:
        values.update(_read_toml(Path(config_file), known))
    for setting in STARTUP_SETTINGS:
        if setting.env in environ:
            values[setting.name] = environ[setting.env]
    values.update({k: str(v) for k, v in flags.items()})
    return _build(values)


def _read_toml(path: Path, known: set[str]) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc}") from exc
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
    return {k: str(v) for k, v in data.items()}


def _build(values: Mapping[str, str]) -> Config:
    def get(name: str) -> str:
        if name in values:
            return values[name]
        return next(s.default for s in STARTUP_SETTINGS if s.name == name)

    data_dir = Path(get("data_dir")).expanduser().resolve()
    host = get("host")
    port = _as_int("port", get("port"), 0, 65535)
    workers = _as_int("workers", get("workers").format(cpu_count=os.cpu_count() or 1), 1, 256)
    database_url = get("database_url").format(data_dir=data_dir)
    public_url = get("public_url").format(host=_url_host(host), port=port).rstrip("/")
    admin_key = get("admin_key")
    if admin_key and not admin_key.startswith("sk-"):
        raise ConfigError("admin_key must start with 'sk-'")
    return Config(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=get("redis_url"),
        admin_key=admin_key,
        host=host,
        port=port,
        workers=workers,
        public_url=public_url,
        cache_mb=_as_int("cache_mb", get("cache_mb"), 0, 2**40),
    )


def _as_int(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
