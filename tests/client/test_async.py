"""`imghost.client.AsyncClient` against a real server: the same methods, answers, errors and
retries as `Client`, awaited."""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path

import pytest
import requests

from imghost.client import AsyncClient, File, ImghostError, RetryPolicy
from tests.client.conftest import SITE_PHOTO, rate_spent
from tests.client.test_client import described
from tests.conftest import Server, unique_png

pytestmark = pytest.mark.anyio


async def test_every_method(host: Server, key: str, site: str, tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(unique_png())
    async with AsyncClient(host.url, key) as imghost:
        from_path = await imghost.upload(path, expires_in=60)
        from_bytes = await imghost.upload(unique_png(), for_="openai-low")
        from_stream = await imghost.upload(io.BytesIO(unique_png()), filename="s.png")
        from_url = await imghost.upload_url(site + "/b.jpg", expires_in=0)
        encoded = unique_png()
        from_base64 = await imghost.upload_base64(base64.b64encode(encoded).decode())
        assert requests.get(from_base64.url, timeout=30).content == encoded

        assert isinstance(from_path, File)
        assert from_path.raw == described(host, key, from_path.id)
        assert from_path.filename == "a.png"
        assert from_path.created_at is not None
        assert from_path.expires_at == from_path.created_at + 60
        assert from_bytes.variants["openai-low"].bytes is not None
        assert from_stream.filename == "s.png"
        assert from_url.expires_at is None
        assert requests.get(from_url.url, timeout=30).content == SITE_PHOTO

        assert await imghost.get(from_bytes.id) == from_bytes
        made = (from_base64, from_url, from_stream, from_bytes, from_path)
        newest_first = [f.id for f in made]
        assert [file.id async for file in imghost.list(page_size=3)] == newest_first
        page = await imghost.list_page(limit=1, after=newest_first[0])
        assert [file.id for file in page.files] == newest_first[1:2]
        assert page.has_more

        assert await imghost.delete(from_path.id) is True
        with pytest.raises(ImghostError) as gone:
            await imghost.delete(from_path.id)
        assert (gone.value.status, gone.value.code) == (404, "file_not_found")
        assert gone.value.request_id


async def test_refusals_are_the_same_error(host: Server, key: str) -> None:
    async with AsyncClient(host.url, "sk-unknown") as stranger:
        with pytest.raises(ImghostError) as unknown:
            await stranger.list_page()
    assert (unknown.value.status, unknown.value.code) == (401, "invalid_api_key")
    async with AsyncClient(host.url, key) as imghost:
        with pytest.raises(ImghostError) as text:
            await imghost.upload(b"plain text " * 20)
    assert (text.value.status, text.value.code) == (415, "unsupported_type"), text.value.__cause__


async def test_a_429_is_retried_after_its_retry_after(host: Server) -> None:
    key, key_id = host.new_key()
    rate_spent(host, key_id, frees_in=2)
    started = time.monotonic()
    async with AsyncClient(host.url, key) as imghost:
        file = await imghost.upload(unique_png())
    assert 1 <= time.monotonic() - started < 10
    assert file.url

    rate_spent(host, key_id, frees_in=40)
    async with AsyncClient(host.url, key, retry=RetryPolicy(max_wait=5)) as imghost:
        with pytest.raises(ImghostError) as caught:
            await imghost.get(file.id)
    assert (caught.value.status, caught.value.code) == (429, "rate_limited")
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 5
