"""The latest smoke result per tool for each target environment, kept so `check` can say what was proven there.

`aidoctor install` and `aidoctor smoke` save; `aidoctor check` loads, without running the environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Protocol

from .jsonio import write_atomically
from .paths import smoke_dir

STORE_FORMAT = 1


class _Result(Protocol):
    tool: str

    def to_json(self) -> dict[str, Any]: ...


class SmokeStore:
    """The latest smoke result per tool for each target environment, in `<cache>/smoke/<hash of its prefix>.json`."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else smoke_dir()

    def path(self, python_prefix: str) -> Path:
        digest = hashlib.sha256(os.path.normpath(python_prefix).encode("utf-8", "surrogateescape")).hexdigest()
        return self.directory / f"{digest[:16]}.json"

    def load(self, python_prefix: str) -> dict[str, dict[str, Any]]:
        """Tool -> its latest result's JSON (with `saved_at`, seconds since the epoch); {} when none is stored."""
        try:
            data = json.loads(self.path(python_prefix).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if (not isinstance(data, dict) or data.get("format") != STORE_FORMAT
                or data.get("python_prefix") != os.path.normpath(python_prefix)
                or not isinstance(data.get("results"), dict)):
            return {}
        return dict(data["results"])

    def save(self, python_prefix: str, result: _Result) -> None:
        """Record `result` as its tool's latest in this environment. A cache that cannot be written is skipped:
        the result was already reported."""
        results = self.load(python_prefix)
        results[result.tool] = {**result.to_json(), "saved_at": round(time.time(), 3)}
        data = {"format": STORE_FORMAT, "python_prefix": os.path.normpath(python_prefix), "results": results}
        try:
            write_atomically(self.path(python_prefix), json.dumps(data, indent=1, sort_keys=True))
        except OSError:
            pass
