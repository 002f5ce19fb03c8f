"""Sphinx configuration of the accsyn_api documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html``. Nothing here
needs the network: no intersphinx, and the theme ships with Sphinx.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import accsyn_api  # noqa: E402  (after the path is set, so the checkout is documented)

project = "accsyn_api"
author = "accsyn_api developers"
copyright = "accsyn_api developers"
version = accsyn_api.__version__
release = accsyn_api.__version__

extensions = ["sphinx.ext.autodoc"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

templates_path: list[str] = []
exclude_patterns = ["_build"]
nitpicky = False
pygments_style = "sphinx"

html_theme = "alabaster"
html_theme_options = {
    "description": "Python client for the accsyn file-delivery API",
    "fixed_sidebar": True,
}
html_static_path: list[str] = []
