"""TLS settings: what ``verify`` accepts, and the SSL context a transport connects with.

:func:`check_verify` reads the ``verify`` setting (``True``, ``False``, the
path of a CA bundle, or :data:`SYSTEM_TRUST`); :func:`tls_context` builds the
one :class:`ssl.SSLContext` a :class:`~accsyn_api.transport.Transport`
wraps its HTTPS connections with, as :mod:`requests` would check them:

* ``True``: certifi's bundle (the one :mod:`requests` ships with), or the
  bundle named by ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``, read once;
* a path: that bundle (a file, or a directory of hashed certificates);
* :data:`SYSTEM_TRUST`: the operating system's trust store, through the
  optional ``truststore`` package;
* ``False``: nothing is checked (the transport logs a warning).

Certificates are checked for the server's host name whenever they are
checked at all.
"""

from __future__ import annotations

import os
import ssl
from typing import Union

from .errors import ConfigurationError

__all__ = ["SYSTEM_TRUST", "Verify", "check_verify", "tls_context"]

SYSTEM_TRUST = "system"
"""``verify=SYSTEM_TRUST`` checks certificates against the operating system's trust store."""

Verify = Union[bool, str]

_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def check_verify(verify: object) -> Verify:
    """The ``verify`` setting as the transport uses it; ConfigurationError if it is not one.

    ``True`` and ``False`` are taken as they are, and so is text (``"system"``
    or a path, which must exist); a :class:`os.PathLike` is read as its path.
    Anything else (``0``, ``None``, ``"yes"``...) is refused rather than
    guessed: a falsy value would turn checking off without a word.
    """
    if isinstance(verify, bool):
        return verify
    if isinstance(verify, os.PathLike):
        verify = os.fspath(verify)
    if isinstance(verify, bytes) or not isinstance(verify, str):
        raise ConfigurationError(
            f"verify must be True (check certificates), False (do not check), 'system' (the "
            f"operating system's trust store) or the path of a CA bundle, not {verify!r}."
        )
    if verify != SYSTEM_TRUST and not os.path.exists(verify):
        raise ConfigurationError(
            f"verify={verify!r} is neither True, False nor 'system', and no such CA bundle "
            "file exists: give the path of a PEM file of certificate authorities."
        )
    return verify


def _system_trust_context() -> ssl.SSLContext:
    """An SSL context checking certificates against the operating system's trust store."""
    try:
        import truststore
    except ImportError:
        raise ConfigurationError(
            "verify='system' checks certificates against the operating system's trust store "
            "through the optional package 'truststore', which is not installed: "
            "pip install 'accsyn-sdk[truststore]' (needs Python 3.10 or later)."
        ) from None
    context: ssl.SSLContext = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return context


def _bundle_context(bundle: str) -> ssl.SSLContext:
    try:
        if os.path.isdir(bundle):
            return ssl.create_default_context(capath=bundle)
        return ssl.create_default_context(cafile=bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"The CA bundle {bundle!r} cannot be read ({exc}): give the path of a PEM file "
            "of certificate authorities as verify=... (or fix REQUESTS_CA_BUNDLE)."
        ) from None


def _default_bundle() -> str:
    """The bundle ``verify=True`` means: the environment's choice, else certifi's."""
    for variable in _BUNDLE_VARIABLES:
        chosen = os.environ.get(variable)
        if chosen:
            return chosen
    from requests.utils import DEFAULT_CA_BUNDLE_PATH  # certifi's; imported only when needed

    return str(DEFAULT_CA_BUNDLE_PATH)


def tls_context(verify: Verify) -> ssl.SSLContext:
    """The SSL context for HTTPS connections under ``verify`` (see the module text)."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if verify == SYSTEM_TRUST:
        return _system_trust_context()
    return _bundle_context(_default_bundle() if verify is True else str(verify))
