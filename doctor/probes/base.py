"""What a probe returns: some facts, and why others are unknown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Partial:
    """Facts one probe found, keyed by `Machine` field name, plus reasons for what it could not find.

    A probe fills only the facts it owns; a fact it owns but cannot read goes
    into `unknown` with a one-line reason ("nvidia-smi did not answer within 5 s").
    """

    facts: dict[str, Any] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)
    identifiers: dict[str, Any] = field(default_factory=dict)  # host name, serials, UUIDs: only shown on request
