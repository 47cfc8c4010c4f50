"""The app in this process through httpx's ASGI transport, its lifespan run as a server runs it:
the fast tier, for what needs no server process, and for faults that a real server cannot be
made to have at a chosen point of a request."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from sqlalchemy import func, select

from imghost.app import create_app
from imghost.http.services import Services
from imghost.keys import issue_key
from imghost.repo.base import RepoUnavailable
from imghost.repo.schema import uploads
from imghost.repo.sql import SqlRepo
from imghost.settings.runtime import validate, with_defaults
from imghost.settings.startup import load_config
from imghost.store.base import Store
from imghost.store.registry import Stores


class OneStore(Stores):
    """Every backend name answered by one store: whatever the storage settings say, the app's
    uploads and reads all go to it."""

    def __init__(self, store: Store, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.store = store

    def get(self, backend: str, settings: Mapping[str, Any]) -> Store:
        return self.store


class App:
    """One app on a data folder of its own, with a user key; `async with` runs its lifespan."""

    def __init__(
        self,
        data_dir: Path,
        store: Store | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        config = load_config({"data_dir": str(data_dir)}, environ={})
        data_dir.mkdir(parents=True, exist_ok=True)
        setup = SqlRepo.connect(config.database_url, migrate=True)
        setup.put_settings(validate(settings or {}))
        self.key, record = issue_key(setup, with_defaults({}), name="in-process", role="user")
        self.key_id = record.id
        setup.close()
        self.data_dir = data_dir
        self.asgi = create_app(config, None if store is None else OneStore(store, data_dir))
        self.starlette = self.asgi.starlette
        self.services: Services = self.starlette.state.services
        self._lifespan = self.starlette.router.lifespan_context(self.starlette)

    async def __aenter__(self) -> App:
        await self._lifespan.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._lifespan.__aexit__(exc_type, exc, traceback)

    def client(self, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.asgi, raise_app_exceptions=raise_app_exceptions)
        return httpx.AsyncClient(transport=transport, base_url="http://imghost.test")

    def fail_repo(self, method: str) -> None:
        """Make one Repo method fail as a database that went away does."""

        def unavailable(*_args: Any, **_kwargs: Any) -> Any:
            raise RepoUnavailable("connection refused")

        setattr(self.services.repo, method, unavailable)

    def upload_rows(self) -> int:
        """Upload records in any state: a pending one is something an upload left too."""
        with self.services.repo.engine.connect() as conn:  # type: ignore[attr-defined]
            return conn.execute(select(func.count()).select_from(uploads)).scalar_one()

    def spooled(self) -> list[Path]:
        """The files in this app's spool folder: what uploads in flight hold, or left."""
        return sorted(p for p in self.services.spool_dir.rglob("*") if p.is_file())
