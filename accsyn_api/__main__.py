"""``python -m accsyn_api``: the same as the ``accsyn`` command."""

import sys

from .cli import main

sys.exit(main())
