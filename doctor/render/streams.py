"""stdout and stderr that print whatever their encoding (PYTHONIOENCODING=ascii, LANG=C): ASCII stand-ins, no crash.

Loaded by every command before anything prints, so it imports nothing but the standard library.
"""

from __future__ import annotations

import codecs
import sys

# Readable stand-ins for the glyphs aidoctor prints (and common ones in report text); any other character a stream
# cannot encode shows as its escape, as the matrix's `visible` writes it. Box lines are rich's to replace (it draws
# ASCII boxes when the stream's encoding is not UTF).
ASCII_FALLBACKS = {"·": "-", "×": "x", "…": "...", "—": "--", "–": "-", "→": "->", "≥": ">=", "≤": "<=",
                   "±": "+/-", "✓": "ok", "✗": "x", "•": "*"}
ERRORS = "aidoctor-ascii-fallback"


def ascii_fallback(error: UnicodeError) -> tuple[str, int]:
    """A codecs error handler: the unencodable run of characters as their stand-ins."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start:error.end]
    return "".join(ASCII_FALLBACKS.get(c) or c.encode("ascii", "backslashreplace").decode() for c in text), error.end


codecs.register_error(ERRORS, ascii_fallback)


def printable_streams() -> None:
    """Switch stdout and stderr to the stand-ins; a UTF-8 stream never needs them, so nothing changes there."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=ERRORS)
