"""A request as the reference server's front ends see it, and the reading of its body.

The body is read only when a front end asks for it (:meth:`Request.read_body`),
after checking the caller; otherwise the plumbing discards it unread
(:meth:`Request.settle`). Either way it must arrive within the server's body
timeout, and be at most :data:`MAX_BODY_BYTES` (:data:`MAX_FORM_BYTES` for a
login or a look-up); a request beyond is refused (413, 408) and its
connection closed.
"""

from __future__ import annotations

import io
from email.message import Message
from typing import TYPE_CHECKING, Any, Callable, List, Optional

from accsyn_api.testing.connections import Connection, ConnectionTable
from accsyn_api.testing.decoding import Refusal, decode_json_object, decode_query_object

if TYPE_CHECKING:
    from accsyn_api.testing.httpd import HTTPServer

__all__ = ["MAX_BODY_BYTES", "MAX_FORM_BYTES", "Body", "Request"]

MAX_BODY_BYTES = 32 * 1024 * 1024
"""The largest request body the server reads (32 MiB); larger ones are refused with 413."""
MAX_FORM_BYTES = 64 * 1024
"""The largest body of a login or look-up request (64 KiB)."""
_READ_CHUNK = 64 * 1024


class Body:
    """The body of one request on ``rfile``, as its headers announce it."""

    def __init__(
        self,
        headers: Message,
        rfile: io.BufferedIOBase,
        connection: Optional[Connection],
        connections: ConnectionTable,
    ) -> None:
        self._headers = headers
        self._rfile = rfile
        self._connection = connection
        self._body_timeout = connections.body_timeout

    def read(self, limit: int) -> bytes:
        """The whole body, read within the body timeout; Refusals: 408, 411, 413, 400."""
        length = self._length(limit)
        chunks: List[bytes] = []
        self._read_exactly(length, chunks.append)
        return b"".join(chunks)

    def discard(self) -> bool:
        """Read and drop the body (never kept); False if it could not be (close the connection)."""
        try:
            length = self._length(MAX_BODY_BYTES)
            self._read_exactly(length, lambda chunk: None)
        except Refusal:
            return False
        return True

    def _length(self, limit: int) -> int:
        """The announced body length; a Refusal (the connection then closes) if unusable."""
        if self._headers.get("Transfer-Encoding", "").lower() not in ("", "identity"):
            raise Refusal(
                411, "Chunked request bodies are not supported; send Content-Length.", close=True
            )
        length_text = self._headers.get("Content-Length")
        if length_text is None:
            return 0
        try:
            length = int(length_text)
        except ValueError:
            length = -1
        if length < 0:
            raise Refusal(400, f"Invalid Content-Length {length_text[:50]!r}.", close=True)
        if length > limit:
            raise Refusal(
                413,
                f"The body is too large ({length} bytes; this request takes at most {limit}).",
                f"The request is too large: its body has {length} bytes, more than the "
                f"{limit} this server reads. Send the work in smaller calls.",
                close=True,
            )
        return length

    def _read_exactly(self, length: int, keep: Callable[[bytes], Any]) -> None:
        left = length
        try:
            while left:
                chunk = self._rfile.read(min(left, _READ_CHUNK))
                if not chunk:
                    break
                keep(chunk)
                left -= len(chunk)
        except OSError:  # a timeout, or the connection cut
            pass
        if not left:
            return
        if self._connection is not None and self._connection.timed_out:
            seconds = self._body_timeout
            raise Refusal(
                408,
                f"The body did not arrive within {seconds:g} seconds.",
                f"The request body took longer than {seconds:g} seconds to arrive; the "
                "server stopped waiting. Check the network and send the request again.",
                close=True,
            )
        raise Refusal(400, "The body ended before Content-Length bytes.", close=True)


class Request:
    """One request as a front end sees it; ``path`` is below the API path, without slashes.

    The body is read only when asked for (:meth:`read_body`): a front end checks
    the caller first, and the plumbing discards the body of a refused request
    unread (:meth:`settle`).
    """

    def __init__(
        self,
        server: HTTPServer,
        method: str,
        path: str,
        raw_query: str,
        headers: Message,
        local_host: str,
        body: Body,
    ) -> None:
        self.server = server
        self.method = method
        self.path = path
        self.raw_query = raw_query
        self.headers = headers
        self.local_host = local_host
        """The address the request came in on (the server's, as the client reached it)."""
        self._body = body
        self._read: Optional[bytes] = None
        self.unreadable = False
        """True when the body could not be read or discarded: the connection must close."""

    def read_body(self, limit: int = MAX_BODY_BYTES) -> bytes:
        """The whole body (read once); a Refusal when it is over ``limit`` or late."""
        if self._read is None:
            self._read = b""  # a body that failed to arrive is not read again
            try:
                self._read = self._body.read(limit)
            except Refusal:
                self.unreadable = True
                raise
        return self._read

    def uri_for_faults(self, where: str) -> Optional[str]:
        """The event's ``uri``, read for fault rules only while there are any; else None.

        Injected faults play before authentication, as a network's would, so a
        refused caller's event is read for its uri, unpacking nothing, when (and
        only when) fault rules are set.
        """
        if not self.server.faults.faults:
            return None
        try:
            if self.method in ("GET", "DELETE"):
                event = decode_query_object(self.raw_query, "event", where)
            else:
                event = decode_json_object(self.read_body(), "event")
        except Refusal as refusal:
            if refusal.close:
                raise  # the body could not be read: the connection must close
            return None
        uri = event.get("uri")
        return uri if isinstance(uri, str) else None

    def settle(self) -> None:
        """Discard the body if nobody read it, so that the connection can serve another."""
        if self._read is None:
            self._read = b""
            self.unreadable = not self._body.discard()
