"""The wheelhouse store: real wheels, real files, real processes and a real pip (offline)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import zipfile
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename

from aidoctor.doctor.core.errors import EXIT_BAD_INPUT, AidoctorError
from aidoctor.doctor.core.paths import wheelhouse_dir
from aidoctor.wheels import (Problem, StoredWheel, TamperedWheel, Wheelhouse, WheelhouseError,
                             key_id_for)

KEY_A = {"cuda_arch": "12.1", "cuda": "13.0", "torch": "2.15.0"}
KEY_B = {"cuda_arch": "9.0", "cuda": "12.8", "torch": "2.15.0"}
FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # the same content gives the same bytes


def build_wheel(directory: Path, name: str = "tinypkg", version: str = "1.0", *, value: str = "1",
                requires_python: str | None = None, payload: bytes = b"") -> Path:
    """A real, installable pure-Python wheel, written by hand (no build backend, no network)."""
    module = name.lower().replace("-", "_")
    dist_info = f"{name.replace('-', '_')}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    if requires_python:
        metadata += f"Requires-Python: {requires_python}\n"
    files = {
        f"{module}/__init__.py": f"VALUE = {value!r}\n".encode(),
        f"{module}/payload.bin": payload,
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test_wheels\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},sha256={_record_hash(data)},{len(data)}\n" for path, data in files.items())
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(zipfile.ZipInfo(path, FIXED_TIME), data)
    return wheel


def _record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sidecar_of(stored: StoredWheel) -> dict:
    return json.loads(stored.path.with_name(stored.filename + ".provenance.json").read_text())


@pytest.fixture
def house(tmp_path) -> Wheelhouse:
    return Wheelhouse.open(tmp_path / "wheelhouse", lock_timeout=5)


# pip, isolated from this machine's configuration (find-links, extra index URLs) so it can only use what we give it.


# Where the wheelhouse lives

@pytest.mark.parametrize("env, expected", [
    ({"AIDOCTOR_WHEELHOUSE": "/srv/wh", "XDG_CACHE_HOME": "/xdg"}, Path("/srv/wh")),
    ({"XDG_CACHE_HOME": "/xdg"}, Path("/xdg/aidoctor/wheelhouse")),
    ({"AIDOCTOR_WHEELHOUSE": "", "XDG_CACHE_HOME": ""}, Path.home() / ".cache" / "aidoctor" / "wheelhouse"),
], ids=["override", "xdg", "home"])
def test_default_root(env, expected, monkeypatch):
    for name in ("AIDOCTOR_WHEELHOUSE", "AIDOCTOR_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert wheelhouse_dir() == expected


def test_open_creates_the_directory(tmp_path):
    house = Wheelhouse.open(tmp_path / "a" / "b")
    assert house.root == (tmp_path / "a" / "b").resolve() and house.root.is_dir()
    assert house.wheels() == [] and house.verify() == []


def test_a_directory_that_cannot_be_created_is_a_one_line_error(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(WheelhouseError) as caught:
        Wheelhouse.open(tmp_path / "file" / "wheelhouse")
    message = str(caught.value)
    assert str(tmp_path / "file" / "wheelhouse") in message and "--wheelhouse DIR" in message and "\n" not in message
    assert isinstance(caught.value, AidoctorError) and caught.value.exit_code == EXIT_BAD_INPUT


def test_open_without_create_needs_an_existing_directory(tmp_path):
    with pytest.raises(WheelhouseError, match="no wheelhouse at"):
        Wheelhouse.open(tmp_path / "missing", create=False)
    assert not (tmp_path / "missing").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_directory_that_cannot_be_written_is_refused(tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir(mode=0o555)
    with pytest.raises(WheelhouseError, match=re.escape(str(locked))):
        Wheelhouse.open(locked)


# Adding

def test_add_copies_the_wheel_and_records_its_provenance(house, tmp_path):
    wheel = build_wheel(tmp_path / "build", "Tiny_Pkg", "1.0", requires_python=">=3.9")
    before = datetime.now(timezone.utc).replace(microsecond=0)
    provenance = {"source_url": "https://example.org/tiny.tar.gz", "source_sha256": "ab" * 32,
                  "build_seconds": 12.5, "requires_python": ">=3.9"}
    stored = house.add(wheel, provenance)

    assert stored.path == house.root / wheel.name and stored.path.read_bytes() == wheel.read_bytes()
    assert (stored.project, stored.version, stored.key_id) == ("tiny-pkg", "1.0", None)
    sidecar = sidecar_of(stored)
    assert sidecar == stored.provenance
    assert sidecar["schema"] == "aidoctor.wheel/1" and sidecar["filename"] == wheel.name
    assert sidecar["sha256"] == stored.sha256 == sha256_of(wheel)
    assert sidecar["size"] == wheel.stat().st_size
    assert (sidecar["project"], sidecar["version"], sidecar["tags"]) == ("tiny-pkg", "1.0", ["py3-none-any"])
    assert sidecar["key"] is None and sidecar["key_id"] is None
    added = datetime.fromisoformat(sidecar["added"])
    assert added.utcoffset() == timedelta(0) and before <= added <= datetime.now(timezone.utc)
    assert {k: sidecar[k] for k in provenance} == provenance
    assert house.wheels() == [stored] and house.find("TINY.pkg") == [stored]


def test_stored_files_follow_the_umask_not_mkstemps_0600(house, tmp_path):
    old = os.umask(0o022)
    try:
        stored = house.add(build_wheel(tmp_path / "build"), {})
    finally:
        os.umask(old)
    assert stored.path.stat().st_mode & 0o777 == 0o644
    assert (house.root / "simple" / "index.html").stat().st_mode & 0o777 == 0o644


def test_a_built_wheel_carries_its_key_as_a_build_tag(house, tmp_path):
    wheel = build_wheel(tmp_path / "build")
    plain = house.add(wheel, {})
    for_a = house.add(wheel, {"build_flags": {"TORCH_CUDA_ARCH_LIST": "12.1"}}, key=KEY_A)
    for_b = house.add(wheel, {}, key=KEY_B)

    canonical = json.dumps(KEY_A, sort_keys=True, separators=(",", ":")).encode()
    assert key_id_for(KEY_A) == hashlib.sha256(canonical).hexdigest()[:12]
    assert key_id_for(dict(reversed(list(KEY_A.items())))) == key_id_for(KEY_A) != key_id_for(KEY_B)
    assert for_a.filename == f"tinypkg-1.0-1k{key_id_for(KEY_A)}-py3-none-any.whl"
    name, version, build, _ = parse_wheel_filename(for_b.filename)
    assert (name, str(version), build) == ("tinypkg", "1.0", (1, f"k{key_id_for(KEY_B)}"))
    assert sidecar_of(for_a)["key"] == KEY_A and for_a.key_id == key_id_for(KEY_A)
    assert sidecar_of(for_a)["original_filename"] == wheel.name

    def found(**query) -> set[str]:
        return {stored.filename for stored in house.find("tinypkg", **query)}

    assert len({plain.filename, for_a.filename, for_b.filename}) == 3
    assert found(key_id=for_a.key_id) == {plain.filename, for_a.filename}
    assert found(key_id=for_a.key_id, include_unkeyed=False) == {for_a.filename}
    assert found() == {plain.filename, for_a.filename, for_b.filename}
    assert found(version="1.0.0", include_unkeyed=False) == {for_a.filename, for_b.filename}
    assert house.find("tinypkg", version="2.0") == [] and house.find("other") == []


def test_adding_the_same_bytes_again_keeps_the_first_record(house, tmp_path):
    first = house.add(build_wheel(tmp_path / "one"), {"source_url": "first"})
    again = house.add(build_wheel(tmp_path / "two"), {"source_url": "second"})
    assert again == first and sidecar_of(first)["source_url"] == "first"
    assert house.wheels() == [first]


def test_different_bytes_under_a_stored_name_need_replace(house, tmp_path):
    first = house.add(build_wheel(tmp_path / "one", value="old"), {})
    changed = build_wheel(tmp_path / "two", value="new")
    with pytest.raises(WheelhouseError, match=re.escape(first.filename)):
        house.add(changed, {})
    assert house.checked_path(house.find("tinypkg")[0]).read_bytes() != changed.read_bytes()

    replaced = house.add(changed, {}, replace=True)
    assert replaced.sha256 == sha256_of(changed) != first.sha256
    assert house.find("tinypkg") == [replaced] and house.verify() == []


def test_adding_the_same_bytes_repairs_a_damaged_copy(house, tmp_path):
    wheel = build_wheel(tmp_path / "build")
    stored = house.add(wheel, {})
    with open(stored.path, "ab") as handle:
        handle.write(b"\0")
    house.add(wheel, {})
    assert house.checked_path(stored).read_bytes() == wheel.read_bytes()


def test_add_refuses_provenance_that_would_overwrite_computed_fields(house, tmp_path):
    with pytest.raises(ValueError, match="sha256"):
        house.add(build_wheel(tmp_path / "build"), {"sha256": "0" * 64})
    assert list(house.root.glob("*.whl")) == []


def test_provenance_that_is_not_json_leaves_nothing_behind(house, tmp_path):
    with pytest.raises(TypeError):
        house.add(build_wheel(tmp_path / "build"), {"when": object()})
    assert sorted(p.name for p in house.root.iterdir()) == [".lock"]


def test_only_wheels_go_in(house, tmp_path):
    not_a_wheel = tmp_path / "tinypkg.zip"
    not_a_wheel.write_bytes(b"PK")
    with pytest.raises(WheelhouseError, match="not a wheel file name"):
        house.add(not_a_wheel, {})


# Tampering and verification

def append_a_byte(path: Path) -> None:
    with open(path, "ab") as handle:
        handle.write(b"\0")


def rewrite_a_file_inside(path: Path) -> None:
    build_wheel(path.parent / "rewritten", value="2")  # same names and sizes inside, different bytes
    path.write_bytes((path.parent / "rewritten" / "tinypkg-1.0-py3-none-any.whl").read_bytes())


@pytest.mark.parametrize("tamper, reported", [(append_a_byte, "size"), (rewrite_a_file_inside, "sha256")])
def test_a_wheel_altered_after_it_was_stored_is_never_handed_out(house, tmp_path, tamper, reported):
    stored = house.add(build_wheel(tmp_path / "build", value="1"), {})
    assert house.checked_path(stored) == stored.path
    tamper(stored.path)

    with pytest.raises(TamperedWheel) as caught:
        house.checked_path(stored)
    message = str(caught.value)
    assert str(stored.path) in message and stored.sha256 in message and sha256_of(stored.path) in message
    assert "aidoctor wheels verify" in message and "\n" not in message
    [problem] = house.verify()
    assert problem.filename == stored.filename and problem.what.startswith(reported)


def test_checked_path_of_a_missing_wheel(house, tmp_path):
    stored = house.add(build_wheel(tmp_path / "build"), {})
    stored.path.unlink()
    with pytest.raises(WheelhouseError, match="cannot be read"):
        house.checked_path(stored)


def test_verify_reports_each_kind_of_problem_and_lists_what_it_can(house, tmp_path):
    good = house.add(build_wheel(tmp_path / "a", "good"), {})
    bare = build_wheel(tmp_path / "b", "bare")
    (house.root / bare.name).write_bytes(bare.read_bytes())  # dropped in by hand: no sidecar
    lost = house.add(build_wheel(tmp_path / "c", "lost"), {})
    lost.path.unlink()
    garbled = house.add(build_wheel(tmp_path / "d", "garbled"), {})
    (house.root / f"{garbled.filename}.provenance.json").write_text("{not json")
    foreign = house.add(build_wheel(tmp_path / "e", "foreign"), {})
    (house.root / f"{foreign.filename}.provenance.json").write_text(json.dumps({"schema": "other"}))
    grown = house.add(build_wheel(tmp_path / "f", "grown"), {})
    append_a_byte(grown.path)

    problems = {problem.filename: problem.what for problem in house.verify()}
    assert sorted(problems) == sorted([bare.name, lost.filename, garbled.filename, foreign.filename, grown.filename])
    assert problems[bare.name] == "no provenance sidecar"
    assert "missing" in problems[lost.filename]
    assert "not valid JSON" in problems[garbled.filename]
    assert "aidoctor.wheel/1" in problems[foreign.filename]
    assert problems[grown.filename].startswith("size")
    assert [w.project for w in house.wheels()] == ["good", "grown", "lost"]  # malformed sidecars are skipped
    assert house.verify(only=[good.filename]) == []
    assert house.verify(only=["nope-1.0-py3-none-any.whl"]) == [Problem("nope-1.0-py3-none-any.whl",
                                                                        "not in the wheelhouse")]


def test_remove_takes_the_wheel_out_of_the_store_and_the_index(house, tmp_path):
    keep = house.add(build_wheel(tmp_path / "a", "keep"), {})
    gone = house.add(build_wheel(tmp_path / "b", "gone"), {})
    house.remove(gone.filename)
    assert house.wheels() == [keep] and house.verify() == []
    assert not (house.root / "simple" / "gone").exists()
    assert [a["href"] for a in anchors(house.root / "simple" / "index.html")] == ["keep/"]
    with pytest.raises(WheelhouseError, match="not in the wheelhouse"):
        house.remove(gone.filename)


# Smoke results

def test_record_smoke_dates_the_result_in_the_sidecar(house, tmp_path):
    stored = house.add(build_wheel(tmp_path / "build"), {"source_url": "u"})
    updated = house.record_smoke(stored, {"passed": True, "loss_drop": 0.42, "seconds": 3.1})
    smoke = sidecar_of(stored)["smoke"]
    assert smoke["passed"] is True and smoke["loss_drop"] == 0.42
    assert datetime.fromisoformat(smoke["date"]).utcoffset() == timedelta(0)
    assert updated.provenance == sidecar_of(stored) and updated.provenance["source_url"] == "u"
    assert house.find("tinypkg")[0].provenance["smoke"] == smoke


def test_a_smoke_result_is_not_pinned_on_a_wheel_replaced_since(house, tmp_path):
    tested = house.add(build_wheel(tmp_path / "one", value="old"), {})
    house.add(build_wheel(tmp_path / "two", value="new"), {}, replace=True)
    with pytest.raises(WheelhouseError, match="replaced"):
        house.record_smoke(tested, {"passed": True})
    assert "smoke" not in house.find("tinypkg")[0].provenance


# The simple index

class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.found.append(dict(attrs))


def anchors(page: Path) -> list[dict]:
    parser = _Anchors()
    parser.feed(page.read_text())
    return parser.found


def test_the_simple_index_links_every_wheel_with_its_hash(house, tmp_path):
    old = house.add(build_wheel(tmp_path / "a", "Flash_Attn", "2.8.3"), {"requires_python": ">=3.9"})
    new = house.add(build_wheel(tmp_path / "b", "Flash_Attn", "2.8.4"), {}, key=KEY_A)
    house.add(build_wheel(tmp_path / "c", "accelerate", "1.0+cu130"), {})
    simple = house.root / "simple"

    assert [a["href"] for a in anchors(simple / "index.html")] == ["accelerate/", "flash-attn/"]
    page = simple / "flash-attn" / "index.html"
    links = anchors(page)
    assert [link.get("data-requires-python") for link in links] == [">=3.9", None]
    assert "&gt;=3.9" in page.read_text()
    for link, stored in zip(links, [old, new]):
        target, digest = link["href"].split("#sha256=")
        assert (page.parent / target).resolve() == stored.path and digest == stored.sha256
    [local] = anchors(simple / "accelerate" / "index.html")
    assert local["href"].startswith("../../accelerate-1.0%2Bcu130-py3-none-any.whl#")  # "+" quoted in the URL


def test_write_simple_index_rebuilds_a_deleted_index(house, tmp_path):
    house.add(build_wheel(tmp_path / "a"), {})
    page = house.root / "simple" / "tinypkg" / "index.html"
    expected = page.read_text()
    page.unlink()
    house.write_simple_index()
    assert page.read_text() == expected


# Export

@pytest.fixture
def two_builds(house, tmp_path):
    """tinypkg built for two keys (with a local version, as CUDA builds have), plus an unkeyed download."""
    for_a = house.add(build_wheel(tmp_path / "a", "tinypkg", "1.0+cu130", value="A"), {}, key=KEY_A)
    for_b = house.add(build_wheel(tmp_path / "b", "tinypkg", "1.0+cu130", value="B"), {}, key=KEY_B)
    other = house.add(build_wheel(tmp_path / "c", "otherpkg", "2.0", value="O", requires_python=">=3.8"),
                      {"requires_python": ">=3.8", "source_url": "https://example.org/otherpkg"})
    return for_a, for_b, other


def test_export_copies_unkeyed_wheels_and_one_keys_builds(house, tmp_path, two_builds):
    for_a, _, other = two_builds
    dest = tmp_path / "export"
    exported = house.export(dest, key_id=for_a.key_id)

    assert [w.filename for w in exported] == [other.filename, for_a.filename]  # by project, then version
    assert sorted(p.name for p in dest.glob("*.whl")) == sorted([for_a.filename, other.filename])
    copy = Wheelhouse.open(dest)
    assert copy.verify() == [] and [w.provenance for w in copy.wheels()] == [other.provenance, for_a.provenance]
    assert len(house.export(tmp_path / "everything")) == 3


def test_export_refuses_when_a_selected_wheel_fails_verification(house, tmp_path, two_builds):
    for_a, for_b, other = two_builds
    append_a_byte(for_b.path)  # not selected for key A: no reason to refuse
    house.export(tmp_path / "fine", key_id=for_a.key_id)

    append_a_byte(other.path)
    with pytest.raises(WheelhouseError, match=re.escape(other.filename)):
        house.export(tmp_path / "refused", key_id=for_a.key_id)
    assert list((tmp_path / "refused").glob("*.whl")) == []


def test_export_into_itself_is_refused(house):
    with pytest.raises(WheelhouseError, match="into itself"):
        house.export(house.root)


# Locking, with real processes


def test_nested_use_of_the_lock_does_not_wait_on_itself(tmp_path):
    house = Wheelhouse.open(tmp_path / "wheelhouse", lock_timeout=0.5)
    with house.lock():
        stored = house.add(build_wheel(tmp_path / "build"), {})
        assert house.verify() == []
    assert house.wheels() == [stored]
    with house.lock(shared=True), pytest.raises(RuntimeError):
        house.add(build_wheel(tmp_path / "other", "other"), {})
