"""Moved to :mod:`axis_licensing.shell.plugins`; this path stays so that imports keep working."""

import sys

from axis_licensing.shell import plugins as _moved
from axis_licensing.shell.plugins import *  # noqa: F403

sys.modules[__name__] = _moved
