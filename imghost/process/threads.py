"""Blocking work (database, stores, image checks) off the event loop, on this process's pool.

Starlette's `run_in_threadpool` runs on AnyIO's worker threads, which are not daemons and are
told to stop only when the task that started each one finishes. A worker process whose request
task was still pending when granian stopped it then waited for such a thread forever at
interpreter exit: about one SIGTERM in ten, after clients dropped connections mid-upload, never
ended `imghost serve`. A `concurrent.futures` pool is told to stop at exit whatever its callers'
state, so its idle threads always let the process go.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_T = TypeVar("_T")
_THREADS = 40  # AnyIO's default, which the app was tuned with
_END = object()

_pool: ThreadPoolExecutor | None = None
_pool_pid = 0


def _executor() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    # A forked worker has none of its parent's threads: it makes its own pool.
    if _pool is None or _pool_pid != os.getpid():
        _pool = ThreadPoolExecutor(_THREADS, thread_name_prefix="imghost")
        _pool_pid = os.getpid()
    return _pool


async def run_blocking(function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """`function(*args, **kwargs)` on the pool; a cancelled caller still waits for it to end."""
    call = functools.partial(function, *args, **kwargs)
    future = asyncio.get_running_loop().run_in_executor(_executor(), call)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        # A running thread cannot be stopped. Waiting it out, as AnyIO does, keeps the caller's
        # clean-up (deleting a spool file, say) from racing work that still uses it.
        with contextlib.suppress(Exception):
            await future
        raise


async def iterate_blocking(iterator: Iterator[_T]) -> AsyncIterator[_T]:
    """Each item of a blocking iterator, fetched on the pool."""
    while (item := await run_blocking(next, iterator, _END)) is not _END:
        yield item  # type: ignore[misc]
