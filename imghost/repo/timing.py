"""Every database statement timed, by dialect and kind, for `/metrics`."""

from __future__ import annotations

from time import perf_counter
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine.interfaces import DBAPICursor, ExecutionContext

from imghost.process.metrics import DB_LATENCY


def time_statements(engine: Engine) -> None:
    """Time every statement `engine` runs to completion, by dialect and kind."""
    dialect = engine.dialect.name
    other = DB_LATENCY.labels(dialect, "other")
    # The kinds told apart are all six letters long, so six characters decide: no scan of
    # the statement, no regular expression, on every query.
    kinds = {
        kind.upper(): DB_LATENCY.labels(dialect, kind)
        for kind in ("select", "insert", "update", "delete")
    }

    def started(
        conn: Connection,
        cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None,
        executemany: bool,
    ) -> tuple[str, Any]:
        if context is not None:
            timer = kinds.get(statement[:6].upper(), other)
            context.imghost_timing = (timer, perf_counter())  # type: ignore[attr-defined]
        return statement, parameters

    def finished(
        conn: Connection,
        cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None,
        executemany: bool,
    ) -> None:
        if context is not None:
            timer, since = context.imghost_timing  # type: ignore[attr-defined]
            timer.observe(perf_counter() - since)

    # retval: answering the statement as given spares SQLAlchemy wrapping the listener.
    event.listen(engine, "before_cursor_execute", started, retval=True)
    event.listen(engine, "after_cursor_execute", finished)
