"""The recorded package-index answers (tests/fixtures/index/cache), read through a private copy.

The index keeps each pick beside its file list, keyed by that list's mtime, which a fresh checkout changes:
reading the fixtures in place would rewrite tracked files on every run. So tests read a copy.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from aidoctor.doctor.check.index import Index

RECORDED_CACHE = Path(__file__).parent / "fixtures" / "index" / "cache"


@functools.cache
def recorded_cache() -> Path:
    """A copy of the recorded cache for this test session, removed at exit."""
    scratch = Path(tempfile.mkdtemp(prefix="aidoctor-recorded-index-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    shutil.copytree(RECORDED_CACHE, scratch / "cache")
    return scratch / "cache"


def recorded_index() -> Index:
    """The recorded answers, offline, as `aidoctor check --offline` would read them."""
    return Index(recorded_cache(), offline=True)
