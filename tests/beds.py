"""The test beds a test may need, and what happens when one is missing: a skip here, a failure in CI.

`.ci/run` builds every bed and sets AIDOCTOR_REQUIRE_<BED>=1, so there a missing bed is a failure of
the tests that need it; on a contributor's machine those tests skip and say what to install.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

BEDS = ("arm64", "docker", "sshd", "chromium", "network", "torch")


def required(bed: str) -> bool:
    """Whether this run must have BED (AIDOCTOR_REQUIRE_<BED> set to anything but empty or 0)."""
    if bed not in BEDS:
        raise ValueError(f"unknown test bed {bed!r}: one of {', '.join(BEDS)}")
    return os.environ.get(f"AIDOCTOR_REQUIRE_{bed.upper()}", "") not in ("", "0")


def require(bed: str, problem: str | None) -> None:
    """Go on when PROBLEM is None; else skip the test (or module), or fail it where the bed is required."""
    if problem is None:
        return
    if required(bed):
        pytest.fail(f"{problem}; AIDOCTOR_REQUIRE_{bed.upper()}=1 makes that a failure", pytrace=False)
    pytest.skip(problem, allow_module_level=True)


def network_problem(timeout: float = 5.0) -> str | None:
    """Why the package index the `network` tests use cannot be reached, or None."""
    from aidoctor.doctor.check.index import INDEX_URL

    host = urlsplit(INDEX_URL).hostname or "pypi.org"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as exc:
        return f"the package index ({host}:443) cannot be reached ({exc}) for a test marked `network`"
    return None
