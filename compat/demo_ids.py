"""The ids of the reference server's demo workspace that both official-client scripts use.

Written out (from ``docs/testing.rst``) rather than imported from this project,
so that the scripts, which run with the official package under the same import
name, depend on nothing of ours.
"""

LATEST_EDIT = "614d660de50d45bb027c9bdd"
CAMERA_ROLLS = "5a7325f8b7ef72f5f9d74bf4"
X_AND_Y = "6150a1c2e50d45bb027c9c01"
MY_TRANSFER = "6150a1c2e50d45bb027c9c02"
UPLOAD = "6150a1c2e50d45bb027c9c03"
ABORTED = "6150a1c2e50d45bb027c9c04"
ARCHIVED = "6150a1c2e50d45bb027c9c05"
ACTIVE = tuple(sorted((LATEST_EDIT, CAMERA_ROLLS, X_AND_Y, MY_TRANSFER, UPLOAD)))
ROLLS_TASKS = ("26468234-c9ee-48d6-8d28-e900b5957129", "9d2b7c4e-1f3a-4e8b-b6c5-0a7e3d2f1c98")
