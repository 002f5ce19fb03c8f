"""The reference server as a boundary: who it reads, how much, and whose keys open it.

Over real HTTP on 127.0.0.1, on both front ends: nothing of a request is
decoded before its caller is authenticated, ``gz_data`` and bodies are capped
(413), deep nesting is a 400 refusal, the demo keys are new for each server,
and listening beyond loopback without TLS warns.
"""

from __future__ import annotations

import gzip
import json
import warnings
from typing import Any, Dict, Iterator

import pytest
from generations import both_generations
from server_raw import RawCaller, b64, error_code, raw_socket, read_until_closed, zeros_bomb

import accsyn_api
from accsyn_api.protocol import names
from accsyn_api.testing import LocalServer
from accsyn_api.testing.decoding import MAX_INFLATED_BYTES, MAX_NESTING
from accsyn_api.testing.demo import FIXED_API_KEYS
from accsyn_api.testing.httpd import MAX_BODY_BYTES
from accsyn_api.testing.server import ExposedServerWarning, is_loopback

pytestmark = both_generations

SPEC = {"source": "share=projects/a.mov", "destination": "lars@edit.com"}


@pytest.fixture
def caller(accsyn_server: LocalServer, accsyn_api_version: str) -> Iterator[RawCaller]:
    raw = RawCaller(accsyn_server, accsyn_api_version, "employee")
    yield raw
    raw.close()


@pytest.fixture
def stranger(accsyn_server: LocalServer, accsyn_api_version: str) -> Iterator[RawCaller]:
    raw = RawCaller(accsyn_server, accsyn_api_version, role=None)
    yield raw
    raw.close()


def _refused_as_stranger(response: Any, api_version: str) -> None:
    """The refusal of a caller without valid credentials, whatever the body held."""
    assert error_code(response) == "authentication_failed", response.text[:300]
    assert response.status_code == (200 if api_version == names.V1 else 401)


# -- item 6: authenticate first ------------------------------------------------------------


def test_nothing_is_decoded_before_the_caller_is_known(
    accsyn_server: LocalServer, stranger: RawCaller, accsyn_api_version: str
) -> None:
    # Bodies that would be refused as unreadable (or cost the server dearly to unpack)
    # are answered as what they are: requests from nobody.
    bodies = [
        json.dumps(stranger.event("job/create", gz_data="%%% not base64 %%%")).encode(),
        json.dumps(
            stranger.event("job/create", gz_data=zeros_bomb(MAX_INFLATED_BYTES * 4))
        ).encode(),
        b"{not json",
        b"[" * 100_000 + b"]" * 100_000,
    ]
    for body in bodies:
        _refused_as_stranger(stranger.send("POST", raw=body), accsyn_api_version)
    _refused_as_stranger(stranger.send("GET", raw=b"{broken"), accsyn_api_version)
    assert accsyn_server.events == []  # nothing of theirs was decoded, hence nothing kept


def test_a_wrong_key_is_refused_before_the_body_is_read(
    accsyn_server: LocalServer, accsyn_api_version: str
) -> None:
    caller = RawCaller(accsyn_server, accsyn_api_version, role=None)
    if accsyn_api_version == names.V3:
        caller.headers = {
            names.AUTHORIZATION: f"basic {b64(b'admin@acmevfx.com')}:{b64(b'guess')}",
            names.V3_WORKSPACE_HEADER: "acmevfx",
        }
    else:
        caller.headers = {names.AUTHORIZATION: RawCaller.session_header("0" * 32)}
    response = caller.send("POST", caller.event("job/create", gz_data="%%% not base64 %%%"))
    _refused_as_stranger(response, accsyn_api_version)
    # The connection stays usable: the unread body was drained, not left in the stream.
    _refused_as_stranger(caller.send("GET", caller.event("job/find")), accsyn_api_version)
    assert accsyn_server.events == []
    caller.close()


# -- item 6: caps --------------------------------------------------------------------------


