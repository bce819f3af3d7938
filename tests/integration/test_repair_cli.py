"""`aidoctor repair` where nothing was left unfinished, and with a journal it cannot trust: a line each, never a
traceback. The repair of a real interrupted install is in test_interrupts.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

AIDOCTOR = Path(sys.executable).parent / "aidoctor"


def _run(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "AIDOCTOR_CACHE_DIR": str(cache)}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run([str(AIDOCTOR), *args], capture_output=True, text=True, env=env, timeout=120)


def test_repair_with_nothing_to_repair_says_so_and_changes_nothing(tmp_path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "env")], check=True)
    python = str(tmp_path / "env" / "bin" / "python")
    for args in (("repair", "--python", python), ("repair", "--python", python, "--dry-run")):
        result = _run(*args, cache=tmp_path / "cache")
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith("nothing to repair: no unfinished aidoctor install"), result.stdout


def test_a_damaged_journal_is_one_line_and_exit_2(tmp_path, monkeypatch):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "env")], check=True)
    python = str(tmp_path / "env" / "bin" / "python")
    from aidoctor.doctor.install.recovery import journal_path

    monkeypatch.setenv("AIDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    path = journal_path(str(tmp_path / "env"))
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    result = _run("repair", "--python", python, cache=tmp_path / "cache")
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "is damaged" in result.stderr
    assert "Traceback" not in result.stderr
