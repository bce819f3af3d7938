"""The real package index and the CLI around it: the Simple API through aidoctor's own client, and a refusal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aidoctor.doctor.check.index import Index, Offer, Project, http_get, http_get_range, select

from ..unit.test_index import SPARK


@pytest.mark.network
def test_the_live_index(tmp_path):
    """The real Simple API: peft ships a py3 wheel that fits a GB10's Python, and its metadata is its own."""
    index = Index(tmp_path, fetch=http_get, fetch_range=http_get_range, timeout=20)
    live = index.projects(["peft"])["peft"]
    assert isinstance(live, Project), live
    available = select(live, SPARK)
    assert available.kind is Offer.WHEEL and available.filename.endswith("py3-none-any.whl")
    read = index.read_metadata({"peft": available})["peft"]
    assert any(r.startswith("torch") for r in read.requires_dist), read.reason
    assert (tmp_path / "index" / "peft.json").exists()
    assert (tmp_path / "index" / "metadata" / f"{available.filename}.metadata").exists()


def test_a_real_install_for_another_machine_is_refused_in_one_line(tmp_path):
    aidoctor = Path(sys.executable).parent / "aidoctor"
    done = subprocess.run([str(aidoctor), "install", "peft", "--profile", "dgx-spark"], capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                                      "AIDOCTOR_CACHE_DIR": str(tmp_path)})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "add --dry-run" in done.stderr
