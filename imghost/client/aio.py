"""`AsyncClient`: `Client`'s twin for asyncio (and trio, through httpx and anyio)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import TypeVar

import anyio
import httpx

from imghost.client import calls
from imghost.client.calls import DEFAULT_TIMEOUT, Call, RetryPolicy, Uploadable
from imghost.client.errors import error_of, network_error
from imghost.client.models import File, Page

T = TypeVar("T")


class AsyncClient:
    """`Client` with `await`: the same methods, arguments, answers, errors and retries.

    An upload's file is read by httpx in 64 KiB chunks on the event loop: fine for local
    disks; wrap a slow network filesystem's file in a thread yourself if it matters.
    """

    def __init__(
        self,
        server: str,
        key: str,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        limits: httpx.Limits | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self._http = httpx.AsyncClient(
            **calls.client_options(server, key),
            timeout=timeout,
            limits=limits or httpx.Limits(),
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def upload(
        self,
        source: Uploadable,
        *,
        for_: str | None = None,
        expires_in: int | None = None,
        filename: str | None = None,
    ) -> File:
        call = calls.upload(source, for_, expires_in, filename)
        return await self._send(call, calls.file_of)

    async def upload_url(
        self, url: str, *, for_: str | None = None, expires_in: int | None = None
    ) -> File:
        return await self._send(calls.upload_url(url, for_, expires_in), calls.file_of)

    async def upload_base64(
        self,
        data: str,
        *,
        for_: str | None = None,
        expires_in: int | None = None,
        filename: str | None = None,
    ) -> File:
        call = calls.upload_base64(data, for_, expires_in, filename)
        return await self._send(call, calls.file_of)

    async def get(self, file_id: str) -> File:
        return await self._send(calls.get(file_id), calls.file_of)

    async def delete(self, file_id: str) -> bool:
        return await self._send(calls.delete(file_id), calls.deleted_of)

    async def list_page(self, *, limit: int | None = None, after: str | None = None) -> Page:
        return await self._send(calls.list_page(limit, after), calls.page_of)

    async def list(self, *, page_size: int | None = None) -> AsyncIterator[File]:
        """Every file, newest first, for `async for`: a page fetched when one is used up."""
        after = None
        while True:
            page = await self.list_page(limit=page_size, after=after)
            for file in page.files:
                yield file
            if not page.has_more or page.last_id is None:
                return
            after = page.last_id

    async def _send(self, call: Call, parse: Callable[[httpx.Response], T]) -> T:
        attempt = 1
        while True:
            try:
                with call.arguments() as arguments:
                    response = await self._http.request(call.method, call.path, **arguments)
            except httpx.RequestError as exc:
                raise network_error(exc) from exc
            if response.is_success:
                return parse(response)
            error = error_of(response)
            wait = self.retry.wait(call, error, attempt)
            if wait is None:
                raise error
            await anyio.sleep(wait)
            attempt += 1
