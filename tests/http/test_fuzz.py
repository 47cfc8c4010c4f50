"""Every route of `/openapi.json` fuzzed by schemathesis against a real server of its own (the
fuzzer changes settings and keys): no input may answer 5xx, and every documented answer must
match its schema. Bounded in examples per route, so it runs in the normal test run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import Server, auth

EXAMPLES_PER_ROUTE = 25


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    instance = Server(tmp_path_factory.mktemp("fuzzed") / "data", workers=1).start()
    yield instance
    instance.stop()


def operations(server: Server) -> list[APIOperation]:
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_no_input_answers_5xx_and_answers_match_the_document(fuzzed: Server) -> None:
    # Driven by hand rather than by schemathesis' pytest plugin, which does not run on pytest 9.
    found = operations(fuzzed)
    assert len(found) >= 20

    for operation in found:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_ROUTE,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers=auth(fuzzed.admin_key),
                checks=[not_a_server_error, response_schema_conformance],
                timeout=30,
            )

        fuzz()
