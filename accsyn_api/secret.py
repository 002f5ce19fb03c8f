"""Secrets that never show themselves: :class:`Secret`, and :class:`SecretMask` for errors.

A :class:`Secret` holds an API key, a session key or a header that carries
one, with a masked ``repr``. A :class:`SecretMask` recognises every form in
which the library sends a secret and masks it out of error texts, whatever a
server or a proxy echoed back. Defined apart from :mod:`accsyn_api.settings`
so that every module holding a secret can import them without importing the
others; :mod:`accsyn_api.settings` re-exports :class:`Secret`.
"""

from __future__ import annotations

import base64
import threading
from typing import List, Set, Union
from urllib.parse import quote

__all__ = ["MIN_SECRET_LENGTH", "Secret", "SecretMask"]

MIN_SECRET_LENGTH = 8
"""Shorter texts (as the keys of examples) are not masked: they would mask ordinary words."""


class Secret:
    """A secret text (an API key or a session key) that never shows itself by accident.

    ``repr`` and ``str`` give ``'***'``; :meth:`reveal` gives the text, for
    the few places that must send it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret text itself."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def _base64_cores(secret: bytes) -> List[str]:
    """The base64 text that stands for ``secret`` wherever it sits in a longer encoded text.

    Base64 turns 3 bytes into 4 characters, so the same secret encodes in
    three ways depending on its offset. For each, only the characters made
    of the secret's bits alone are kept.
    """
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + secret).decode("ascii")
        unpadded = encoded.rstrip("=")
        mixed_tail = 1 if (offset + len(secret)) % 3 else 0
        cores.append(unpadded[(0, 2, 3)[offset] : len(unpadded) - mixed_tail])
    return [core for core in cores if len(core) >= MIN_SECRET_LENGTH]


def _forms(secret: str) -> Set[str]:
    """Every form in which ``secret`` can come back: as it is, in base64, URL-encoded..."""
    found = {secret}
    _scheme, space, payload = secret.partition(" ")
    if space and payload:  # an Authorization value: its payload alone too
        found.add(payload)
        found.update(part for part in payload.split(":") if len(part) >= MIN_SECRET_LENGTH)
    for core in _base64_cores(secret.encode("utf-8")):
        found.update((core, core.replace("+", "-").replace("/", "_")))
    for form in list(found):
        found.update((quote(form, safe=""), form.replace("/", "\\/")))
    return {form for form in found if len(form) >= MIN_SECRET_LENGTH}


class SecretMask:
    """The secrets a transport sent, and :meth:`scrub`, which masks them out of a text.

    Each secret registered (a key, or an ``Authorization`` value holding one)
    is recognised as it is, in base64 at any offset (standard or URL-safe,
    so inside any base64 JSON that carries it), percent-encoded and with
    JSON-escaped slashes. Texts shorter than :data:`MIN_SECRET_LENGTH` are not
    registered (they would mask ordinary words). The ``repr`` shows none.
    """

    def __init__(self) -> None:
        self._secrets: Set[str] = set()
        self._forms: List[str] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<SecretMask of {len(self._secrets)} secrets>"

    def add(self, *secrets: Union[str, Secret, None]) -> None:
        """Register each secret (cheap when it is already known)."""
        for secret in secrets:
            text = secret.reveal() if isinstance(secret, Secret) else secret
            if not text or len(text) < MIN_SECRET_LENGTH or text in self._secrets:
                continue
            with self._lock:
                if text not in self._secrets:
                    self._secrets.add(text)
                    forms = set(self._forms) | _forms(text)
                    self._forms = sorted(forms, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """``text`` with every form of every registered secret replaced by ``***``."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, "***")
        return text
