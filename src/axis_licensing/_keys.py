"""Moved to :mod:`axis_licensing.shell.keys`; this path stays so that imports keep working."""

import sys

from axis_licensing.shell import keys as _moved
from axis_licensing.shell.keys import *  # noqa: F403

sys.modules[__name__] = _moved
