"""Moved to :mod:`axis_licensing.shell.parts`; this path stays so that imports keep working."""

import sys

from axis_licensing.shell import parts as _moved
from axis_licensing.shell.parts import *  # noqa: F403

sys.modules[__name__] = _moved
