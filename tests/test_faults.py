"""The fault suite: every fault kind of the reference server against every verb.

Each cell (see ``tests/fault_matrix.py``) injects a fault for one verb's
request, makes the call through a real Session, and checks the server's
state afterwards: a call that succeeded did its work exactly once, a call
that failed raised the class that fits, said what happened and whether the
work may have been done (truthfully), and nothing was ever done twice.
"""

from __future__ import annotations

from typing import Iterator

import pytest
from fault_matrix import (
    AMBIGUOUS_FOR_CREATES,
    CREATE_VERBS,
    KINDS,
    VERBS,
    Case,
    Matrix,
    cases,
)

from accsyn_api.testing import LocalServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def matrix() -> Iterator[Matrix]:
    with LocalServer() as server:
        runner = Matrix(server)
        yield runner
        runner.close()


@pytest.mark.parametrize("case", cases(), ids=lambda case: case.name)
def test_fault(matrix: Matrix, case: Case) -> None:
    outcome = matrix.run(case)
    assert outcome.problems == []
    assert not outcome.duplicated and not outcome.lost


def test_the_matrix_covers_every_kind_and_verb() -> None:
    everything = cases()
    assert {case.kind for case in everything} == set(KINDS) and len(KINDS) == 7
    assert {case.verb for case in everything} == set(VERBS) and len(VERBS) == 6
    # Every cell of single faults must succeed; the persistent ones must fail.
    assert sum(case.expected_error is None for case in everything if case.times == 1) == (
        len(KINDS) * len(VERBS) + len(CREATE_VERBS) * (len(KINDS) - len(AMBIGUOUS_FOR_CREATES))
    )


def test_an_ambiguous_create_without_retries_is_reported_and_never_doubled(
    matrix: Matrix,
) -> None:
    """retry_creates=False, the reply of an executed create lost: one job, a clear error."""
    outcome = matrix.run(Case("drop_after", "create_job", retry_creates=False))
    error = outcome.error
    assert error is not None and outcome.effects == 1
    assert getattr(error, "executed", "missing") is None
    text = str(error)
    assert "job may or may not have been created" in text
    assert "find" in text and "retry_creates=False" in text and "Tried once" in text
