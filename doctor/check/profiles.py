"""Built-in profiles: the facts of real machines, for `--profile` and `compare`.

Each profile is a JSON file in profiles/ holding `profile` (name, title,
memory bandwidth, notes, sources) and `facts` in the facts-file format. The
facts come from recorded outputs of real machines (shared/fixtures, named in
`sources`); what a profile assumes beyond them (a Python version, a memory
size out of several configurations) its `notes` say.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, replace
from importlib import resources

from ..core.errors import UnknownProfile
from ..core.facts import Machine
from ..core.hardware import Hardware, parse_hardware


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    memory_bandwidth_gbs: float
    notes: str
    sources: tuple[str, ...]
    machine: Machine
    hardware: Hardware  # sourced figures for `aidoctor fit` (compute, memory, bandwidth, power)


@functools.cache
def all_profiles() -> dict[str, Profile]:
    profiles = {}
    for entry in sorted(resources.files(__package__).joinpath("profiles").iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        data = json.loads(entry.read_text())
        meta = data["profile"]
        machine = Machine.from_json(data["facts"], where=f"profile {meta['name']}")
        machine = replace(machine, memory_bandwidth_gbs=float(meta["memory_bandwidth_gbs"]))
        profiles[meta["name"]] = Profile(meta["name"], meta["title"], float(meta["memory_bandwidth_gbs"]),
                                         meta["notes"], tuple(meta["sources"]), machine,
                                         parse_hardware(meta["hardware"], f"profile {meta['name']}"))
    return profiles


def load(name: str) -> Profile:
    profiles = all_profiles()
    key = name.strip().lower()
    if key not in profiles:
        raise UnknownProfile(name, sorted(profiles))
    return profiles[key]
