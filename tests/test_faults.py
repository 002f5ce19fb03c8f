"""The fault suite: every fault kind of the reference server against every verb, both generations.

Each cell (see ``tests/fault_matrix.py``) injects a fault for one verb's
request, makes the call through a real Session of the generation under test,
and checks the server's state afterwards: a call that succeeded did its work
exactly once, a call that failed raised the class that fits, said what
happened and whether the work may have been done (truthfully), and nothing
was ever done twice.
"""

from __future__ import annotations

from typing import Dict, Iterator

import pytest
from fault_matrix import (
    AMBIGUOUS_FOR_CREATES,
    CREATE_VERBS,
    KINDS,
    NOT_RENEWED,
    SERVER_DEDUPS,
    URIS,
    VERBS,
    Case,
    Matrix,
    cases,
)
from generations import GENERATIONS, both_generations

from accsyn_api.protocol import names
from accsyn_api.testing import LocalServer

pytestmark = pytest.mark.timeout(60)


class _Matrices:
    """One reference server for the module; a Matrix per generation, made when first asked."""

    def __init__(self, server: LocalServer) -> None:
        self.server = server
        self._made: Dict[str, Matrix] = {}

    def of(self, generation: str) -> Matrix:
        if generation not in self._made:
            self._made[generation] = Matrix(self.server, generation)
        return self._made[generation]

    def close(self) -> None:
        for matrix in self._made.values():
            matrix.close()


@pytest.fixture(scope="module")
def matrices() -> Iterator[_Matrices]:
    with LocalServer() as server:
        made = _Matrices(server)
        yield made
        made.close()


@both_generations
@pytest.mark.parametrize("case", cases(), ids=lambda case: case.name)
def test_fault(matrices: _Matrices, accsyn_api_version: str, case: Case) -> None:
    outcome = matrices.of(accsyn_api_version).run(case)
    assert outcome.problems == []
    assert not outcome.duplicated and not outcome.lost


SINGLE_SUCCESSES = {names.V1: 54, names.V3: 46}
"""Of the 64 cells with a single fault, those the client must get past. Both fail the 10
ambiguous creates with retry_creates=False; v3 also fails the 8 expire_session cells (no
session to renew)."""


def test_the_matrix_covers_every_kind_and_verb_on_both_generations() -> None:
    everything = cases()
    assert {case.kind for case in everything} == set(KINDS) and len(KINDS) == 8
    assert {case.verb for case in everything} == set(VERBS) and len(VERBS) == 6
    assert len(AMBIGUOUS_FOR_CREATES) == 5 and len(CREATE_VERBS) == 2
    assert GENERATIONS == (names.V1, names.V3)
    singles = [case for case in everything if case.times == 1]
    persistent = [case for case in everything if case.times > 1]
    assert len(singles) == 64 and len(persistent) == 48
    for generation in GENERATIONS:
        succeeding = sum(case.expected_error(generation) is None for case in singles)
        assert succeeding == SINGLE_SUCCESSES[generation], generation
        # Every persistent fault must fail, whatever the generation.
        assert all(case.expected_error(generation) is not None for case in persistent)
    assert SERVER_DEDUPS == {names.V1: True, names.V3: True}
    assert NOT_RENEWED[names.V3] == {"expire_session"} and not NOT_RENEWED[names.V1]


@both_generations
def test_an_ambiguous_create_without_retries_is_reported_and_never_doubled(
    matrices: _Matrices, accsyn_api_version: str
) -> None:
    """retry_creates=False, the reply of an executed create lost: one job, a clear error."""
    outcome = matrices.of(accsyn_api_version).run(
        Case("drop_after", "create_job", retry_creates=False)
    )
    error = outcome.error
    assert error is not None and outcome.effects == 1
    assert getattr(error, "executed", "missing") is None
    text = str(error)
    entity = URIS[accsyn_api_version]["create_job"].split("/")[0]  # v3: transfer
    assert f"{entity} may or may not have been created" in text
    assert "find" in text and "retry_creates=False" in text and "Tried once" in text


@pytest.mark.parametrize("accsyn_api_version", [names.V3], ids=["v3"])
def test_v3_auto_repeats_an_ambiguous_create_once_dedup_is_announced(
    matrices: _Matrices, accsyn_api_version: str
) -> None:
    """The reference server's v3 login announces de-duplication too: "auto" repeats the
    create, and the repeat is answered from the stored reply (one job, not two)."""
    outcome = matrices.of(accsyn_api_version).run(Case("drop_after", "create_job"))
    assert outcome.error is None and outcome.effects == 1 and outcome.fired == 1
