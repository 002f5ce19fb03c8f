"""The ``accsyn server`` processes the benchmark measures against, and filling them with jobs.

A :class:`BenchServer` is this project's ``accsyn server`` in its own process,
started (and stopped) with the helpers of ``compat/run.py``; it knows its
credentials, its CA bundle when it serves TLS, its process's resident memory
and CPU time (from ``/proc``), and :meth:`BenchServer.seed` adds jobs through
the API, a thousand per ``job/create`` call, with :class:`rawclient.RawClient`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pathlib
import re
import sys
import tempfile
from types import ModuleType
from typing import Any, Dict, Iterator, List, Optional, Sequence

from rawclient import RawClient

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
SEED_CODE = "bench"
"""The code of every job :meth:`BenchServer.seed` adds: ``Job where code=bench`` finds them."""
SEED_CHUNK = 1000


def load_compat() -> ModuleType:
    """``compat/run.py`` as a module (its venv and server helpers are reused, not copied)."""
    spec = importlib.util.spec_from_file_location("compat_run", REPOSITORY / "compat" / "run.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("cannot load compat/run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


compat = load_compat()


class BenchServer:
    """A running ``accsyn server`` process (see :func:`running_server`)."""

    def __init__(self, process: Any) -> None:
        self.process = process  # compat's RunningServer
        exports: Dict[str, str] = process.exports
        self.url = exports["ACCSYN_URL"]
        self.workspace = exports.get("ACCSYN_WORKSPACE") or exports["ACCSYN_DOMAIN"]
        self.username = exports["ACCSYN_API_USER"]
        self.api_key = exports["ACCSYN_API_KEY"]
        found = re.search(r"verify='([^']+)'", process.output())
        self.ca_bundle: Optional[str] = found.group(1) if found else None

    @property
    def pid(self) -> int:
        """The server's process id."""
        return int(self.process.process.pid)

    def credentials(self, api_version: str) -> Dict[str, Any]:
        """What a worker spec needs to reach this server on ``api_version``."""
        return {
            "url": self.url,
            "workspace": self.workspace,
            "username": self.username,
            "api_key": self.api_key,
            "api_version": api_version,
            "ca_bundle": self.ca_bundle,
        }

    def official_environment(self) -> Dict[str, str]:
        """The environment of an official client's worker (``ACCSYN_*`` and the proxy)."""
        environment: Dict[str, str] = compat.client_environment(self.process)
        return environment

    def client(self, api_version: str = "1.0") -> RawClient:
        """A logged-in raw client of the employee."""
        raw = RawClient(
            self.url, self.workspace, self.username, self.api_key, api_version, self.ca_bundle
        )
        raw.login()
        return raw

    def seed(self, count: int, code: str = SEED_CODE) -> List[str]:
        """Add ``count`` active jobs (one task each) with code ``code``; their ids."""
        raw = self.client()
        ids: List[str] = []
        try:
            for first in range(0, count, SEED_CHUNK):
                specs = [
                    {
                        "source": f"share=projects/{code}/f{index:06d}.mov",
                        "destination": "lars@edit.com",
                        "code": code,
                    }
                    for index in range(first, min(first + SEED_CHUNK, count))
                ]
                ids.extend(job["id"] for job in raw.create("job", specs))
        finally:
            raw.close()
        return ids

    def rss_mb(self) -> float:
        """The server process's resident memory, in MB."""
        with open(f"/proc/{self.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS in /proc")

    def cpu_seconds(self) -> float:
        """CPU seconds (user + system) the server process has used so far."""
        with open(f"/proc/{self.pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def running_server(extra_args: Sequence[str] = ()) -> Iterator[BenchServer]:
    """``accsyn server`` (``extra_args`` such as ``--tls``) in its own process, stopped after."""
    with tempfile.TemporaryDirectory(prefix="accsyn-bench-") as workdir:
        process = compat.start_server(pathlib.Path(workdir), "1.0", list(extra_args))
        try:
            yield BenchServer(process)
        finally:
            process.stop()


def official_interpreters(install: bool) -> Dict[str, Any]:
    """``{api_version: (interpreter path, label)}`` of the official clients ready to run,
    and ``{"skipped": [reasons]}`` for those that are not."""
    found: Dict[str, Any] = {"skipped": []}
    for client in compat.CLIENTS:
        try:
            python = compat.ensure_venv(compat.default_venvs(), client, install)
        except compat.CannotRun as reason:
            found["skipped"].append(f"official {client.version}: {reason}")
            continue
        found[client.generation] = (str(python), f"official {client.version}")
    return found
