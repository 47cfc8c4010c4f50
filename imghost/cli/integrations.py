"""`imghost integrations sharex|upic|picgo`: write a screenshot tool's uploader configuration."""

from __future__ import annotations

import json
from typing import TextIO

import click

from imghost.integrations import TOOLS
from imghost.vision.presets import PRESETS


@click.command()
@click.argument("tool", type=click.Choice(sorted(TOOLS)))
@click.option("--server", envvar="IMGHOST_SERVER", show_envvar=True, required=True)
@click.option("--key", envvar="IMGHOST_KEY", show_envvar=True, required=True)
@click.option(
    "--for",
    "preset",
    type=click.Choice(list(PRESETS)),
    help="Answer the URL of this preset's variant instead of the original.",
)
@click.option(
    "-o", "--output", type=click.File("w"), default="-", help="Where to write it (default stdout)."
)
def integrations(tool: str, server: str, key: str, preset: str | None, output: TextIO) -> None:
    """Write a ready uploader configuration for a screenshot tool (it holds the key)."""
    json.dump(TOOLS[tool](server, key, preset), output, indent=2)
    output.write("\n")
