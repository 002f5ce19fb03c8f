"""The fault matrix: every fault kind of the reference server against every verb, per generation.

Shared by ``tests/test_faults.py`` (which asserts on every cell) and
``benchmarks/fault_report.py`` (which prints the totals). A cell injects one
fault into a :class:`~accsyn_api.testing.LocalServer` for the uri of one
verb, as the session's API generation names it (:data:`URIS`), makes the
call through a real :class:`accsyn_api.Session`, then looks at the
server's state through another session of the same generation:

* a call that succeeded must have done its work exactly once (nothing lost);
* a call that failed must raise the class that fits the fault, say what
  happened and whether the work may have been done, and be right about it
  (``executed=False`` means the state shows no change);
* no change is ever made twice, and no event is executed twice.

Three groups of cells: a single fault on the verb's request (the client's
retries must absorb it), a persistent fault (every attempt fails: the error
must be right) and, for creates, a single fault with ``retry_creates=False``
(an ambiguous create is not repeated: the error says the job may exist).

What differs between the generations is data, not code: the uris
(:data:`URIS`), whether the reference server announces that it ignores
repeated events (:data:`SERVER_DEDUPS`: with ``retry_creates="auto"`` an
ambiguous create is repeated only then), and what an ``expire_session``
fault means (v1.0: a session key expires and the client logs in again; v3
has no session key, so the fault is a refusal of the credentials).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

import accsyn_api
from accsyn_api import AccsynError, ServerError, TransportError
from accsyn_api.protocol import names
from accsyn_api.testing import LocalServer
from accsyn_api.testing.faults import FaultKind

KINDS: Tuple[str, ...] = tuple(kind.value for kind in FaultKind)
VERBS: Tuple[str, ...] = (
    "find",
    "create_job",
    "create_task",
    "update",
    "update_many",
    "delete_one",
)
CREATE_VERBS: Tuple[str, ...] = ("create_job", "create_task")

URIS: Dict[str, Dict[str, str]] = {
    names.V1: {
        "login": names.V1_LOGIN_URI,
        "find": "job/find",
        "find_task": "job/task/find",
        "create_job": "job/create",
        "create_task": "job/task/create",
        "update": "job/edit",
        "update_many": "job/task/edit",
        "delete_one": "job/delete",
    },
    names.V3: {
        "login": names.V3_LOGIN_URI,
        "find": "transfer/find",
        "find_task": "task/find",
        "create_job": "transfer/create",
        "create_task": "task/create",
        "update": "transfer/edit",
        "update_many": "task/edit",
        "delete_one": "transfer/delete",
    },
}
"""The ``uri`` each generation sends for the login and for each verb of the matrix."""

SERVER_DEDUPS: Dict[str, bool] = {names.V1: True, names.V3: True}
"""Whether the reference server's login says it ignores repeated events (``event_dedup``).

v1.0: yes. v3: its login reply says nothing of it (the hosted service documents
nothing either), so a v3 session with ``retry_creates="auto"`` does not repeat a
create whose outcome is unknown."""

READ_TIMEOUT = 0.3
"""The client's read timeout in the matrix (seconds)."""
DELAY_SECONDS = 1.0
"""How late a ``delay`` fault replies: well past :data:`READ_TIMEOUT`."""
RETRIES = 2
PERSISTENT = RETRIES + 1
"""A persistent fault hits every attempt of a call."""
SESSION_OPTIONS: Dict[str, Any] = {
    "timeout": (2, READ_TIMEOUT),
    "retries": RETRIES,
    "backoff": 0.05,
}

# What a failure caused by each kind must be, and words its message must hold.
ERROR_CLASS: Dict[str, type] = {
    "drop_before": accsyn_api.ConnectionFailed,
    "drop_after": accsyn_api.ConnectionFailed,
    "delay": accsyn_api.RequestTimeout,
    "unavailable": accsyn_api.ServerError,
    "bad_gateway": accsyn_api.ServerError,
    "truncated": accsyn_api.ServerError,
    "expire_session": accsyn_api.SessionExpired,
    "rate_limited": accsyn_api.ServerError,
}
WHAT_HAPPENED: Dict[str, Tuple[str, ...]] = {
    "drop_before": ("connection",),
    "drop_after": ("connection",),
    "delay": ("did not answer",),
    "unavailable": ("HTTP 503",),
    "bad_gateway": ("HTTP 502",),
    "truncated": ("cut short", "not JSON"),  # urllib3 1.x does not check Content-Length
    "expire_session": ("expired",),
    "rate_limited": ("HTTP 429",),
}
GENERATION_ERRORS: Dict[str, Dict[str, Tuple[type, Tuple[str, ...]]]] = {
    names.V1: {},
    names.V3: {"expire_session": (accsyn_api.AuthenticationError, ("credentials",))},
}
"""Per generation, the kinds whose error differs from :data:`ERROR_CLASS`/:data:`WHAT_HAPPENED`."""

