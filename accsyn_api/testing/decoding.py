"""Reading requests for the reference server's front ends: refusals and decoders.

The server keeps its own decoders (it never imports the client's protocol
modules), so that it stays an independent check on the client. A request that
cannot be read raises :class:`Refusal`, answered as a JSON refusal
``{"message", "message_hr", "error_code"}`` with its HTTP status.

Limits: ``gz_data`` may inflate to at most :data:`MAX_INFLATED_BYTES` (413
beyond; the inflation stops there), and JSON may nest at most
:data:`MAX_NESTING` arrays and objects deep (400 beyond).
"""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote

from accsyn_api import codec

__all__ = [
    "MAX_INFLATED_BYTES",
    "MAX_NESTING",
    "Refusal",
    "decode_b64_json",
    "decode_event",
    "decode_json_object",
    "decode_query_object",
    "refusal_reply",
    "unpack_gz_data",
]


MAX_INFLATED_BYTES = 32 * 1024 * 1024
"""The most bytes of JSON that ``gz_data`` may inflate to (32 MiB)."""
MAX_NESTING = 100
"""The deepest nesting of JSON arrays and objects that a request may hold."""
_INFLATE_CHUNK = 1024 * 1024


def refusal_reply(message: str, message_hr: str, error_code: str) -> Dict[str, Any]:
    """The JSON body of a refusal."""
    return {"message": message, "message_hr": message_hr, "error_code": error_code}


class Refusal(Exception):
    """A request the server cannot accept; answered as a JSON refusal with ``status``.

    ``close=True`` closes the connection after the reply (the request was not read whole).
    """

    def __init__(
        self,
        status: int,
        message: str,
        message_hr: Optional[str] = None,
        error_code: str = "invalid_data",
        *,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reply = refusal_reply(message, message_hr or message, error_code)
        self.close = close

    def answer(self) -> Tuple[int, Dict[str, Any]]:
        """The status and JSON body of this refusal."""
        return self.status, dict(self.reply)


def decode_b64_json(text: str, what: str) -> Dict[str, Any]:
    """The JSON object inside standard base64 ``text``; a 400 refusal if it is not one."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        value = _decode_json(raw, what)
    except (binascii.Error, ValueError) as exc:
        raise Refusal(
            400,
            f"The {what} is not base64 of a JSON object: {exc}",
            f"The {what} could not be read: it must be standard base64 of a JSON object.",
        ) from None
    if not isinstance(value, dict):
        raise Refusal(400, f"The {what} must hold a JSON object, not {type(value).__name__}.")
    return value


def decode_json_object(raw: bytes, what: str) -> Dict[str, Any]:
    """The JSON object in ``raw``; a 400 refusal if it is not one."""
    try:
        value = _decode_json(raw, what)
    except ValueError as exc:
        raise Refusal(
            400,
            f"The {what} is not valid JSON: {exc}",
            f"The {what} could not be read: it must be a JSON object.",
        ) from None
    if not isinstance(value, dict):
        raise Refusal(400, f"The {what} must be a JSON object, not {type(value).__name__}.")
    return value


def decode_query_object(raw_query: str, what: str, where: str) -> Dict[str, Any]:
    """The JSON object that is the whole percent-encoded query string of a GET or DELETE."""
    if not raw_query:
        raise Refusal(
            400,
            f"{where} needs the {what} as the query string.",
            f"The request holds no {what}: send the JSON {what}, percent-encoded, "
            "as the query string.",
        )
    return decode_json_object(unquote(raw_query).encode("utf-8"), what)


def unpack_gz_data(event: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of ``event`` with ``gz_data`` (base64 of gzipped JSON) replaced by ``data``.

    The payload is inflated only up to :data:`MAX_INFLATED_BYTES`: a 413 refusal beyond.
    """
    packed = event.get("gz_data")
    if not isinstance(packed, str):
        raise Refusal(400, "gz_data must be a string: base64 of gzipped JSON.")
    try:
        text = _inflate(base64.b64decode(packed, validate=True))
    except (ValueError, zlib.error) as exc:  # binascii.Error is a ValueError
        raise Refusal(
            400,
            f"gz_data could not be unpacked: {exc}",
            "The compressed payload (gz_data) is not base64 of gzip data.",
        ) from None
    try:
        data = _decode_json(text, "gz_data")
    except ValueError as exc:
        raise Refusal(400, f"gz_data does not hold valid JSON: {exc}") from None
    unpacked = {key: value for key, value in event.items() if key != "gz_data"}
    unpacked["data"] = data
    return unpacked


def _inflate(packed: bytes) -> bytes:
    """The gzip ``packed`` inflated (every member), refused once past MAX_INFLATED_BYTES."""
    inflated = bytearray()
    rest = packed
    while True:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing
        pending = rest
        while pending:
            room = MAX_INFLATED_BYTES + 1 - len(inflated)
            inflated += inflater.decompress(pending, min(room, _INFLATE_CHUNK))
            if len(inflated) > MAX_INFLATED_BYTES:
                raise _too_large("gz_data", "inflates to")
            pending = inflater.unconsumed_tail
        if not inflater.eof:
            raise ValueError("the gzip data ends before its end marker")
        rest = inflater.unused_data
        if not rest.strip(b"\0"):  # gzip allows zero padding after the last member
            return bytes(inflated)


def _too_large(what: str, verb: str) -> Refusal:
    limit_mib = MAX_INFLATED_BYTES // (1024 * 1024)
    return Refusal(
        413,
        f"The {what} {verb} more than {MAX_INFLATED_BYTES} bytes ({limit_mib} MiB), "
        "the server's limit.",
        f"The request is too large: its {what} {verb} more than {limit_mib} MiB of JSON. "
        "Send the work in smaller calls (fewer jobs or tasks per call).",
        close=True,
    )


def _decode_json(raw: bytes, what: str) -> Any:
    """JSON ``raw`` decoded (dates as datetimes); a 400 Refusal when nested too deep."""
    try:
        value = codec.decode(raw)
    except RecursionError:
        raise _too_deep(what) from None
    except ValueError as exc:  # a decoder may report its recursion limit as bad JSON
        if isinstance(exc.__cause__ or exc.__context__, RecursionError):
            raise _too_deep(what) from None
        raise
    if raw.count(b"[") + raw.count(b"{") > MAX_NESTING and _nesting_exceeds(value, MAX_NESTING):
        raise _too_deep(what)
    return value


def _too_deep(what: str) -> Refusal:
    return Refusal(
        400,
        f"The {what} nests arrays and objects more than {MAX_NESTING} levels deep.",
        f"The {what} is nested too deeply (more than {MAX_NESTING} levels of arrays and "
        "objects); no real request needs that many.",
    )


def _nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists and dicts more than ``limit`` deep (no recursion)."""
    stack: List[Tuple[Any, int]] = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def decode_event(method: str, body: bytes, raw_query: str, where: str) -> Dict[str, Any]:
    """The event of a request: the query string of GET/DELETE, else the body; unpacked."""
    if method in ("GET", "DELETE"):
        event = decode_query_object(raw_query, "event", f"{method} {where}")
    else:
        event = decode_json_object(body, "event")
    if "gz_data" in event:
        event = unpack_gz_data(event)
    return event
