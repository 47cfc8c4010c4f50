"""PostgreSQL for tests: the CI server named by IMGHOST_TEST_POSTGRES_URL, one schema per user."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get("IMGHOST_TEST_POSTGRES_URL", "")
NO_POSTGRES = "PostgreSQL tests need IMGHOST_TEST_POSTGRES_URL (set by .ci/run)"


@contextlib.contextmanager
def postgres_schema_url(base_url: str) -> Iterator[str]:
    """A schema of the caller's own on the given PostgreSQL, dropped afterwards."""
    schema = "imghost_test_" + secrets.token_hex(6)
    admin = create_engine(make_url(base_url).set(drivername="postgresql+psycopg"))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield str(make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"}))
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
