"""Pytest fixtures for testing your own pipeline tools against a local accsyn server.

Installed with the package (entry point ``pytest11``), so they are available in
any test suite once ``accsyn-sdk`` is installed:

``accsyn_api_version``
    the API generation the other fixtures speak: ``"1.0"`` (the default) or
    ``"3"``. Choose it for a whole run with ``pytest --accsyn-api-version 3``, or
    override the fixture in your ``conftest.py`` (for instance with
    ``@pytest.fixture(params=["1.0", "3"])`` to run every test on both).
``accsyn_server``
    a :class:`~accsyn_api.testing.LocalServer` with the demo workspace, fresh
    for each test (so one test's changes never leak into another). It serves
    both generations; its ``api_version`` is ``accsyn_api_version``.
``accsyn_session``
    a logged-in :class:`~accsyn_api.Session` of the demo employee on it.
``accsyn_admin_session`` / ``accsyn_user_session``
    the same for the demo admin and for a restricted user (``standard`` on v3).
``accsyn_env``
    sets the ``ACCSYN_*`` variables of :meth:`LocalServer.environment
    <accsyn_api.testing.LocalServer.environment>` for the test (and unsets the
    other generation's), so code that calls ``accsyn_api.Session()`` with no
    arguments reaches the local server; yields the server.

Example::

    def test_my_tool_pauses_the_job(accsyn_session):
        my_tool.pause("614d660de50d45bb027c9bdd", session=accsyn_session)
        job = accsyn_session.find_one("Job where id=614d660de50d45bb027c9bdd")
        assert job["status"] == "paused"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:  # imported lazily: loading the plugin must stay cheap for every pytest run
    from ..session import Session
    from .server import LocalServer

API_VERSIONS = ("1.0", "3")
DEFAULT_API_VERSION = "1.0"
CLEARED_VARIABLES = (
    "ACCSYN_ORG",
    "ACCSYN_DOMAIN",
    "ACCSYN_WORKSPACE",
    "ACCSYN_PROXY",
    "ACCSYN_API_VERSION",
)
"""Variables ``accsyn_env`` unsets before setting those of the server's generation."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--accsyn-api-version``: the generation the accsyn fixtures speak."""
    parser.getgroup("accsyn").addoption(
        "--accsyn-api-version",
        choices=API_VERSIONS,
        default=None,
        help=f"API generation of the accsyn_* fixtures (default {DEFAULT_API_VERSION})",
    )


@pytest.fixture
def accsyn_api_version(request: pytest.FixtureRequest) -> str:
    """The API generation the accsyn fixtures speak: ``--accsyn-api-version``, else "1.0"."""
    chosen = request.config.getoption("--accsyn-api-version", default=None)
    return str(chosen) if chosen else DEFAULT_API_VERSION


@pytest.fixture
def accsyn_server(accsyn_api_version: str) -> Iterator[LocalServer]:
    """A reference server with the demo workspace, started for one test."""
    from .server import LocalServer

    with LocalServer(api_version=accsyn_api_version) as server:
        yield server


@pytest.fixture
def accsyn_session(accsyn_server: LocalServer) -> Iterator[Session]:
    """A Session of the demo employee (employee@acmevfx.com)."""
    with accsyn_server.session("employee") as session:
        yield session


@pytest.fixture
def accsyn_admin_session(accsyn_server: LocalServer) -> Iterator[Session]:
    """A Session of the demo administrator."""
    with accsyn_server.session("admin") as session:
        yield session


@pytest.fixture
def accsyn_user_session(accsyn_server: LocalServer) -> Iterator[Session]:
    """A Session of a restricted user, who sees only the jobs it sends or receives."""
    with accsyn_server.session("user") as session:
        yield session


@pytest.fixture
def accsyn_env(accsyn_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> LocalServer:
    """Point ``accsyn_api.Session()`` (no arguments) at the local server for one test."""
    for variable in CLEARED_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    for name, value in accsyn_server.environment("employee").items():
        monkeypatch.setenv(name, value)
    return accsyn_server
