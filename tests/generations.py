"""Running tests on both API generations.

A test marked ``both_generations`` (or a module with
``pytestmark = both_generations``) runs once per generation if it uses the
``accsyn_api_version`` fixture, directly or through ``accsyn_server``,
``accsyn_session`` and the other fixtures of the plugin; ``conftest.py``
parametrizes it. A test building its own server passes
``api_version=accsyn_api_version`` to :class:`LocalServer`. Tests that use
no server run once.
"""

from __future__ import annotations

import pytest

from accsyn_api.protocol.names import GENERATIONS

__all__ = ["GENERATIONS", "IDS", "both_generations"]

IDS = [f"v{name}" for name in GENERATIONS]
both_generations = pytest.mark.both_generations
