"""`imghost mcp`: imghost's uploads as MCP tools for agents, on the official SDK and the client.

Each tool call opens an `AsyncClient` of its own, so a call never depends on another's
connection, whichever transport runs the server. Every failure the agent can act on (imghost's
refusal, a refused path, a bad argument) is a tool error carrying the message and code; any
other exception is the SDK's generic "Error executing tool", never a traceback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from imghost.client import BLOCK_KINDS, AsyncClient, File, ImghostError
from imghost.mcp_server.paths import AllowedDirs, PathRefused

# The server's presets (imghost/vision/presets.py; a test holds this text to that table).
PRESETS_HELP = (
    "openai (OpenAI high detail, fit 2048 px, short side 768), openai-low (OpenAI low "
    "detail, 512 px), claude (Anthropic, 1568 px), claude-hires (Anthropic high-res, Opus 4.7 "
    "and later, 2576 px), gemini (3072 px), kling (Kling image-to-video: padded to its size "
    "and aspect limits), runway (Runway image-to-video)"
)
LIFETIME_HELP = (
    "Seconds the URL lives (1 up to the server's maximum, 30 days by default); 0 keeps it "
    "forever if the server allows; omit it for the server's default (72 hours unless "
    "configured). After that the URL answers 404."
)
PUBLIC_HELP = (
    "The URL is public: anyone who has it can fetch the image until it expires or is deleted, "
    "so upload only what the user means to share with a model."
)
INSTRUCTIONS = (
    "imghost turns images into public URLs that model APIs (OpenAI, Anthropic, Gemini, Kling, "
    f"Runway) can fetch, with a variant sized for each provider. {PUBLIC_HELP}"
)

PRESET_HELP = f"Make the variant for one model preset now and answer its URL: {PRESETS_HELP}."
Preset = Annotated[str | None, Field(description=PRESET_HELP)]
Lifetime = Annotated[int | None, Field(description=LIFETIME_HELP, ge=0)]
FileId = Annotated[str, Field(description="The upload's id (file-…), as upload_image answered.")]


def summary(file: File, preset: str | None) -> dict[str, Any]:
    """What an agent needs of an upload: the URL to use (the preset's variant when one was
    asked for), every variant's URL, token estimates, warnings and ready content blocks."""
    if preset is not None and preset not in file.variants:
        raise ToolError(f"The server lists no {preset!r} variant; the presets: {PRESETS_HELP}.")
    vision = file.vision
    estimates = {} if vision is None else {m: e.tokens for m, e in vision.estimates.items()}
    return {
        "id": file.id,
        "image_url": file.url_for(preset),
        "url": file.url,
        "preset": preset,
        "mime_type": file.mime_type,
        "width": file.width,
        "height": file.height,
        "bytes": file.bytes,
        "filename": file.filename,
        "created_at": file.created_at,
        "expires_at": file.expires_at,
        "variants": {name: variant.url for name, variant in file.variants.items()},
        "token_estimates": estimates,
        "warnings": [] if vision is None else list(vision.warnings),
        "content_blocks": {kind: file.content_block(kind, preset) for kind in BLOCK_KINDS},
    }


def build(server: str, key: str, allowed: AllowedDirs) -> MCPServer:
    """An MCP server whose tools talk to the imghost at `server` with `key`."""
    app = MCPServer("imghost", instructions=INSTRUCTIONS)

    @asynccontextmanager
    async def imghost() -> AsyncIterator[AsyncClient]:
        try:
            async with AsyncClient(server, key) as client:
                yield client
        except ImghostError as error:
            # str() is "message (status code)": what went wrong and its stable code.
            raise ToolError(f"imghost: {error}") from error
        except PathRefused as refused:
            raise ToolError(f"Refused: {refused} (path_not_allowed)") from refused

    @app.tool(
        description=(
            "Upload an image to imghost and get a public URL to give a model. Send exactly one "
            "of: path (a local file, only inside the folders the user allowed), url (an "
            "http(s) image to re-host), base64 (a data URL or bare base64). Answers image_url "
            "(the URL to use: the preset's variant when `preset` is set), the original's url, "
            "every variant's URL, token estimates per model, warnings (why a provider may "
            "refuse it) and ready content blocks for openai-chat, openai-responses, anthropic "
            f"and gemini. {PUBLIC_HELP}"
        )
    )
    async def upload_image(
        path: Annotated[str | None, Field(description="A local image file.")] = None,
        url: Annotated[str | None, Field(description="An image's http(s) URL.")] = None,
        base64: Annotated[str | None, Field(description="The image as base64.")] = None,
        preset: Preset = None,
        expires_in: Lifetime = None,
        filename: Annotated[str | None, Field(description="A name to show for it.")] = None,
    ) -> dict[str, Any]:
        if sum(1 for source in (path, url, base64) if source) != 1:
            raise ToolError("Send exactly one of path, url or base64 (invalid_arguments).")
        async with imghost() as client:
            if path:
                real = allowed.check(path)
                file = await client.upload(
                    real, for_=preset, expires_in=expires_in, filename=filename
                )
            elif url:
                file = await client.upload_url(url, for_=preset, expires_in=expires_in)
            else:
                assert base64 is not None
                file = await client.upload_base64(
                    base64, for_=preset, expires_in=expires_in, filename=filename
                )
        return summary(file, preset)

    @app.tool(
        description=(
            "Describe one upload: its URL, variants, token estimates, warnings, lifetime and "
            "content blocks (for `preset`'s variant if given)."
        )
    )
    async def describe_upload(file_id: FileId, preset: Preset = None) -> dict[str, Any]:
        async with imghost() as client:
            file = await client.get(file_id)
        return summary(file, preset)

    @app.tool(description="List this key's live uploads, newest first: id, url, name, expiry.")
    async def list_uploads(
        limit: Annotated[int, Field(ge=1, le=100, description="How many (1-100).")] = 20,
        after: Annotated[str | None, Field(description="The last id of the page before.")] = None,
    ) -> dict[str, Any]:
        async with imghost() as client:
            page = await client.list_page(limit=limit, after=after)
        uploads = [
            {
                "id": file.id,
                "url": file.url,
                "filename": file.filename,
                "created_at": file.created_at,
                "expires_at": file.expires_at,
            }
            for file in page.files
        ]
        return {"uploads": uploads, "has_more": page.has_more}

    @app.tool(
        description=(
            "Delete an upload: its URL and its variants' URLs answer 404 at once. Cannot be undone."
        )
    )
    async def delete_upload(file_id: FileId) -> dict[str, Any]:
        async with imghost() as client:
            deleted = await client.delete(file_id)
        return {"id": file_id, "deleted": deleted}

    return app
