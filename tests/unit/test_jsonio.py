"""core/jsonio.py: files replaced whole, the JSON object a script prints last, UTC timestamps."""

from __future__ import annotations

import os
import re
import time

import pytest

from aidoctor.doctor.core.errors import BadInput
from aidoctor.doctor.core.jsonio import last_json_object, utc_timestamp, write_atomically, write_output


def test_write_atomically_replaces_the_file_creates_its_folder_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "a" / "b" / "r.json"
    write_atomically(target, "old")
    write_atomically(target, b"new\n")
    assert target.read_bytes() == b"new\n"
    assert target.stat().st_mode & 0o777 == 0o644  # shared reports are readable by others
    assert os.listdir(target.parent) == ["r.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "r.json"
    write_atomically(target, "old")

    class Unencodable(str):
        def encode(self, *args, **kwargs):
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_atomically(target, Unencodable("new"))
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["r.json"]


def test_write_output_is_one_line_of_bad_input(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(BadInput) as caught:
        write_output(tmp_path / "file" / "r.json", "{}")
    assert str(caught.value) == f"cannot write {tmp_path}/file/r.json: File exists"  # its folder is a file


@pytest.mark.parametrize("text, expected", [
    ('{"python": "3.12.3"}\n', {"python": "3.12.3"}),
    ('Warning: a library printed this\n{"a": 1}\n', {"a": 1}),  # the result comes last
    ('{"a": 1}\n{"a": 2}\n\n', {"a": 2}),
    ('  {"deep": true}  \r\n', {"deep": True}),
    ('{"a": 1}\n{"truncated": \n', None),  # the last object is cut: not an older one in its place
    ("[1, 2]\n", None),
    ("Traceback (most recent call last):\n  ...\nImportError: x\n", None),
    ("", None),
])
def test_last_json_object(text, expected):
    assert last_json_object(text) == expected


def test_utc_timestamp_is_iso_8601_utc_to_the_second():
    before = time.time()
    stamp = utc_timestamp()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)
    assert int(before) <= time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone <= time.time()
