"""Recorded slices of real binaries: exactly the bytes the audit's parsers read, and nothing else.

A real wheel's shared object is megabytes; the parsers read a few kilobytes of
it. `record` runs the parser over the real file and keeps every range it read
(tests/fixtures/binaries/record.py writes them with their source);
`SlicedImage` replays them with the real file's length, and fails the test if
the parser reads a byte that was not recorded, so a parser that starts reading
more (or elsewhere) has to be re-recorded, never silently fed zeros.
"""

from __future__ import annotations

import base64
import json
import mmap
from pathlib import Path
from typing import Callable

from aidoctor.doctor.audit.binary import BinaryFacts, parse_binary

BINARIES = Path(__file__).parents[1] / "fixtures" / "binaries"


class SlicedImage:
    def __init__(self, size: int, ranges: list[tuple[int, bytes]]) -> None:
        self.size = size
        self.ranges = sorted(ranges)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: slice) -> bytes:
        start, stop = key.start, min(key.stop, self.size)
        for offset, data in self.ranges:
            if offset <= start and stop <= offset + len(data):
                return data[start - offset:stop - offset]
        raise AssertionError(f"the parser read bytes {start}-{stop}, which were not recorded: re-record the slices")


class _Recorder:
    def __init__(self, image) -> None:
        self.image = image
        self.reads: list[tuple[int, int]] = []

    def __len__(self) -> int:
        return len(self.image)

    def __getitem__(self, key: slice) -> bytes:
        self.reads.append((key.start, min(key.stop, len(self.image))))
        return self.image[key]


def record(path: Path, source: str, out: Path, parse: Callable = parse_binary, **options) -> None:
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as image:
        recorder = _Recorder(image)
        parse(recorder, **options)
        merged: list[list[int]] = []
        for start, stop in sorted(recorder.reads):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], stop)
            else:
                merged.append([start, stop])
        ranges = [[start, base64.b64encode(image[start:stop]).decode()] for start, stop in merged]
        out.write_text(json.dumps({"source": source, "file": path.name, "size": len(image), "options": options,
                                   "ranges": ranges}, indent=0) + "\n")


def load(name: str) -> tuple[SlicedImage, dict]:
    data = json.loads((BINARIES / name).read_text())
    image = SlicedImage(data["size"], [(offset, base64.b64decode(text)) for offset, text in data["ranges"]])
    return image, data


def parse_recorded(name: str) -> BinaryFacts:
    image, data = load(name)
    return parse_binary(image, **data["options"])
