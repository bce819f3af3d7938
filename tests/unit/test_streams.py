"""The ASCII stand-ins an ASCII-only stdout gets (doctor/render/streams.py)."""

from __future__ import annotations

import io

from aidoctor.doctor.render.streams import ERRORS


def test_our_glyphs_become_ascii_words_and_others_their_escape():
    text = "Cortex-A725 × 20 · 128 GB … sha256 → ok ≥ 2.4 café"
    assert text.encode("ascii", ERRORS) == b"Cortex-A725 x 20 - 128 GB ... sha256 -> ok >= 2.4 caf\\xe9"


def test_a_stream_that_can_encode_them_keeps_them():
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors=ERRORS)
    stream.write("× · …")
    stream.flush()
    assert stream.buffer.getvalue().decode() == "× · …"
