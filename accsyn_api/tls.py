"""TLS settings and the pooled :class:`requests.Session` of a transport.

:func:`http_session` builds the connection pool a
:class:`~accsyn_api.transport.Transport` sends through: ``verify`` as
:mod:`requests` takes it (True, False or a CA bundle path), or
:data:`SYSTEM_TRUST` to check certificates against the operating system's
trust store (through the optional ``truststore`` package).
"""

from __future__ import annotations

import os
import ssl
from typing import TYPE_CHECKING, Any, Tuple, Union

import requests
import requests.adapters
from urllib3.util.retry import Retry

from .errors import ConfigurationError

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs

__all__ = ["SYSTEM_TRUST", "Verify", "http_session"]

SYSTEM_TRUST = "system"
"""``verify=SYSTEM_TRUST`` checks certificates against the operating system's trust store."""

Verify = Union[bool, str]


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


class _SystemTrustAdapter(requests.adapters.HTTPAdapter):
    """An HTTPAdapter whose TLS connections use one given SSL context (the system's trust).

    The CA bundle that :mod:`requests` would otherwise load (certifi's, or
    ``REQUESTS_CA_BUNDLE``) is left out: the context's own store decides.
    """

    def __init__(self, ssl_context: ssl.SSLContext, **kwargs: Any) -> None:
        self._ssl_context = ssl_context
        super().__init__(**kwargs)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        proxy_kwargs.setdefault("ssl_context", self._ssl_context)
        return super().proxy_manager_for(proxy, **proxy_kwargs)

    def build_connection_pool_key_attributes(
        self,
        request: requests.PreparedRequest,
        verify: Union[bool, str],
        cert: Union[str, Tuple[str, str], None] = None,
    ) -> Tuple[_HostParams, _PoolKwargs]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        pool_kwargs.pop("ca_certs", None)
        pool_kwargs.pop("ca_cert_dir", None)
        pool_kwargs["cert_reqs"] = "CERT_REQUIRED"
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # Let requests handle a client certificate, but load no CA bundle.
        super().cert_verify(conn, url, False, cert)  # type: ignore[no-untyped-call]
        conn.cert_reqs = "CERT_REQUIRED"


def http_session(verify: Verify, pool_size: int) -> Tuple[requests.Session, Union[bool, str]]:
    """A pooled requests.Session for ``verify``, and the ``verify`` to give each request.

    Failed connections are not retried inside urllib3 (``Retry`` with no
    connect retries, read errors re-raised as they are) so that the retry
    loop sees every failure, tells "not sent" from "lost", and keeps one
    back-off and one time budget for all of them. With more threads than
    ``pool_size`` connections, a thread waits for a free connection
    (``pool_block``) rather than opening one that would be thrown away.
    """
    if isinstance(verify, str) and verify != SYSTEM_TRUST and not os.path.exists(verify):
        raise ConfigurationError(
            f"verify={verify!r} is neither True, False nor 'system', and no such CA bundle "
            "file exists: give the path of a PEM file of certificate authorities."
        )
    http = requests.Session()
    no_retry = Retry(
        total=None,
        connect=0,
        read=False,
        status=0,
        other=0,
        redirect=False,
        allowed_methods=None,
        raise_on_status=False,
    )
    adapter: requests.adapters.HTTPAdapter
    request_verify: Union[bool, str] = verify
    if verify == SYSTEM_TRUST:
        adapter = _SystemTrustAdapter(
            _system_trust_context(),
            pool_connections=1,
            pool_maxsize=pool_size,
            max_retries=no_retry,
            pool_block=True,
        )
        request_verify = True
    else:
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=1, pool_maxsize=pool_size, max_retries=no_retry, pool_block=True
        )
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    return http, request_verify
