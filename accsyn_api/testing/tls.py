"""A throwaway certificate authority for serving HTTPS on loopback (``LocalServer(tls=True)``).

Made with `trustme <https://pypi.org/project/trustme/>`_, a test extra
(``pip install trustme`` or ``pip install 'accsyn-sdk[test]'``), imported only
when TLS is asked for.
"""

from __future__ import annotations

import os
import shutil
import ssl
import tempfile
from typing import Any, Optional

__all__ = ["ThrowawayTLS"]

CA_FILE_NAME = "accsyn-local-ca.pem"


def _trustme() -> Any:
    try:
        import trustme
    except ImportError:
        raise RuntimeError(
            "LocalServer(tls=True) needs the 'trustme' package to make a throwaway "
            "certificate: pip install trustme (or pip install 'accsyn-sdk[test]')."
        ) from None
    return trustme


class ThrowawayTLS:
    """A fresh CA, a server certificate for 127.0.0.1/localhost/::1, and the CA's PEM file.

    :attr:`ca_bundle` is the path of the CA certificate (give it to a client as
    ``verify=``); it lives in a temporary directory that :meth:`remove` deletes.
    """

    def __init__(self) -> None:
        trustme = _trustme()
        authority = trustme.CA(organization_name="accsyn_api LocalServer (throwaway)")
        certificate = authority.issue_cert("127.0.0.1", "localhost", "::1")
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(self.context)
        self._directory: Optional[str] = tempfile.mkdtemp(prefix="accsyn-local-tls-")
        self.ca_bundle = os.path.join(self._directory, CA_FILE_NAME)
        authority.cert_pem.write_to_path(self.ca_bundle)

    def wrap(self, connection: Any) -> ssl.SSLSocket:
        """The server side of a TLS connection over an accepted socket (handshake done)."""
        return self.context.wrap_socket(connection, server_side=True)

    def remove(self) -> None:
        """Delete the CA file and its directory. Safe to call twice."""
        directory, self._directory = self._directory, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
