"""The CPU torch wheel this machine keeps in /opt/wheels: the "user's working torch" of the venv-based tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

CPU_WHEEL = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")


def require_cpu_wheel() -> Path:
    """The wheel, or skip: it is not on every machine, and it installs into CPython 3.11 only."""
    if not CPU_WHEEL.exists():
        pytest.skip(f"{CPU_WHEEL} is not here")
    if sys.version_info[:2] != (3, 11):
        pytest.skip("the local CPU torch wheel is for CPython 3.11")
    return CPU_WHEEL
