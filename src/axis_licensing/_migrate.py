"""Moved to :mod:`axis_licensing.shell.migrate`; this path stays so that imports keep working."""

import sys

from axis_licensing.shell import migrate as _moved
from axis_licensing.shell.migrate import *  # noqa: F403

sys.modules[__name__] = _moved
