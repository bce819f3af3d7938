"""Every test module lives in tests/unit/ or tests/integration/: pyproject's testpaths collect only those two,
so a test file anywhere else under tests/ would never run."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).parents[1]


def test_no_test_module_lives_outside_unit_and_integration():
    stray = sorted(str(p.relative_to(TESTS)) for p in TESTS.rglob("test_*.py")
                   if p.parent not in (TESTS / "unit", TESTS / "integration") and "fixtures" not in p.parts)
    assert not stray, f"move these into tests/unit/ (pure) or tests/integration/ (processes, network, beds): {stray}"
