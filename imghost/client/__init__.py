"""A typed Python client for imghost's `/v1` API, sync and async.

    from imghost.client import Client

    with Client("https://img.example.com", "sk-…") as imghost:
        file = imghost.upload("cat.png", for_="claude")
        block = file.content_block("anthropic", preset="claude")

It imports nothing of the server: `pip install imghost` and this package is all a caller
needs (httpx is its only dependency).
"""

from imghost.client.aio import AsyncClient
from imghost.client.calls import RETRY_STATUSES, RetryPolicy, Uploadable
from imghost.client.errors import ImghostError
from imghost.client.models import BLOCK_KINDS, BlockKind, Estimate, File, Page, Variant, Vision
from imghost.client.sync import Client

__all__ = [
    "BLOCK_KINDS",
    "RETRY_STATUSES",
    "AsyncClient",
    "BlockKind",
    "Client",
    "Estimate",
    "File",
    "ImghostError",
    "Page",
    "RetryPolicy",
    "Uploadable",
    "Variant",
    "Vision",
]
