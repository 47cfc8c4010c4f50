"""`Client`: imghost's `/v1` API from synchronous Python, on httpx."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TypeVar

import httpx

from imghost.client import calls
from imghost.client.calls import DEFAULT_TIMEOUT, Call, RetryPolicy, Uploadable
from imghost.client.errors import error_of, network_error
from imghost.client.models import File, Page

T = TypeVar("T")


class Client:
    """A session with one imghost server and key; thread-safe, so one may serve many threads.

    Every method raises `ImghostError` for a refusal or a network failure, after the retries
    `retry` allows (see `RetryPolicy`). Use it as a context manager, or call `close()`.
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
        self._http = httpx.Client(
            **calls.client_options(server, key),
            timeout=timeout,
            limits=limits or httpx.Limits(),
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def upload(
        self,
        source: Uploadable,
        *,
        for_: str | None = None,
        expires_in: int | None = None,
        filename: str | None = None,
    ) -> File:
        """Upload a file (a path, bytes or a binary file object). `for_` names a preset
        (`claude`, `openai`…) whose variant is made before the answer; `expires_in` is the
        lifetime in seconds (0: forever, None: the server's default)."""
        call = calls.upload(source, for_, expires_in, filename)
        return self._send(call, calls.file_of)

    def upload_url(
        self, url: str, *, for_: str | None = None, expires_in: int | None = None
    ) -> File:
        """Have the server fetch `url` and host the image it finds there."""
        return self._send(calls.upload_url(url, for_, expires_in), calls.file_of)

    def upload_base64(
        self,
        data: str,
        *,
        for_: str | None = None,
        expires_in: int | None = None,
        filename: str | None = None,
    ) -> File:
        """Upload an image sent as base64 text: a data URL (`data:image/png;base64,…`) or bare
        base64, URL-safe or wrapped; the server decodes it."""
        call = calls.upload_base64(data, for_, expires_in, filename)
        return self._send(call, calls.file_of)

    def get(self, file_id: str) -> File:
        return self._send(calls.get(file_id), calls.file_of)

    def delete(self, file_id: str) -> bool:
        """Delete the upload: its URL answers 404 at once. True when the server deleted it."""
        return self._send(calls.delete(file_id), calls.deleted_of)

    def list_page(self, *, limit: int | None = None, after: str | None = None) -> Page:
        """One page of this key's files (every key's for an admin key), newest first."""
        return self._send(calls.list_page(limit, after), calls.page_of)

    def list(self, *, page_size: int | None = None) -> Iterator[File]:
        """Every file, newest first: a lazy iterator that fetches a page (`page_size`, the
        server's default 20, at most 100) when the previous one is used up."""
        after = None
        while True:
            page = self.list_page(limit=page_size, after=after)
            yield from page.files
            if not page.has_more or page.last_id is None:
                return
            after = page.last_id

    def _send(self, call: Call, parse: Callable[[httpx.Response], T]) -> T:
        attempt = 1
        while True:
            try:
                with call.arguments() as arguments:
                    response = self._http.request(call.method, call.path, **arguments)
            except httpx.RequestError as exc:
                raise network_error(exc) from exc
            if response.is_success:
                return parse(response)
            error = error_of(response)
            wait = self.retry.wait(call, error, attempt)
            if wait is None:
                raise error
            time.sleep(wait)
            attempt += 1
