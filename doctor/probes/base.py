"""What a probe returns: some facts, and why others are unknown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ..core.facts import FactState
from ..core.system import CommandResult


@dataclass
class Partial:
    """Facts one probe found, keyed by `Machine` field name, plus reasons for what it could not find.

    A probe fills only the facts it owns; a fact it owns but cannot read goes
    into `unknown` with a one-line reason ("nvidia-smi did not answer within 5 s").
    """

    facts: dict[str, Any] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)
    identifiers: dict[str, Any] = field(default_factory=dict)  # host name, serials, UUIDs: only shown on request
    states: dict[str, FactState] = field(default_factory=dict)  # of the facts in `unknown`; UNKNOWN when not listed

    def lack(self, keys: Iterable[str], reason: str, state: FactState = FactState.UNKNOWN) -> Partial:
        """Record that the facts `keys` have no value, why, and in which state."""
        for key in keys:
            self.unknown[key] = reason
            self.states[key] = state
        return self

    def state(self, key: str) -> FactState:
        return self.states.get(key, FactState.UNKNOWN)


def state_of(result: CommandResult) -> FactState:
    """A command that ran out of time leaves its facts timed out; any other failure, unknown."""
    return FactState.TIMED_OUT if result.timed_out else FactState.UNKNOWN
