"""Where the caches, runs, builds and the wheelhouse live: one policy on every platform (core/paths.py)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import platformdirs
import pytest

from aidoctor.doctor.core import paths

STORES = (paths.cache_dir, paths.wheelhouse_dir, paths.runs_dir, paths.builds_dir, paths.smoke_dir)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ("AIDOCTOR_CACHE_DIR", "AIDOCTOR_WHEELHOUSE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return monkeypatch


@pytest.fixture
def on_macos(clean_env):
    """platformdirs as it is on a Mac: it picks its implementation by sys.platform when imported."""
    clean_env.setattr(sys, "platform", "darwin")
    importlib.reload(platformdirs)
    yield
    clean_env.undo()
    importlib.reload(platformdirs)


@pytest.mark.skipif(sys.platform != "linux", reason="the Linux defaults")
def test_linux_defaults_are_the_ones_aidoctor_always_used(clean_env, tmp_path):
    assert paths.cache_dir() == tmp_path / ".cache" / "aidoctor"
    assert paths.wheelhouse_dir() == tmp_path / ".cache" / "aidoctor" / "wheelhouse"
    assert paths.runs_dir() == tmp_path / ".cache" / "aidoctor" / "runs"
    assert paths.builds_dir() == tmp_path / ".cache" / "aidoctor" / "builds"
    assert paths.smoke_dir() == tmp_path / ".cache" / "aidoctor" / "smoke"
    clean_env.setenv("XDG_CACHE_HOME", "/xdg")
    assert paths.cache_dir() == Path("/xdg/aidoctor")
    assert paths.wheelhouse_dir() == Path("/xdg/aidoctor/wheelhouse")


def test_on_macos_the_wheelhouse_sits_with_the_other_caches(on_macos, tmp_path):
    # The bug: the index cache, runs, builds and smoke store went to ~/Library/Caches/aidoctor
    # while the wheelhouse went to ~/.cache/aidoctor/wheelhouse.
    caches = tmp_path / "Library" / "Caches" / "aidoctor"
    assert [store() for store in STORES] == [caches, caches / "wheelhouse", caches / "runs", caches / "builds",
                                             caches / "smoke"]


def test_aidoctor_cache_dir_moves_every_store_the_wheelhouse_included(clean_env, tmp_path):
    clean_env.setenv("AIDOCTOR_CACHE_DIR", "/srv/cache")
    clean_env.setenv("XDG_CACHE_HOME", "/xdg")
    assert [store() for store in STORES] == [Path("/srv/cache"), Path("/srv/cache/wheelhouse"),
                                             Path("/srv/cache/runs"), Path("/srv/cache/builds"),
                                             Path("/srv/cache/smoke")]


def test_aidoctor_wheelhouse_moves_the_wheelhouse_alone(clean_env, tmp_path):
    clean_env.setenv("AIDOCTOR_CACHE_DIR", "/srv/cache")
    clean_env.setenv("AIDOCTOR_WHEELHOUSE", "~/wh")
    assert paths.wheelhouse_dir() == tmp_path / "wh"
    assert paths.cache_dir() == Path("/srv/cache")


def test_an_empty_override_is_no_override(clean_env, tmp_path):
    clean_env.setenv("AIDOCTOR_CACHE_DIR", "")
    clean_env.setenv("AIDOCTOR_WHEELHOUSE", "")
    assert paths.wheelhouse_dir() == platformdirs.user_cache_path("aidoctor", appauthor=False) / "wheelhouse"