AMBIGUOUS_FOR_CREATES = frozenset(
    {"drop_before", "drop_after", "delay", "bad_gateway", "truncated"}
)
"""Kinds after which the client cannot know whether a create was executed."""
NOT_RENEWED = {names.V1: frozenset(), names.V3: frozenset({"expire_session"})}
"""Kinds a single occurrence of which the client cannot get past, per generation."""

JOB_SOURCE = "share=projects/thefilm/latest_edit.mov"
JOB_DESTINATION = "lars@edit.com"


def error_of(kind: str, generation: str) -> Tuple[type, Tuple[str, ...]]:
    """The class a failure caused by ``kind`` must raise on ``generation``, and its words."""
    default = (ERROR_CLASS[kind], WHAT_HAPPENED[kind])
    return GENERATION_ERRORS[generation].get(kind, default)


@dataclasses.dataclass(frozen=True)
class Case:
    """One cell: a fault ``kind`` hitting ``times`` requests of ``verb``."""

    kind: str
    verb: str
    times: int = 1
    retry_creates: Union[bool, str] = "auto"

    @property
    def name(self) -> str:
        extra = "-persistent" if self.times > 1 else ""
        if self.retry_creates is not True and self.retry_creates != "auto":
            extra += "-no_retry_creates"
        return f"{self.kind}-{self.verb}{extra}"

    def expected_error(self, generation: str) -> Optional[type]:
        """The class the call must raise on ``generation``, or None when it must succeed."""
        error_class = error_of(self.kind, generation)[0]
        if self.times > 1 or self.kind in NOT_RENEWED[generation]:
            return error_class
        repeats_creates = self.retry_creates is True or (
            self.retry_creates == "auto" and SERVER_DEDUPS[generation]
        )
        if not repeats_creates and self.verb in CREATE_VERBS and self.kind in AMBIGUOUS_FOR_CREATES:
            return error_class
        return None


def cases() -> List[Case]:
    """Every cell of the matrix (the same on both generations)."""
    single = [Case(kind, verb) for kind in KINDS for verb in VERBS]
    persistent = [Case(kind, verb, times=PERSISTENT) for kind in KINDS for verb in VERBS]
    no_retry = [Case(kind, verb, retry_creates=False) for kind in KINDS for verb in CREATE_VERBS]
    return single + persistent + no_retry


@dataclasses.dataclass
class Outcome:
    """What happened in one cell."""

    case: Case
    generation: str
    fired: int
    error: Optional[AccsynError]
    effects: int
    """How many times the work is found in the server's state (for find: in the result)."""
    max_executions: int
    problems: List[str]

    @property
    def succeeded(self) -> bool:
        return self.error is None

    @property
    def duplicated(self) -> bool:
        return self.effects > 1 or self.max_executions > 1

    @property
    def lost(self) -> bool:
        return self.succeeded and self.effects != 1


# -- the verbs ----------------------------------------------------------------------


@dataclasses.dataclass
class _Verb:
    method: str
    prepare: Callable[[accsyn_api.Session], Dict[str, Any]]
    act: Callable[[accsyn_api.Session, Dict[str, Any]], Any]
    effects: Callable[[accsyn_api.Session, Dict[str, Any], Any], int]


def _token() -> str:
    return uuid.uuid4().hex[:12]


def _new_job(checker: accsyn_api.Session) -> Dict[str, Any]:
    code = f"faults_{_token()}"
    job = checker.create(
        "job",
        {"source": JOB_SOURCE, "destination": JOB_DESTINATION, "status": "paused", "code": code},
    )
    return {"code": code, "job_id": job["id"]}


