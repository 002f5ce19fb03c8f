"""Pytest fixtures for testing your own pipeline tools against a local accsyn server.

Installed with the package (entry point ``pytest11``), so they are available in
any test suite once ``accsyn-sdk`` is installed:

``accsyn_server``
    a :class:`~accsyn_api.testing.LocalServer` with the demo workspace, fresh
    for each test (so one test's changes never leak into another).
``accsyn_session``
    a logged-in :class:`~accsyn_api.Session` of the demo employee on it.
``accsyn_admin_session`` / ``accsyn_user_session``
    the same for the demo admin and for a restricted user.
``accsyn_env``
    sets ``ACCSYN_DOMAIN``, ``ACCSYN_API_USER``, ``ACCSYN_API_KEY`` and
    ``ACCSYN_URL`` for the test, so code that calls ``accsyn_api.Session()``
    with no arguments reaches the local server; yields the server.

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


@pytest.fixture
def accsyn_server() -> Iterator[LocalServer]:
    """A reference server with the demo workspace, started for one test."""
    from .server import LocalServer

    with LocalServer() as server:
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
    for variable in ("ACCSYN_ORG", "ACCSYN_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    for name, value in accsyn_server.environment("employee").items():
        monkeypatch.setenv(name, value)
    return accsyn_server
