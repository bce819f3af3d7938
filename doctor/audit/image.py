"""Bounded reads from a binary, and the one reason a file cannot be read.

A parser never indexes the image itself: it asks `read(image, offset, size)`,
which refuses offsets past the end, so a hostile header cannot send it outside
the file or make it allocate more than the file holds. An image is anything
with `len()` and slicing: `bytes`, an `mmap` of the file (only the pages read
are touched), or the recorded slices of a real binary that the tests replay.
"""

from __future__ import annotations

import struct
from typing import Protocol


class Malformed(Exception):
    """A binary whose headers cannot be believed; the message is the one-line reason."""


class Image(Protocol):
    def __len__(self) -> int: ...

    def __getitem__(self, key: slice, /) -> bytes: ...


def read(image: Image, offset: int, size: int, what: str) -> bytes:
    if offset < 0 or size < 0 or offset + size > len(image):
        raise Malformed(f"truncated: {what} at offset {offset} (+{size} bytes) is past the end "
                        f"of the {len(image)}-byte file")
    return bytes(image[offset:offset + size])


def unpack(image: Image, layout: struct.Struct, offset: int, what: str) -> tuple:
    return layout.unpack(read(image, offset, layout.size, what))


def c_string(image: Image, offset: int, what: str, limit: int = 4096) -> str:
    """A NUL-terminated string of at most `limit` bytes."""
    end = min(len(image), offset + limit)
    chunk = read(image, offset, max(0, end - offset), what)
    nul = chunk.find(b"\x00")
    if nul < 0:
        raise Malformed(f"{what} at offset {offset} is not terminated within {limit} bytes")
    return chunk[:nul].decode("utf-8", "replace")
