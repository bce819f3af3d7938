"""The real package index's JSON API, through aidoctor's own client."""

from __future__ import annotations

import pytest

from aidoctor.doctor.check.index import Index, Project, http_get, platform_tags, select

from ..unit.test_index import SPARK


@pytest.mark.network
def test_the_live_index(tmp_path):
    """The real JSON API: peft ships a py3 wheel that fits a GB10's Python."""
    results = Index(tmp_path, fetch=http_get, timeout=20).projects(["peft"])
    live = results["peft"]
    assert isinstance(live, Project), live
    available = select(live, SPARK, platform_tags(SPARK))
    assert available.kind == "wheel" and available.filename.endswith("py3-none-any.whl")
    assert (tmp_path / "index" / "peft.json").exists()
