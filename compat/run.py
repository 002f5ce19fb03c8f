"""Run the official accsyn clients, unmodified, against ``accsyn server``.

For each official release (2.2.1 speaks v1.0, 3.4.0 speaks v3) this runner

1. makes sure a virtual environment of its own holds exactly that release
   (``pip install accsyn-python-api==<version>``; an existing environment with
   the right version is reused), because the official package and this
   project share the import name ``accsyn_api``;
2. starts ``python -m accsyn_api server`` of *this* project on a free port,
   with a fresh demo workspace, and reads the ``export`` lines it prints;
3. runs the release's script (``official_v1.py`` or ``official_v3.py``) with the
   environment's own interpreter, in an empty temporary directory, pointed at
   the server through the official clients' ``ACCSYN_PROXY`` setting;
4. prints one line per operation checked, then ``N passed, N failed``.

It exits 0 when every check passed, 1 when one failed, 2 when it could not
run (no environment and ``--no-install``, a server that did not start). It
uses only the standard library and never imports the official package into
its own interpreter.

    python compat/run.py                      # both releases
    python compat/run.py --client 3.4.0       # one of them
    python compat/run.py --server-arg=--fault=unavailable:uri=job/edit
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

HERE = pathlib.Path(__file__).resolve().parent
REPOSITORY = HERE.parent
DEFAULT_VENVS = REPOSITORY / ".compat"
VENVS_VARIABLE = "ACCSYN_COMPAT_VENVS"
DISTRIBUTION = "accsyn-python-api"

SERVER_START_SECONDS = 30.0
SCRIPT_SECONDS = 120.0
INSTALL_SECONDS = 600.0

PASS, FAIL, END = "PASS ", "FAIL ", "END"
"""The line prefixes a script prints (see ``checks.py``)."""


@dataclasses.dataclass(frozen=True)
class OfficialClient:
    """One official release and the script of operations it runs."""

    version: str
    generation: str
    script: str

    @property
    def requirement(self) -> str:
        """The pip requirement that installs exactly this release."""
        return f"{DISTRIBUTION}=={self.version}"


CLIENTS: Tuple[OfficialClient, ...] = (
    OfficialClient("2.2.1", "1.0", "official_v1.py"),
    OfficialClient("3.4.0", "3", "official_v3.py"),
)


@dataclasses.dataclass
class Tally:
    """Checks counted over all scripts."""

    passed: int = 0
    failed: int = 0

    def add(self, line: str) -> None:
        """Print a result line and count it."""
        print(line, flush=True)
        if line.startswith(PASS):
            self.passed += 1
        else:
            self.failed += 1


class CannotRun(Exception):
    """The suite cannot run here (no environment, no server): exit status 2."""


# -- the virtual environments ---------------------------------------------------------


def default_venvs() -> pathlib.Path:
    """The environments folder: ``$ACCSYN_COMPAT_VENVS``, else ``.compat`` in the checkout."""
    return pathlib.Path(os.environ.get(VENVS_VARIABLE) or DEFAULT_VENVS)


def venv_python(venv: pathlib.Path) -> pathlib.Path:
    """The interpreter of the virtual environment ``venv``."""
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def venv_path(venvs: pathlib.Path, client: OfficialClient) -> pathlib.Path:
    """Where the environment of ``client`` lives below ``venvs``."""
    return venvs / f"{DISTRIBUTION}-{client.version}"


_PROBE = (
    "import importlib.metadata as m, importlib.util as u, sys\n"
    "spec = u.find_spec('accsyn_api')\n"
    "where = spec.origin if spec else ''\n"
    f"print(m.version({DISTRIBUTION!r}), where.startswith(sys.prefix))\n"
)


def venv_ready(venv: pathlib.Path, client: OfficialClient) -> bool:
    """True when ``venv`` imports ``accsyn_api`` from exactly ``client``'s release."""
    python = venv_python(venv)
    if not python.exists():
        return False
    probe = subprocess.run(  # noqa: S603 - the environment's own interpreter, our probe
        [str(python), "-I", "-c", _PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return probe.returncode == 0 and probe.stdout.split() == [client.version, "True"]


def ensure_venv(venvs: pathlib.Path, client: OfficialClient, install: bool) -> pathlib.Path:
    """The interpreter of a ready environment for ``client``, created if needed and allowed."""
    venv = venv_path(venvs, client)
    if venv_ready(venv, client):
        return venv_python(venv)
    if not install:
        raise CannotRun(
            f"no environment with {client.requirement} at {venv}; "
            "run compat/run.py without --no-install to create it (needs the package index)"
        )
    print(f"# installing {client.requirement} into {venv}", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    _run_or_fail([sys.executable, "-m", "venv", str(venv)], "create the environment")
    pip = [str(venv_python(venv)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run_or_fail([*pip, client.requirement], f"install {client.requirement}")
    if not venv_ready(venv, client):
        raise CannotRun(f"{venv} does not import {client.requirement} after installing it")
    return venv_python(venv)


def _run_or_fail(command: List[str], what: str) -> None:
    done = subprocess.run(  # noqa: S603 - fixed commands built above
        command, capture_output=True, text=True, timeout=INSTALL_SECONDS, check=False
    )
    if done.returncode != 0:
        raise CannotRun(f"could not {what}: {done.stderr.strip() or done.stdout.strip()}")


# -- the server -------------------------------------------------------------------------


@dataclasses.dataclass
class RunningServer:
    """An ``accsyn server`` subprocess and what it printed."""

    process: subprocess.Popen[bytes]
    log: pathlib.Path
    exports: Dict[str, str]

    @property
    def address(self) -> Tuple[str, int]:
        """The host and port it listens on, from its ``ACCSYN_URL`` line."""
        url = urllib.parse.urlsplit(self.exports["ACCSYN_URL"])
        if url.hostname is None or url.port is None:
            raise CannotRun(f"cannot read host and port from ACCSYN_URL={url.geturl()}")
        return url.hostname, url.port

    def output(self) -> str:
        """Everything the server printed so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Stop the server (it stops cleanly on SIGTERM)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    workdir: pathlib.Path, generation: str, extra_args: Sequence[str]
) -> RunningServer:
    """Start this project's ``accsyn server`` on a free port and read its export lines.

    ``generation`` (``"1.0"`` or ``"3"``) chooses which API's settings it prints;
    it serves both.
    """
    log = workdir / "server.log"
    command = [sys.executable, "-m", "accsyn_api", "server", "--port", "0"]
    command += ["--api-version", generation, *extra_args]
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
            command, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = RunningServer(process, log, {})
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        text = server.output()
        if "Ctrl-C stops the server" in text:
            server.exports = dict(_export_lines(text))
            return server
        if process.poll() is not None:
            break
        time.sleep(0.05)
    server.stop()
    raise CannotRun(f"accsyn server did not start ({' '.join(command)}):\n{server.output()}")


def _export_lines(text: str) -> Iterator[Tuple[str, str]]:
    for line in text.splitlines():
        if line.startswith("export ") and "=" in line:
            name, _, value = line[len("export ") :].partition("=")
            yield name.strip(), value.strip()


# -- the scripts ------------------------------------------------------------------------


def client_environment(server: RunningServer) -> Dict[str, str]:
    """The environment of an official script: the server's credentials, reached via the proxy.

    Both official clients send every call, the host look-up included, to the
    ``accsyn:<host>:<port>`` proxy over plain HTTP, path unchanged. Settings
    that could redirect them (other ``ACCSYN_*``, ``AS_DEV``, ``PYTHON*``) are
    removed.
    """
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ACCSYN_", "PYTHON")) and name != "AS_DEV"
    }
    workspace = server.exports.get("ACCSYN_WORKSPACE") or server.exports["ACCSYN_DOMAIN"]
    host, port = server.address
    environment.update(
        ACCSYN_DOMAIN=workspace,
        ACCSYN_WORKSPACE=workspace,
        ACCSYN_API_USER=server.exports["ACCSYN_API_USER"],
        ACCSYN_API_KEY=server.exports["ACCSYN_API_KEY"],
        ACCSYN_PROXY=f"accsyn:{host}:{port}",
    )
    return environment


def run_script(
    python: pathlib.Path, client: OfficialClient, server: RunningServer, tally: Tally
) -> None:
    """Run ``client``'s script against ``server`` and count the lines it prints."""
    label = f"[{client.version} v{client.generation}]"
    with tempfile.TemporaryDirectory(prefix="accsyn-compat-") as cwd:  # no .env in it
        try:
            done = subprocess.run(  # noqa: S603 - the environment's interpreter, our script
                [str(python), "-B", "-E", "-s", str(HERE / client.script)],
                cwd=cwd,
                env=client_environment(server),
                capture_output=True,
                text=True,
                timeout=SCRIPT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as expired:
            tally.add(f"{FAIL}{label} script did not finish in {SCRIPT_SECONDS:.0f} s")
            _show("its output", _text(expired.stdout) + _text(expired.stderr))
            return
    lines = done.stdout.splitlines()
    for line in lines:
        if line.startswith((PASS, FAIL)):
            tally.add(f"{line[:5]}{label} {line[5:]}")
    if done.returncode != 0 or END not in lines:
        tally.add(f"{FAIL}{label} {client.script} ended early (exit status {done.returncode})")
    if done.returncode != 0 or END not in lines or any(x.startswith(FAIL) for x in lines):
        _show(f"stderr of {client.script}", done.stderr)
        _show("server log", server.output())


def _text(output: object) -> str:
    if isinstance(output, bytes):
        return output.decode("utf-8", errors="replace")
    return str(output or "")


def _show(title: str, text: str) -> None:
    tail = "\n".join(text.strip().splitlines()[-40:])
    print(f"# --- {title} (last lines) ---\n{tail}\n# ---", flush=True)


# -- main -------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--venvs",
        type=pathlib.Path,
        default=default_venvs(),
        help=f"folder of the official clients' environments (${VENVS_VARIABLE}, default .compat)",
    )
    parser.add_argument(
        "--client",
        action="append",
        choices=[client.version for client in CLIENTS],
        help="run only this official release (repeatable; default all)",
    )
    parser.add_argument(
        "--no-install", action="store_true", help="use existing environments, install nothing"
    )
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        help="pass an argument to `accsyn server`, e.g. --server-arg=--fault=delay:uri=job/edit",
    )
    return parser


def run(argv: Optional[Sequence[str]] = None) -> int:
    """Run the suite; the exit status (0 all passed, 1 a check failed, 2 could not run)."""
    args = _parser().parse_args(argv)
    chosen = [client for client in CLIENTS if not args.client or client.version in args.client]
    tally = Tally()
    try:
        pythons = [ensure_venv(args.venvs.resolve(), c, not args.no_install) for c in chosen]
        for client, python in zip(chosen, pythons):
            with tempfile.TemporaryDirectory(prefix="accsyn-compat-server-") as workdir:
                server = start_server(pathlib.Path(workdir), client.generation, args.server_arg)
                try:
                    run_script(python, client, server, tally)
                finally:
                    server.stop()
    except CannotRun as error:
        print(f"# cannot run the compatibility suite: {error}", file=sys.stderr)
        return 2
    print(f"{tally.passed} passed, {tally.failed} failed", flush=True)
    return 0 if tally.failed == 0 and tally.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(run())