def _jobs_with_code(checker: accsyn_api.Session, code: str) -> int:
    return len(checker.find(accsyn_api.select("Job").where(code=code), finished=True))


def _tasks(checker: accsyn_api.Session, job_id: str) -> List[Dict[str, Any]]:
    return checker.find(f"task WHERE job.id={job_id}")


def _prepare_task_change(checker: accsyn_api.Session) -> Dict[str, Any]:
    context = _new_job(checker)
    context["task_id"] = _tasks(checker, context["job_id"])[0]["id"]
    return context


def _prepare_create_job(checker: accsyn_api.Session) -> Dict[str, Any]:
    return {"code": f"faults_{_token()}"}


def _prepare_create_task(checker: accsyn_api.Session) -> Dict[str, Any]:
    context = _new_job(checker)
    context["path"] = f"/Volumes/projects/faults/{_token()}.mov"
    return context


def _find(session: accsyn_api.Session, context: Dict[str, Any]) -> Any:
    return session.find(accsyn_api.select("Job").where(code=context["code"]))


def _create_job(session: accsyn_api.Session, context: Dict[str, Any]) -> Any:
    spec = {
        "source": JOB_SOURCE,
        "destination": JOB_DESTINATION,
        "status": "paused",
        "code": context["code"],
    }
    return session.create("job", spec)


def _create_task(session: accsyn_api.Session, context: Dict[str, Any]) -> Any:
    return session.create("task", {"tasks": [context["path"]]}, context["job_id"])


def _update(session: accsyn_api.Session, context: Dict[str, Any]) -> Any:
    return session.update("job", context["job_id"], {"priority": 777})


def _update_many(session: accsyn_api.Session, context: Dict[str, Any]) -> Any:
    change: List[Mapping[str, Any]] = [{"id": context["task_id"], "status": "excluded"}]
    return session.update_many("task", context["job_id"], change)


def _delete_one(session: accsyn_api.Session, context: Dict[str, Any]) -> Any:
    return session.delete_one("job", context["job_id"])


def _found(checker: accsyn_api.Session, context: Dict[str, Any], result: Any) -> int:
    if result is None:  # the call failed: the job must still be there
        return 1 if _jobs_with_code(checker, context["code"]) == 1 else 0
    return sum(1 for job in result if job.get("code") == context["code"])


def _jobs_created(checker: accsyn_api.Session, context: Dict[str, Any], result: Any) -> int:
    return _jobs_with_code(checker, context["code"])


def _tasks_created(checker: accsyn_api.Session, context: Dict[str, Any], result: Any) -> int:
    tasks = _tasks(checker, context["job_id"])
    return sum(1 for task in tasks if task["source"].get("path") == context["path"])


def _job_changed(checker: accsyn_api.Session, context: Dict[str, Any], result: Any) -> int:
    job = checker.find_one(accsyn_api.select("Job").where(id=context["job_id"]), finished=True)
    return 1 if job is not None and job["priority"] == 777 else 0


def _task_changed(checker: accsyn_api.Session, context: Dict[str, Any], result: Any) -> int:
    tasks = [t for t in _tasks(checker, context["job_id"]) if t["id"] == context["task_id"]]
    return sum(1 for task in tasks if task["status"] == "excluded")


def _job_deleted(checker: accsyn_api.Session, context: Dict[str, Any], result: Any) -> int:
    return 1 if _jobs_with_code(checker, context["code"]) == 0 else 0


VERB_TABLE: Dict[str, _Verb] = {
    "find": _Verb("GET", _new_job, _find, _found),
    "create_job": _Verb("POST", _prepare_create_job, _create_job, _jobs_created),
    "create_task": _Verb("POST", _prepare_create_task, _create_task, _tasks_created),
    "update": _Verb("PUT", _new_job, _update, _job_changed),
    "update_many": _Verb("PUT", _prepare_task_change, _update_many, _task_changed),
    "delete_one": _Verb("DELETE", _new_job, _delete_one, _job_deleted),
}


# -- running and judging ---------------------------------------------------------------


