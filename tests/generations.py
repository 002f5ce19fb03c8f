"""Running a test module on both API generations.

A module that puts ``pytestmark = both_generations`` at its top runs each of
its tests once per generation: the value overrides the plugin's
``accsyn_api_version`` fixture, so ``accsyn_server``, ``accsyn_session`` and
the other fixtures speak that generation. A test building its own server
passes ``api_version=accsyn_api_version`` to :class:`LocalServer`.
"""

from __future__ import annotations

import pytest

from accsyn_api.protocol.names import GENERATIONS

__all__ = ["GENERATIONS", "both_generations"]

both_generations = pytest.mark.parametrize(
    "accsyn_api_version", GENERATIONS, ids=[f"v{name}" for name in GENERATIONS]
)
