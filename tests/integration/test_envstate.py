"""The target environment's state and the rollback backup, on a real venv that pip installed into."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from aidoctor.doctor.core.errors import AidoctorError
from aidoctor.doctor.core.system import LiveSystem
from aidoctor.doctor.install import envstate
from aidoctor.doctor.probes import target_script

PIP_ENV = {**os.environ, "PIP_CONFIG_FILE": "/dev/null", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
COMMA_FILE = "comma_pkg/data,with,commas.txt"


def _wheel_with_a_comma_in_a_path(directory: Path) -> Path:
    """A real, installable wheel; its RECORD written with csv as build backends write it (the path quoted)."""
    dist_info = "comma_pkg-1.0.dist-info"
    files = {
        "comma_pkg/__init__.py": b"",
        COMMA_FILE: b"kept by the rollback\n",
        f"{dist_info}/METADATA": b"Metadata-Version: 2.1\nName: comma-pkg\nVersion: 1.0\n",
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test_envstate\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([path, f"sha256={digest}", len(data)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    files[f"{dist_info}/RECORD"] = record.getvalue().encode()
    wheel = directory / "comma_pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


@pytest.fixture(scope="module")
def venv_with_comma_pkg(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("envstate")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "env")], check=True, timeout=120)
    python = root / "env" / "bin" / "python"
    wheel = _wheel_with_a_comma_in_a_path(root)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-index",
                    "--no-deps", str(wheel)], check=True, timeout=300, env=PIP_ENV)
    return python


def test_pip_quotes_the_path_and_the_target_script_reads_it_whole(venv_with_comma_pkg):
    state = envstate.capture(LiveSystem(), str(venv_with_comma_pkg))
    dist = state.dists["comma-pkg"]
    assert (dist.name, dist.version) == ("comma-pkg", "1.0") and dist.dist_info.endswith("comma_pkg-1.0.dist-info")
    record_text = (Path(dist.dist_info) / "RECORD").read_text()
    assert f'"{COMMA_FILE}",' in record_text  # what pip wrote: the CSV quoting that rsplit(",") got wrong
    digest, paths = target_script.record(dist.dist_info)
    assert digest == dist.record_sha256
    assert str(Path(state.purelib) / COMMA_FILE) in paths


def test_the_rollback_backup_keeps_a_file_whose_path_holds_a_comma(venv_with_comma_pkg, tmp_path):
    state = envstate.capture(LiveSystem(), str(venv_with_comma_pkg))
    comma_file = Path(state.purelib) / COMMA_FILE
    manifest = envstate.backup(state, ["comma-pkg"], tmp_path / "backup")
    comma_file.unlink()  # as an install that replaced the distribution would
    envstate.restore(manifest)
    assert comma_file.read_bytes() == b"kept by the rollback\n"
    assert envstate.capture(LiveSystem(), str(venv_with_comma_pkg)).dists["comma-pkg"] == state.dists["comma-pkg"]


def test_a_distribution_without_a_record_cannot_be_backed_up_and_says_so(venv_with_comma_pkg, tmp_path):
    state = envstate.capture(LiveSystem(), str(venv_with_comma_pkg))
    dist = state.dists["comma-pkg"]
    no_record = tmp_path / "site" / "comma_pkg-1.0.dist-info"
    no_record.mkdir(parents=True)
    moved = envstate.EnvState(state.prefix, state.base_prefix, state.conda, state.purelib, state.writable,
                              state.python_tag, {"comma-pkg": envstate.Dist(dist.name, dist.version, str(no_record),
                                                                            None)})
    with pytest.raises(AidoctorError, match="comma-pkg 1.0 has no readable RECORD"):
        envstate.backup(moved, ["comma-pkg"], tmp_path / "backup")


def test_env_state_fingerprints_only_the_protected_stack(venv_with_comma_pkg):
    state = envstate.capture(LiveSystem(), str(venv_with_comma_pkg))
    assert state.is_virtual and state.python_tag == "cp%d%d" % sys.version_info[:2]
    assert state.dists["comma-pkg"].fingerprint is None  # fingerprints are for the protected stack only
    assert state.dists["comma-pkg"].requires == ()
