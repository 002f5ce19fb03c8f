"""The settings of a Session: read from arguments and the environment, checked once.

:func:`Settings.build` turns what a caller gave (and the ``ACCSYN_*``
environment) into one frozen :class:`Settings` object, or raises
:class:`~accsyn_api.errors.ConfigurationError` naming the argument and the
variable to fix. Everything that needs a setting (the transport, the
host look-ups, the protocol generation, the Session) is handed this object,
so no part of the library reads the environment on its own.

The API key is held in a :class:`Secret`, whose ``repr`` is masked: a
traceback tool that prints frame locals shows no key.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Tuple, Union

from .errors import ConfigurationError
from .protocol import names
from .proxies import proxy_settings
from .ratelimit import check_rate_limit
from .retry import (
    DEFAULT_BACKOFF,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_BUDGET,
    RetryCreates,
    check_retry_settings,
)
from .secret import Secret
from .tls import Verify, check_verify

__all__ = [
    "API_VERSIONS",
    "AUTO",
    "DEFAULT_MAX_REPLY_BYTES",
    "DEFAULT_TIMEOUT",
    "Secret",
    "Settings",
    "Timeout",
]

DEFAULT_TIMEOUT: Tuple[float, float] = (10.0, 120.0)
"""Seconds to wait for a connection, and for the whole reply once connected."""

DEFAULT_MAX_REPLY_BYTES = 256 * 1024 * 1024
"""The largest reply read (256 MiB), as sent and once inflated; a find of 100,000 jobs is
about 65 MB."""

AUTO = "auto"
API_VERSIONS: Tuple[str, ...] = (AUTO, *names.GENERATIONS)
"""What ``api_version`` accepts: ``"auto"`` (find out), ``"1.0"`` or ``"3"``."""

Timeout = Union[float, Tuple[float, float]]
RateLimit = Union[None, bool, str, float, Tuple[float, int]]

_VERSION_SPELLINGS: Dict[str, str] = {
    "auto": AUTO,
    "1": names.V1,
    "1.0": names.V1,
    "v1": names.V1,
    "v1.0": names.V1,
    "3": names.V3,
    "3.0": names.V3,
    "v3": names.V3,
}


@dataclass(frozen=True)
class Settings:
    """Everything a Session needs to know to reach and speak to its workspace.

    Built by :meth:`build`; never changed afterwards. ``origin`` is the
    server's scheme, host and port (``"https://acmevfx.accsyn.com:443"``)
    when the caller gave one (``url``, ``hostname`` or an accsyn relay
    proxy); ``None`` means it is looked up (v3 master, v1.0 registry).
    ``api_version`` is ``"auto"``, ``"1.0"`` or ``"3"``.
    """

    workspace: str
    username: str
    api_key: Secret = field(repr=False)
    api_version: str = AUTO
    origin: Optional[str] = None
    port: Optional[int] = None
    proxies: Optional[Mapping[str, str]] = None
    verify: Verify = True
    timeout: Timeout = DEFAULT_TIMEOUT
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES
    pool_size: int = 10
    retries: int = DEFAULT_RETRIES
    backoff: float = DEFAULT_BACKOFF
    retry_budget: float = DEFAULT_RETRY_BUDGET
    retry_creates: RetryCreates = "auto"
    verbose: bool = False
    page_size: int = 500
    rate_limit: RateLimit = "auto"
    registry_url: str = names.V1_REGISTRY_URL
    master_url: str = names.V3_MASTER_URL

    @classmethod
    def build(
        cls,
        *,
        workspace: Optional[str] = None,
        domain: Optional[str] = None,
        username: Optional[str] = None,
        api_key: Optional[str] = None,
        api_version: Optional[str] = None,
        url: Optional[str] = None,
        hostname: Optional[str] = None,
        port: Optional[int] = None,
        proxy: Optional[str] = None,
        verify: Verify = True,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        pool_size: int = 10,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
        retry_creates: RetryCreates = "auto",
        verbose: bool = False,
        page_size: int = 500,
        rate_limit: RateLimit = "auto",
        registry_url: str = names.V1_REGISTRY_URL,
        master_url: str = names.V3_MASTER_URL,
    ) -> Settings:
        """Read the arguments, else the environment; raise ConfigurationError if anything is off.

        An explicit argument wins over the environment; blank text counts as
        not given. The workspace is ``workspace``, else ``domain`` (its older
        name), else ``ACCSYN_WORKSPACE``, ``ACCSYN_DOMAIN`` or ``ACCSYN_ORG``.
        """
        chosen_workspace = _setting(
            workspace if _given(workspace) else domain,
            "ACCSYN_WORKSPACE",
            "ACCSYN_DOMAIN",
            "ACCSYN_ORG",
        )
        version = _api_version(_setting(api_version, "ACCSYN_API_VERSION") or AUTO)
        origin, url_version = _origin(_setting(url, "ACCSYN_URL"), hostname, port)
        if url_version is not None:
            if version not in (AUTO, url_version):
                raise ConfigurationError(
                    f"url ends with the v{url_version} API path but api_version={version!r}: "
                    "drop the path from url, or make the two agree."
                )
            version = url_version
        proxies = None
        proxy_text = _setting(proxy, "ACCSYN_PROXY")
        if proxy_text:
            relay, proxies = proxy_settings(proxy_text)
            origin = origin or relay
        _check_numbers(pool_size, page_size, timeout, max_reply_bytes)
        check_rate_limit(rate_limit)
        check_retry_settings(retries, backoff, retry_budget, retry_creates)
        return cls(
            workspace=_require(chosen_workspace, "workspace", "ACCSYN_WORKSPACE"),
            username=_require(_setting(username, "ACCSYN_API_USER"), "username", "ACCSYN_API_USER"),
            api_key=Secret(
                _require(_setting(api_key, "ACCSYN_API_KEY"), "api_key", "ACCSYN_API_KEY")
            ),
            api_version=version,
            origin=origin,
            port=port,
            proxies=proxies,
            verify=check_verify(verify),
            timeout=timeout,
            max_reply_bytes=max_reply_bytes,
            pool_size=pool_size,
            retries=retries,
            backoff=backoff,
            retry_budget=retry_budget,
            retry_creates=retry_creates,
            verbose=bool(verbose),
            page_size=page_size,
            rate_limit=rate_limit,
            registry_url=registry_url.rstrip("/"),
            master_url=master_url.rstrip("/"),
        )


def _given(value: Optional[str]) -> bool:
    return value is not None and bool(str(value).strip())


def _setting(value: Optional[str], *variables: str) -> Optional[str]:
    """An explicit argument wins; else the first environment variable that is set and not blank."""
    if value is not None and str(value).strip():
        return str(value).strip()
    for variable in variables:
        found = os.environ.get(variable, "").strip()
        if found:
            return found
    return None


def _require(value: Optional[str], argument: str, variable: str) -> str:
    if not value:
        raise ConfigurationError(
            f"No {argument} given: pass {argument}=... to Session() "
            f"or set the environment variable {variable}."
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # not shown: it may be the key
        raise ConfigurationError(
            f"The {argument} (argument {argument}=... or {variable}) holds bytes that are not "
            "UTF-8 text: give it as text."
        ) from None
    return value


def _api_version(text: str) -> str:
    version = _VERSION_SPELLINGS.get(str(text).strip().lower())
    if version is None:
        raise ConfigurationError(
            f"api_version must be 'auto' (find out), '1.0' or '3', not {text!r} "
            "(argument api_version=... or ACCSYN_API_VERSION)."
        )
    return version


def _origin(
    url: Optional[str], hostname: Optional[str], port: Optional[int]
) -> Tuple[Optional[str], Optional[str]]:
    """The server origin the caller gave, and the generation its URL path names (if any)."""
    if port is not None and (
        isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536
    ):
        raise ConfigurationError(f"port must be a whole number from 1 to 65535, not {port!r}.")
    if url:
        url = url.rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"url must start with http:// or https://, not {url!r} "
                "(for example url='http://127.0.0.1:8181')."
            )
        for version, path in names.API_PATHS.items():
            if url.endswith(path):
                return url[: -len(path)], version
        return url, None
    if hostname:
        host = str(hostname).strip()
        if not host or any(ch in host for ch in "/@?# "):
            raise ConfigurationError(
                f"hostname must be a host name such as 'acmevfx.accsyn.com', not {hostname!r}."
            )
        return f"https://{host}:{port or 443}", None
    return None, None


def _check_numbers(pool_size: int, page_size: int, timeout: Timeout, max_reply_bytes: int) -> None:
    for name, value in (
        ("pool_size", pool_size),
        ("page_size", page_size),
        ("max_reply_bytes", max_reply_bytes),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{name} must be a positive integer, not {value!r}.")
    parts = timeout if isinstance(timeout, tuple) else (timeout,)
    if (
        not parts
        or len(parts) > 2
        or not all(
            not isinstance(part, bool)
            and isinstance(part, (int, float))
            and math.isfinite(part)
            and part > 0
            for part in parts
        )
    ):
        raise ConfigurationError(
            f"timeout must be seconds (a positive number) or a (connect, read) pair of them, "
            f"not {timeout!r}."
        )
