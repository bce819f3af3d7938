"""Which installed distributions the binary audit reads: a module of its own, so the CLI can check the
option without importing the audit."""

from __future__ import annotations

import enum


class Scope(str, enum.Enum):
    TOOLS = "tools"  # the installed tools, their companions and what they require (torch's nvidia-* libraries)
    ALL = "all"  # every installed distribution
    OFF = "off"
