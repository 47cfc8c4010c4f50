"""`imghost keys`: create, update, list, revoke, disable and enable API keys."""

from __future__ import annotations

import time
from typing import Any

import click

from imghost.cli.common import config_option, data_dir_option, migrated_repo, startup_config
from imghost.keys import issue_key, normalise_cidrs
from imghost.settings.runtime import with_defaults


@click.group()
def keys() -> None:
    """Create, list and revoke API keys."""


def _cidrs(values: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return normalise_cidrs(values)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--allow-ip") from exc


quota_option = click.option(
    "--quota-mb", type=click.FloatRange(min=0), help="Rolling 24 h upload quota in MB (0: none)."
)
rpm_option = click.option(
    "--rpm", type=click.IntRange(min=0), help="Requests per minute (0: none)."
)
allow_ip_option = click.option(
    "--allow-ip", multiple=True, help="CIDR the key may be used from (repeatable; none: any)."
)


@keys.command("create")
@config_option
@data_dir_option
@click.option("--name", required=True, help="Who or what the key is for.")
@click.option("--admin", is_flag=True, help="Give the key the admin role.")
@click.option(
    "--expires-in", type=click.FloatRange(min=0, min_open=True), help="Days until it expires."
)
@quota_option
@rpm_option
@allow_ip_option
def keys_create(
    name: str,
    admin: bool,
    expires_in: float | None,
    quota_mb: float | None,
    rpm: int | None,
    allow_ip: tuple[str, ...],
    **flags: Any,
) -> None:
    """Create a key; the key itself is printed alone on the last line, once.

    User keys get the `quota.*` settings as their limits unless given; admin keys get none.
    """
    repo = migrated_repo(startup_config(**flags))
    key, record = issue_key(
        repo,
        with_defaults(repo.get_settings()),
        name=name,
        role="admin" if admin else "user",
        expires_at=time.time() + expires_in * 86400 if expires_in else None,
        daily_bytes=None if quota_mb is None else _bytes(quota_mb),
        rpm=rpm,
        allow_ips=_cidrs(allow_ip),
    )
    click.echo(f"created {record.role} key {record.id} ({record.name}); it is shown only now:")
    click.echo(key)


def _bytes(megabytes: float) -> int:
    return round(megabytes * 1_000_000)


@keys.command("update")
@config_option
@data_dir_option
@click.argument("key_id")
@click.option("--name", help="A new name.")
@click.option(
    "--expires-in", type=click.FloatRange(min=0), help="Days from now until it expires (0: never)."
)
@quota_option
@rpm_option
@allow_ip_option
def keys_update(
    key_id: str,
    name: str | None,
    expires_in: float | None,
    quota_mb: float | None,
    rpm: int | None,
    allow_ip: tuple[str, ...],
    **flags: Any,
) -> None:
    """Change a key's name, expiry or limits."""
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name
    if expires_in is not None:
        changes["expires_at"] = time.time() + expires_in * 86400 if expires_in else None
    if quota_mb is not None:
        changes["daily_bytes"] = _bytes(quota_mb)
    if rpm is not None:
        changes["rpm"] = rpm
    if allow_ip:
        changes["allow_ips"] = _cidrs(allow_ip)
    record = migrated_repo(startup_config(**flags)).update_key(key_id, **changes)
    if record is None:
        raise click.ClickException(f"no key with id {key_id}")
    click.echo(f"updated {record.id}: quota {record.daily_bytes} bytes/24 h, {record.rpm} rpm")


@keys.command("list")
@config_option
@data_dir_option
def keys_list(**flags: Any) -> None:
    """List keys (never the keys themselves)."""
    for key in migrated_repo(startup_config(**flags)).list_keys():
        expires = time.strftime("%Y-%m-%d", time.gmtime(key.expires_at)) if key.expires_at else "-"
        state = "enabled" if key.enabled else "disabled"
        click.echo(f"{key.id}\t{key.prefix}…\t{key.role}\t{state}\texpires {expires}\t{key.name}")


@keys.command("revoke")
@config_option
@data_dir_option
@click.argument("key_id")
def keys_revoke(key_id: str, **flags: Any) -> None:
    """Delete a key by its id; requests with it fail from now on."""
    if not migrated_repo(startup_config(**flags)).delete_key(key_id):
        raise click.ClickException(f"no key with id {key_id}")
    click.echo(f"revoked {key_id}")


@keys.command("disable")
@config_option
@data_dir_option
@click.argument("key_id")
def keys_disable(key_id: str, **flags: Any) -> None:
    """Disable a key: requests with it answer 403 until it is enabled again."""
    _set_enabled(key_id, False, flags)


@keys.command("enable")
@config_option
@data_dir_option
@click.argument("key_id")
def keys_enable(key_id: str, **flags: Any) -> None:
    """Enable a disabled key."""
    _set_enabled(key_id, True, flags)


def _set_enabled(key_id: str, enabled: bool, flags: dict[str, Any]) -> None:
    if not migrated_repo(startup_config(**flags)).set_key_enabled(key_id, enabled):
        raise click.ClickException(f"no key with id {key_id}")
    click.echo(f"{'enabled' if enabled else 'disabled'} {key_id}")
