"""The tests' torch provider (tests/torch_provider.py) run for real: pip decides, with the pip configuration it is given."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..beds import require
from ..torch_provider import TorchUnavailable, pick, provide_torch

UNREACHABLE = "http://127.0.0.1:9/simple"


def only_this_pip_config(tmp_path: Path, find_links: Path | None) -> dict[str, str]:
    """An environment whose pip sees FIND_LINKS (or none) and an unreachable index, whatever this machine configures.

    PIP_CONFIG_FILE is read after the global and user files, so its empty values override theirs; the machine's
    PIP_* variables would override any file, so they go.
    """
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\nindex-url = {UNREACHABLE}\nextra-index-url =\nconstraint =\n"
                      f"find-links = {find_links or ''}\ntimeout = 5\nretries = 0\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    return {**env, "PIP_CONFIG_FILE": str(config), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def test_no_torch_anywhere_is_unavailable_and_says_why(tmp_path):
    env = only_this_pip_config(tmp_path, None)
    with pytest.raises(TorchUnavailable) as raised:
        provide_torch(tmp_path / "cache", env=env)
    message = str(raised.value)
    assert message.startswith(f"pip cannot get torch for Python {sys.version_info[0]}.{sys.version_info[1]}")
    assert "find-links" in message and "indexes" in message
    assert not list((tmp_path / "cache").glob("*/venv"))  # nothing half-built is left to be taken next time


def test_cannot_get_torch_skips_here_and_fails_where_required(tmp_path, monkeypatch):
    env = only_this_pip_config(tmp_path, None)
    with pytest.raises(TorchUnavailable) as raised:
        pick("torch", env=env)
    monkeypatch.delenv("AIDOCTOR_REQUIRE_TORCH", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require("torch", str(raised.value))
    monkeypatch.setenv("AIDOCTOR_REQUIRE_TORCH", "1")  # what .ci/run sets
    with pytest.raises(pytest.fail.Exception, match="AIDOCTOR_REQUIRE_TORCH=1 makes that a failure"):
        require("torch", str(raised.value))


@pytest.fixture(scope="module")
def older_packaging(tmp_path_factory) -> Path:
    """A real, older wheel of `packaging` (not its newest), fetched with this machine's pip configuration."""
    where = tmp_path_factory.mktemp("find-links")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(where), "packaging==23.2"],
                   check=True, timeout=300)
    (wheel,) = where.glob("packaging-23.2-*.whl")
    return wheel


@pytest.mark.network
def test_the_pick_comes_from_the_find_links_pip_is_configured_with(older_packaging, tmp_path):
    picked = pick("packaging", env=only_this_pip_config(tmp_path, older_packaging.parent))
    assert (picked.filename, picked.version) == (older_packaging.name, "23.2")
    assert Path(picked.url.removeprefix("file://")).parent == older_packaging.parent


@pytest.mark.network
def test_find_links_are_preferred_to_a_newer_release_on_the_index(older_packaging, tmp_path):
    # this machine's own indexes, plus a find-links folder holding an older release: what is already here wins
    env = {**os.environ, "PIP_FIND_LINKS": str(older_packaging.parent)}
    assert pick("packaging", env=env).filename == older_packaging.name
    # and without it, pip's pick from the index is a newer release
    newest = pick("packaging", env={k: v for k, v in os.environ.items() if k != "PIP_FIND_LINKS"})
    assert newest.version != "23.2" and newest.url.startswith(("https://", "file://"))


def test_the_provided_torch_imports_in_a_copy_and_is_what_pip_picked(provided_torch, tmp_path):
    picked = pick("torch")  # the machine's own configuration, as the fixture used it
    assert provided_torch.wheel.name == picked.filename and provided_torch.wheel.is_file()
    python = provided_torch.clone(tmp_path / "copy")
    out = subprocess.run([str(python), "-c", "import torch, sys; print(torch.__version__, sys.prefix)"],
                         capture_output=True, text=True, check=True, timeout=300).stdout.split()
    assert out == [provided_torch.version, str(tmp_path / "copy")]
    # the copy's scripts run the copy's interpreter, not the template's
    shebang = (tmp_path / "copy" / "bin" / "pip").read_text().splitlines()[0]
    assert shebang.startswith(f"#!{tmp_path / 'copy' / 'bin' / 'python'}")
    assert str(provided_torch.template) not in (tmp_path / "copy" / "pyvenv.cfg").read_text()

