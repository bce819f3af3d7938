"""Files written whole or not at all, the JSON result a script prints last, and UTC timestamps.

Reports, the package-index cache and the smoke store are all replaced in one
rename, so a killed run leaves the old file or none, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from .errors import BadInput


def write_atomically(path: Path, content: str | bytes) -> None:
    """Replace `path` with `content` in one rename, creating its folder. Raises OSError."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide a report that is meant to be shared
        with os.fdopen(fd, "wb") as out:
            out.write(content.encode() if isinstance(content, str) else content)
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def write_output(path: Path, content: str | bytes) -> None:
    """write_atomically for a file the user named (-o FILE): a failure is one line of bad input."""
    try:
        write_atomically(path, content)
    except OSError as exc:
        raise BadInput(f"cannot write {path}: {exc.strerror or exc}") from None


def last_json_object(text: str) -> dict[str, Any] | None:
    """The last line of a script's output that is a JSON object, or None when that line does not parse.

    Scripts run in a target Python print their result last, after whatever an imported library printed.
    """
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None


def utc_timestamp() -> str:
    """Now, as ISO 8601 UTC to the second: 2026-11-22T10:00:00Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
