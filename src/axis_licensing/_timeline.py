"""Moved to :mod:`axis_licensing.shell.timeline`; this path stays so that imports keep working."""

import sys

from axis_licensing.shell import timeline as _moved
from axis_licensing.shell.timeline import *  # noqa: F403

sys.modules[__name__] = _moved
