"""accsyn_api: a Python client for the accsyn file-delivery API.

>>> import accsyn_api
>>> session = accsyn_api.Session()          # settings from ACCSYN_* variables
>>> job = session.find_one('Job where code="x and y.png"')

``accsyn_api.testing`` holds a local reference server for tests and demos.
"""

import logging as _logging

from .errors import (
    AccsynError,
    AccsynException,
    AuthenticationError,
    ConfigurationError,
    ConnectionFailed,
    InvalidData,
    InvalidQuery,
    NotFound,
    PermissionDenied,
    RequestTimeout,
    ServerError,
    SessionExpired,
    TransportError,
)
from .query import (
    Query,
    all_of,
    any_of,
    contains,
    eq,
    ge,
    gt,
    is_in,
    le,
    lt,
    matches,
    ne,
    not_contains,
    not_in,
    not_matches,
    parse,
    quote,
    select,
)
from .session import Session

__version__ = "0.1.0"

# A library leaves logging set-up to the application: without a handler of its
# own, warnings (retries, verify=False) would go to Python's last-resort stderr handler.
_logging.getLogger("accsyn_api").addHandler(_logging.NullHandler())

__all__ = [
    "AccsynError",
    "AccsynException",
    "AuthenticationError",
    "ConfigurationError",
    "ConnectionFailed",
    "InvalidData",
    "InvalidQuery",
    "NotFound",
    "PermissionDenied",
    "Query",
    "RequestTimeout",
    "ServerError",
    "Session",
    "SessionExpired",
    "TransportError",
    "__version__",
    "all_of",
    "any_of",
    "contains",
    "eq",
    "ge",
    "gt",
    "is_in",
    "le",
    "lt",
    "matches",
    "ne",
    "not_contains",
    "not_in",
    "not_matches",
    "parse",
    "quote",
    "select",
]
