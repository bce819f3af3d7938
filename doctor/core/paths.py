"""Where aidoctor keeps what it caches: one policy for every store."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def cache_dir() -> Path:
    """$AIDOCTOR_CACHE_DIR, else the platform's user cache folder (macOS: ~/Library/Caches) + aidoctor."""
    if os.environ.get("AIDOCTOR_CACHE_DIR"):
        return Path(os.environ["AIDOCTOR_CACHE_DIR"])
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "aidoctor"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aidoctor"
