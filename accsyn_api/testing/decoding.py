"""Reading requests for the reference server's front ends: refusals and decoders.

The server keeps its own decoders (it never imports the client's protocol
modules), so that it stays an independent check on the client. A request that
cannot be read raises :class:`Refusal`, answered as a JSON refusal
``{"message", "message_hr", "error_code"}`` with its HTTP status.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from typing import Any, Dict, Optional, Tuple
from urllib.parse import unquote

from accsyn_api import codec

__all__ = [
    "Refusal",
    "decode_b64_json",
    "decode_event",
    "decode_json_object",
    "decode_query_object",
    "refusal_reply",
    "unpack_gz_data",
]


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
        value = codec.decode(raw)
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
        value = codec.decode(raw)
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
    """A copy of ``event`` with ``gz_data`` (base64 of gzipped JSON) replaced by ``data``."""
    packed = event.get("gz_data")
    if not isinstance(packed, str):
        raise Refusal(400, "gz_data must be a string: base64 of gzipped JSON.")
    try:
        text = gzip.decompress(base64.b64decode(packed, validate=True))
    except (ValueError, OSError, EOFError, zlib.error) as exc:  # binascii.Error is a ValueError
        raise Refusal(
            400,
            f"gz_data could not be unpacked: {exc}",
            "The compressed payload (gz_data) is not base64 of gzip data.",
        ) from None
    try:
        data = codec.decode(text)
    except ValueError as exc:
        raise Refusal(400, f"gz_data does not hold valid JSON: {exc}") from None
    unpacked = {key: value for key, value in event.items() if key != "gz_data"}
    unpacked["data"] = data
    return unpacked


def decode_event(method: str, body: bytes, raw_query: str, where: str) -> Dict[str, Any]:
    """The event of a request: the query string of GET/DELETE, else the body; unpacked."""
    if method in ("GET", "DELETE"):
        event = decode_query_object(raw_query, "event", f"{method} {where}")
    else:
        event = decode_json_object(body, "event")
    if "gz_data" in event:
        event = unpack_gz_data(event)
    return event