class Matrix:
    """The sessions of one generation under test, and a checker session, on ``server``."""

    def __init__(self, server: LocalServer, generation: str) -> None:
        self.server = server
        self.generation = generation
        self.checker = server.session("employee", api_version=generation)
        self.sessions: Dict[Union[bool, str], accsyn_api.Session] = {
            "auto": server.session("employee", api_version=generation, **SESSION_OPTIONS),
            False: server.session(
                "employee", api_version=generation, retry_creates=False, **SESSION_OPTIONS
            ),
        }

    def close(self) -> None:
        for session in (self.checker, *self.sessions.values()):
            session.close()

    def run(self, case: Case) -> Outcome:
        verb = VERB_TABLE[case.verb]
        uri = URIS[self.generation][case.verb]
        context = verb.prepare(self.checker)
        session = self.sessions[case.retry_creates]
        # A cell before may have expired the session (expire_session): log in again now,
        # so that the fault hits the call itself and not a refusal of an expired session.
        session.find_one(accsyn_api.select("Job").where(code="faults_warm_up"))
        seen = {event.get("eid") for event in self.server.events}
        fault = self.server.inject(
            case.kind,
            uri=uri,
            times=case.times,
            seconds=DELAY_SECONDS,
            retry_after=0,
        )
        error: Optional[AccsynError] = None
        result: Any = None
        try:
            result = verb.act(session, context)
        except AccsynError as exc:
            error = exc
        finally:
            self.server.clear_faults()
        eids = {
            event["eid"]
            for event in self.server.events
            if event.get("eid") not in seen and isinstance(event.get("eid"), str)
        }
        executions = max((self.server.backend.executions(eid) for eid in eids), default=0)
        effects = verb.effects(self.checker, context, result if error is None else None)
        outcome = Outcome(case, self.generation, fault.fired, error, effects, executions, [])
        outcome.problems.extend(_judge(outcome, verb, uri))
        return outcome


def _judge(outcome: Outcome, verb: _Verb, uri: str) -> List[str]:
    case, error = outcome.case, outcome.error
    problems: List[str] = []
    if outcome.fired < 1:
        problems.append("the fault never fired")
    if outcome.duplicated:
        problems.append(
            f"work done twice: {outcome.effects} in the state, "
            f"an event executed {outcome.max_executions} times"
        )
    expected = case.expected_error(outcome.generation)
    if error is None:
        if expected is not None:
            problems.append(f"succeeded, but {expected.__name__} was expected")
        if outcome.effects != 1:
            problems.append("the call succeeded but its work is not in the state (lost)")
        return problems
    text = str(error)
    if expected is None:
        problems.append(f"raised {type(error).__name__} instead of succeeding: {text}")
    elif not isinstance(error, expected):
        problems.append(f"raised {type(error).__name__}, not {expected.__name__}: {text}")
    if not any(words in text for words in error_of(case.kind, outcome.generation)[1]):
        problems.append(f"the message does not say what happened: {text}")
    if error.eid is None or error.uri != uri:
        problems.append(f"the error does not name the event: uri={error.uri} eid={error.eid}")
    if isinstance(error, (TransportError, ServerError)):
        problems.extend(_judge_report(error, verb, outcome.effects, text))
    return problems


def _judge_report(
    error: Union[TransportError, ServerError], verb: _Verb, effects: int, text: str
) -> List[str]:
    """Is what the error says about the work true and useful?"""
    problems: List[str] = []
    if "Tried " not in text:
        problems.append(f"the message does not say how many attempts were made: {text}")
    if verb.method == "GET":
        if "safe to repeat" not in text:
            problems.append(f"a failed find does not say it is safe to repeat: {text}")
        return problems
    if error.executed is False:
        if effects != 0:
            problems.append("executed=False, but the work was done")
        if "not carry it out" not in text:
            problems.append(f"executed=False is not explained: {text}")
    elif error.executed is None:
        if "may or may not" not in text:
            problems.append(f"executed=None, but the message does not say so: {text}")
    else:
        problems.append(f"executed={error.executed!r}: the client cannot know that")
    return problems


def run_matrix(
    generation: str, selected: Optional[List[Case]] = None
) -> Tuple[List[Outcome], float]:
    """Run ``selected`` cells (default: all) on ``generation`` on a fresh server.

    Returns the outcomes and the seconds taken.
    """
    started = time.monotonic()
    with LocalServer(api_version=generation) as server:
        matrix = Matrix(server, generation)
        try:
            outcomes = [matrix.run(case) for case in (selected or cases())]
        finally:
            matrix.close()
    return outcomes, time.monotonic() - started
