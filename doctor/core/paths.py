"""Where aidoctor keeps what it caches: one policy for every store.

The package-index cache, the smoke results, install runs, source builds and
the wheelhouse all live under one user cache folder (platformdirs: Linux
$XDG_CACHE_HOME or ~/.cache, macOS ~/Library/Caches), so moving it with
AIDOCTOR_CACHE_DIR moves all of them together.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def cache_dir() -> Path:
    """$AIDOCTOR_CACHE_DIR, else the platform's user cache folder + aidoctor."""
    if os.environ.get("AIDOCTOR_CACHE_DIR"):
        return Path(os.environ["AIDOCTOR_CACHE_DIR"]).expanduser()
    return platformdirs.user_cache_path("aidoctor", appauthor=False)


def wheelhouse_dir() -> Path:
    """$AIDOCTOR_WHEELHOUSE, else `wheelhouse` in the cache folder."""
    if os.environ.get("AIDOCTOR_WHEELHOUSE"):
        return Path(os.environ["AIDOCTOR_WHEELHOUSE"]).expanduser()
    return cache_dir() / "wheelhouse"


def runs_dir() -> Path:
    """One folder per install run: its log, constraints, pip reports and backups."""
    return cache_dir() / "runs"


def builds_dir() -> Path:
    """Source builds, keyed so that an interrupted build resumes with its compiled objects."""
    return cache_dir() / "builds"


def smoke_dir() -> Path:
    """The latest smoke result per tool for each target environment."""
    return cache_dir() / "smoke"


def journals_dir() -> Path:
    """One journal per environment an install is changing: what a crash leaves for `aidoctor repair`.

    Beside the runs, because a journal points at its run's backup: moving the cache moves both.
    """
    return cache_dir() / "journals"