def test_gz_data_inflating_past_the_limit_is_refused_with_413(
    accsyn_server: LocalServer, caller: RawCaller
) -> None:
    bomb = caller.event("job/create", gz_data=zeros_bomb(MAX_INFLATED_BYTES + 1024))
    response = caller.send("POST", bomb)
    assert response.status_code == 413, response.text[:300]
    reply = response.json()
    assert reply["error_code"] == "invalid_data"
    assert "32 MiB" in reply["message_hr"] and "smaller calls" in reply["message_hr"]
    # Just under the limit is read (and refused on its merits: a string is no job spec).
    fits = caller.event("job/create", gz_data=zeros_bomb(MAX_INFLATED_BYTES - 1024))
    assert error_code(caller.send("POST", fits)) == "invalid_data"
    with accsyn_server.session("employee") as session:
        assert session.find("Job")  # still serving


def test_a_body_over_the_limit_is_refused_without_being_read(
    accsyn_server: LocalServer, caller: RawCaller, accsyn_api_version: str
) -> None:
    path = f"{names.API_PATHS[accsyn_api_version]}/{names.EVENT_URI}"
    headers = "".join(f"{name}: {value}\r\n" for name, value in caller.headers.items())
    with raw_socket(accsyn_server, timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}"
            f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode("ascii")
        )
        reply = read_until_closed(sock)  # at once: the server does not wait for the body
    assert reply.startswith(b"HTTP/1.1 413 "), reply[:200]
    assert b"Connection: close" in reply and b"more than the" in reply


def _with_data(event: Dict[str, Any], data_text: str) -> bytes:
    """``event`` as JSON with ``data_text`` (JSON too deep for json.dumps) as its data."""
    return f'{json.dumps(event)[:-1]}, "data": {data_text}}}'.encode()


def test_deep_nesting_is_a_400_refusal_not_a_server_fault(caller: RawCaller) -> None:
    for depth in (MAX_NESTING + 1, 5_000, 100_000):
        deep = "[" * (depth - 1) + '"leaf"' + "]" * (depth - 1)  # depth arrays, in an object
        spec_text = f'{json.dumps(SPEC)[:-1]}, "metadata": {{"deep": {deep}}}}}'
        packed = b64(gzip.compress(spec_text.encode("utf-8")))
        for body in (
            _with_data(caller.event("job/create"), spec_text),
            json.dumps(caller.event("job/create", gz_data=packed)).encode("utf-8"),
        ):
            response = caller.send("POST", raw=body)
            assert response.status_code == 400, response.text[:300]
            reply = response.json()
            assert reply["error_code"] == "invalid_data", reply
            assert "nested too deeply" in reply["message_hr"]
    shallow = {**SPEC, "metadata": {"a": {"b": {"c": [1, [2, [3]]]}}}}
    assert "result" in caller.send("POST", caller.event("job/create", shallow)).json()


# -- item 9: keys --------------------------------------------------------------------------


def test_each_server_makes_its_own_keys(accsyn_api_version: str) -> None:
    with (
        LocalServer(api_version=accsyn_api_version) as first,
        LocalServer(api_version=accsyn_api_version) as second,
    ):
        keys = {first.credentials("admin")["api_key"], second.credentials("admin")["api_key"]}
        assert len(keys) == 2 and not keys & set(FIXED_API_KEYS.values())
        assert all(len(key) >= 32 for key in keys)
        with first.session("admin") as admin:
            assert admin.find("Job")
        # The keys once published in the source open nothing.
        with pytest.raises(accsyn_api.AuthenticationError):
            first.session("admin", api_key=FIXED_API_KEYS["admin@acmevfx.com"]).find("Job")


def test_fixed_keys_on_request_for_reproducible_tests(accsyn_api_version: str) -> None:
    with LocalServer(api_version=accsyn_api_version, fixed_keys=True) as server:
        for role, email in (("admin", "admin@acmevfx.com"), ("user", "user@mail.com")):
            assert server.credentials(role)["api_key"] == FIXED_API_KEYS[email]
            assert server.environment(role)["ACCSYN_API_KEY"] == FIXED_API_KEYS[email]
        with server.session("employee") as session:
            assert session.find("Job")


def test_listening_beyond_loopback_without_tls_warns() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    everywhere = "0.0.0.0"  # noqa: S104 (the address this test is about)
    assert not is_loopback(everywhere) and not is_loopback("::")
    assert not is_loopback("example.com")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LocalServer("127.0.0.1").bind().stop()  # no warning on loopback
    exposed = LocalServer(everywhere)
    with pytest.warns(ExposedServerWarning, match="without TLS"):
        exposed.bind()
    exposed.stop()
