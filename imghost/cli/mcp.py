"""`imghost mcp`: the MCP server for agents, over stdio or streamable HTTP."""

from __future__ import annotations

from pathlib import Path

import click

from imghost.cli.common import key_option, server_option

DEFAULT_PORT = 8765


def default_folder() -> Path:
    """The working folder, unless it holds the home folder: a desktop app may start its MCP
    servers in `/` or `~`, and allowing those would let an agent upload `~/.ssh`."""
    here, home = Path.cwd().resolve(), Path.home().resolve()
    if home.is_relative_to(here):
        raise click.UsageError(
            f"the working folder {here} holds your home folder; name the folders an agent may "
            "upload from with --allow-dir (e.g. --allow-dir ~/Pictures/Screenshots)."
        )
    return here


@click.command("mcp")
@click.option(
    "--http",
    "over_http",
    is_flag=True,
    help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address for --http. Anyone who reaches it uploads with your key: keep it local.",
)
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option(
    "--allow-dir",
    "allow_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="A folder whose files an agent may upload (repeatable; default: the working folder).",
)
@server_option
@key_option
def mcp(
    over_http: bool,
    host: str,
    port: int,
    allow_dirs: tuple[str, ...],
    server: str,
    key: str | None,
) -> None:
    """Run an MCP server whose tools upload images to imghost (upload_image, describe_upload,
    list_uploads, delete_upload), for Claude Desktop, Claude Code, Cursor and other agents."""
    if not key:
        raise click.UsageError("no API key: pass --key sk-… or set IMGHOST_KEY.")
    # Imported here: the SDK is heavy, and no other command needs it.
    from imghost.mcp_server.paths import AllowedDirs
    from imghost.mcp_server.tools import build

    app = build(server, key, AllowedDirs(allow_dirs or (default_folder(),)))
    if over_http:
        app.run("streamable-http", host=host, port=port)
    else:
        app.run("stdio")
