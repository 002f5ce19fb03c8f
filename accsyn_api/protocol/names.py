"""The names of the accsyn wire protocol, in one home for client and server.

Paths, header names, operation names (``uri``), error codes and statuses of
both API generations: v1.0 (``/api/v1.0``, what ``jobs.rst`` documents) and
v3 (``/api/v3``, today's hosted service). The client's generation modules
(:mod:`accsyn_api.protocol.v1`, :mod:`accsyn_api.protocol.v3`) and the
reference server (:mod:`accsyn_api.testing`) both read these names; each has
its own encoders and decoders, so that the server stays an independent check
on the client.
"""

from __future__ import annotations

from typing import Dict, FrozenSet, Tuple

# -- generations -------------------------------------------------------------------

V1 = "1.0"
V3 = "3"
GENERATIONS: Tuple[str, ...] = (V1, V3)
"""The API generations this library speaks, oldest first."""

# -- where the backend lives ---------------------------------------------------------

V1_API_PATH = "/api/v1.0"
V3_API_PATH = "/api/v3"
API_PATHS: Dict[str, str] = {V1: V1_API_PATH, V3: V3_API_PATH}

EVENT_URI = "event"
"""The one path (below the API path) that every entity operation is sent to."""

V1_REGISTRY_URL = "https://registry.accsyn.com/api/v1.0"
V1_REGISTRY_URI = "registry/organization/domain"
"""v1.0 host look-up: ``PUT`` ``{"organization": <domain>}`` -> ``{"domain": <name>}``."""

V3_MASTER_URL = "https://master.accsyn.com/api/v3"
V3_LOOKUP_URI = "J3PKTtDvolDMBtTy6AFGA"
"""v3 host look-up: ``GET`` with the percent-encoded JSON ``{"ident": <workspace>}`` as
the query string -> ``{"result": {"hostname": ..., "port": ...}}``. A fixed opaque token."""

V1_LOGIN_URI = "user/login/auth"
V3_LOGIN_URI = "api/login"

# -- headers -------------------------------------------------------------------------

AUTHORIZATION = "Authorization"
V1_CREDENTIALS_SCHEME = "ASCredentials"
"""v1.0 login: ``ASCredentials <base64 of JSON {domain, username, api_key}>``."""
V1_SESSION_SCHEME = "ASSession"
"""v1.0 calls: ``ASSession <base64 of JSON {domain, username, session_key}>``."""
V3_AUTH_SCHEME = "basic"
"""v3, every call: ``basic <base64(username)>:<base64(api_key)>`` (not RFC 7617)."""
V1_DEVICE_HEADER = "ASDevice"
V3_DEVICE_HEADER = "X-Accsyn-Device"
V3_WORKSPACE_HEADER = "X-Accsyn-Workspace"

# -- the event envelope --------------------------------------------------------------

GZIP_THRESHOLD = 100 * 1024
"""Payloads larger than this travel as ``gz_data`` (base64 of gzipped JSON)."""

V1_WORKSPACE_KEY = "domain"
V3_WORKSPACE_KEY = "workspace"
"""The envelope key naming the workspace, per generation."""

# -- replies -------------------------------------------------------------------------

ERROR_CODES: Tuple[str, ...] = (
    "authentication_failed",
    "session_expired",
    "permission_denied",
    "not_found",
    "invalid_data",
    "invalid_query",
    "rate_limited",
)
"""Values of ``error_code`` in a refusal: this project's extension, sent by the
reference server so that a client need not guess the kind of refusal from its text.
The hosted service sends none."""

# -- entities ------------------------------------------------------------------------

V3_ENTITY_ALIASES: Dict[str, str] = {"job": "transfer", "share": "folder"}
"""v3 names of deprecated entity types, still accepted by the v3 backend."""

JOB_STATUSES: Dict[str, Tuple[str, ...]] = {
    V1: ("init", "pending", "waiting", "running", "paused", "failed", "aborted", "done"),
    V3: ("init", "waiting", "running", "paused", "failed", "aborted", "done"),
}
"""Every status a job (v3: transfer) can have."""

JOB_WRITEABLE_STATUSES: Dict[str, Tuple[str, ...]] = {
    V1: ("pending", "waiting", "paused", "aborted", "done"),
    V3: ("waiting", "paused", "aborted", "done"),
}
"""The job statuses a client may set."""

FINAL_JOB_STATUSES: Tuple[str, ...] = ("done", "failed", "aborted")
"""Statuses after which a job moves no more by itself (``failed`` may be retried
by a caller or, on v3, by the backend)."""

FINISHED_JOB_STATUSES: Tuple[str, ...] = ("done", "aborted")
"""Statuses that make a job *finished*: it then leaves the active list."""

TASK_STATUSES: Tuple[str, ...] = (
    "pending",
    "queued",
    "booting",
    "executing",
    "failed",
    "done",
    "onhold",
    "excluded",
)
TASK_WRITEABLE_STATUSES: Tuple[str, ...] = ("queued", "failed", "onhold", "excluded", "done")

# -- queries -------------------------------------------------------------------------

V1_OPERATORS: FrozenSet[str] = frozenset({"=", "!=", "<>"})
V3_OPERATORS: FrozenSet[str] = V1_OPERATORS | frozenset(
    {
        "<",
        ">",
        "<=",
        ">=",
        "in",
        "not in",
        "contains",
        "not contains",
        "matches",
        "not matches",
    }
)
"""Comparison operators of the query language, per generation."""
