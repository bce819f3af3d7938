"""The wheelhouse with real pip and real processes: installs from a store and an export, concurrent writers,
the lock."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from aidoctor.wheels import Wheelhouse, WheelhouseError

from ..unit.test_wheels import KEY_A, anchors, build_wheel
from ..unit.test_wheels import house, two_builds  # noqa: F401 (fixtures)


HOLDER = """
import sys
from pathlib import Path
from aidoctor.wheels import Wheelhouse
with Wheelhouse.open(Path(sys.argv[1])).lock():
    print("held", flush=True)
    sys.stdin.read()
"""


WRITER = """
import sys, time
from pathlib import Path
from aidoctor.wheels import Wheelhouse
root, go, *wheels = sys.argv[1:]
house = Wheelhouse.open(Path(root))
while not Path(go).exists():
    time.sleep(0.001)
added = []
for wheel in wheels:
    added.append(house.add(Path(wheel), {"writer": wheel}))
    for mine in added:  # no other writer's index rewrite may drop a wheel already added
        page = house.root / "simple" / mine.project / "index.html"
        assert mine.filename in page.read_text(), f"{mine.filename} dropped from {page}"
"""


def fresh_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"


def pip_install(python: Path, *args: str) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-cache-dir",
         "--disable-pip-version-check", *args],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def installed(python: Path, name: str) -> tuple[str, str]:
    """(version, VALUE) of an installed test distribution, read by the venv's own interpreter."""
    script = f"import importlib.metadata as md, {name}; print(md.version({name!r}), {name}.VALUE)"
    out = subprocess.run([str(python), "-c", script], check=True, capture_output=True, text=True).stdout
    version, value = out.split()
    return version, value


def test_real_pip_installs_a_wheel_renamed_with_a_build_tag(house, tmp_path):
    stored = house.add(build_wheel(tmp_path / "build", value="built-for-a"), {}, key=KEY_A)
    python = fresh_venv(tmp_path / "venv")
    pip_install(python, "--no-index", str(house.checked_path(stored)))
    assert installed(python, "tinypkg") == ("1.0", "built-for-a")


def test_pip_installs_from_an_export_by_find_links(house, tmp_path, two_builds):
    dest = tmp_path / "export"
    house.export(dest, key_id=two_builds[0].key_id)
    python = fresh_venv(tmp_path / "venv")
    pip_install(python, "--no-index", "--find-links", str(dest), "tinypkg", "otherpkg")
    assert installed(python, "tinypkg") == ("1.0+cu130", "A")
    assert installed(python, "otherpkg") == ("2.0", "O")


def test_pip_installs_from_an_export_by_index_url(house, tmp_path, two_builds):
    dest = tmp_path / "export"
    house.export(dest, key_id=two_builds[1].key_id)
    python = fresh_venv(tmp_path / "venv")
    pip_install(python, "--index-url", (dest / "simple").as_uri(), "tinypkg", "otherpkg")
    assert installed(python, "tinypkg") == ("1.0+cu130", "B")
    assert installed(python, "otherpkg") == ("2.0", "O")


def test_processes_adding_at_once_leave_a_whole_store(house, tmp_path):
    writers, projects = 4, 5
    go = tmp_path / "go"
    procs = []
    for writer in range(writers):
        # Each writer adds one version of every project, so every project page is rewritten by all of them.
        wheels = [build_wheel(tmp_path / f"w{writer}" / f"p{project}", f"proj{project}", f"1.{writer}",
                              payload=os.urandom((1 << 20) + 1))  # more than one copy chunk
                  for project in range(projects)]
        procs.append(subprocess.Popen([sys.executable, "-c", WRITER, str(house.root), str(go), *map(str, wheels)]))
    go.touch()
    assert [proc.wait(timeout=120) for proc in procs] == [0] * writers

    assert house.verify() == []
    assert len(house.wheels()) == writers * projects
    assert not list(house.root.glob(".tmp-*"))
    simple = house.root / "simple"
    assert [a["href"] for a in anchors(simple / "index.html")] == [f"proj{p}/" for p in range(projects)]
    for project in range(projects):
        listed = [a["href"].split("#")[0] for a in anchors(simple / f"proj{project}" / "index.html")]
        assert listed == [f"../../proj{project}-1.{writer}-py3-none-any.whl" for writer in range(writers)]


def test_a_change_waits_for_the_lock_and_gives_up_at_the_timeout(tmp_path):
    house = Wheelhouse.open(tmp_path / "wheelhouse", lock_timeout=0.3)
    wheel = build_wheel(tmp_path / "build")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(house.root)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        started = time.monotonic()
        with pytest.raises(WheelhouseError, match=re.escape(str(house.root / ".lock"))):
            house.add(wheel, {})
        assert time.monotonic() - started >= 0.3 and house.wheels() == []

        house.lock_timeout = 10
        threading.Timer(0.3, holder.stdin.close).start()  # the holder lets go while we wait
        started = time.monotonic()
        stored = house.add(wheel, {})
        assert time.monotonic() - started >= 0.3
        assert house.verify() == [] and house.wheels() == [stored]
    finally:
        holder.kill()
        holder.wait()
