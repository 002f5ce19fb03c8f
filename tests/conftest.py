"""Test-suite settings. The fixtures (accsyn_server, accsyn_session...) come from the
package's own pytest plugin, as they do for users."""

from __future__ import annotations

import os

import pytest
from generations import GENERATIONS, IDS
from hypothesis import settings

# Property tests explore new random examples on a developer's machine, and the same
# examples on every CI run, so that CI's verdict does not depend on the draw.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run tests marked ``both_generations`` on each API generation (see generations.py)."""
    if (
        metafunc.definition.get_closest_marker("both_generations") is not None
        and "accsyn_api_version" in metafunc.fixturenames
    ):
        metafunc.parametrize("accsyn_api_version", GENERATIONS, ids=IDS)
