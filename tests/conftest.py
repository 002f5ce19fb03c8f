"""Test-suite settings. The fixtures (accsyn_server, accsyn_session...) come from the
package's own pytest plugin, as they do for users."""

from __future__ import annotations

import os

from hypothesis import settings

# Property tests explore new random examples on a developer's machine, and the same
# examples on every CI run, so that CI's verdict does not depend on the draw.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
