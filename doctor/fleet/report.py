"""`aidoctor report`: one machine's check report, ready to travel to a fleet matrix.

It is the `aidoctor check --json` object (smoke results included) plus three
keys: `label` (what the user calls the machine, or null), `machine_id` (a
salted hash, so two reports of one machine can be told apart without naming
it) and `created_at`. Host names, serials and paths stay out unless asked for.
"""

from __future__ import annotations

import hashlib
import json
import socket
import sys
from pathlib import Path

from ..check.engine import CheckRequest, run_check
from ..core.errors import BadInput
from ..core.jsonio import utc_timestamp, write_output
from .reportfile import MAX_LABEL_CHARS

# /etc/machine-id is unique per install (machine-id(5)); dbus keeps a copy on systems without systemd.
MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")


def parse_machine_id(text: str | None) -> str | None:
    """The 32-hex-digit id of machine-id(5), or None for an empty or uninitialized file."""
    value = (text or "").strip()
    if len(value) == 32 and all(c in "0123456789abcdef" for c in value.lower()):
        return value.lower()
    return None


def machine_hash(raw_id: str) -> str:
    # Salted so the hash cannot be matched against the raw id that other tools report.
    return hashlib.sha256(b"aidoctor machine\0" + raw_id.encode()).hexdigest()[:16]


def local_machine_id() -> str:
    for path in MACHINE_ID_FILES:
        try:
            raw = parse_machine_id(Path(path).read_text(encoding="ascii", errors="replace"))
        except OSError:
            continue
        if raw:
            return machine_hash(raw)
    return machine_hash("host:" + socket.gethostname())  # macOS, containers: the host name is what there is


def check_label(label: str | None) -> str | None:
    if label is None:
        return None
    if not label.strip() or len(label) > MAX_LABEL_CHARS:
        raise BadInput(f"--label must be 1 to {MAX_LABEL_CHARS} characters")
    return label


def make_report(request: CheckRequest, label: str | None = None) -> dict:
    report = run_check(request).to_json()
    if label is None and request.include_identifiers:
        label = socket.gethostname()
    report["label"] = check_label(label)
    report["machine_id"] = local_machine_id()
    report["created_at"] = utc_timestamp()
    return report


def write_report(report: dict, destination: str) -> None:
    """Write to a file atomically (a killed run leaves the old file or none), or to stdout for "-"."""
    text = json.dumps(report, indent=2) + "\n"
    if destination == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_output(Path(destination), text)
