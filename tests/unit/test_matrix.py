"""aidoctor matrix: merging untrusted reports, collapsing identical machines, drift, and literal output.

The reports are real: report-x86.json is `aidoctor report --offline` on the CI machine, and
report-arm64-qemu.json came back from `fleet collect --image aidoctor-testbed:arm64` (Debian arm64 under qemu).
Variants are made by editing copies the way a different machine's report would differ.
"""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from aidoctor.doctor.check.engine import check_profiles
from aidoctor.doctor.fleet.matrix import build_matrix, profile_members
from aidoctor.doctor.fleet.reportfile import ABSENT, MAX_REPORT_BYTES, NotAReport, load_inputs, parse_report
from aidoctor.doctor.render.matrix import render_csv, render_markdown, render_terminal, visible

REPORTS = Path(__file__).parents[1] / "fixtures" / "reports"
HOSTILE = ["[red]x[/red]", "\x1b[31mred\x1b[0m", "<script>alert(1)</script>", "=HYPERLINK(\"http://x\")"]


def _report(name: str = "report-x86.json") -> dict:
    return json.loads((REPORTS / name).read_text())


def _write(folder: Path, name: str, data) -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def _variant(**changes) -> dict:
    data = _report()
    for key, value in changes.items():
        data[key] = value
    return data


def _merge(folder: Path, profiles=()):
    return build_matrix(load_inputs([folder]), profiles)


def test_two_real_machines_make_two_columns_of_their_kinds(tmp_path):
    _write(tmp_path, "x86.json", _report())
    _write(tmp_path, "arm.json", _report("report-arm64-qemu.json"))
    matrix = _merge(tmp_path)
    assert not matrix.rejected and not matrix.failures and matrix.machines == 2
    kinds = {c.first.machine.arch: c.first.kind for c in matrix.columns}
    assert kinds["aarch64"] == "linux aarch64"  # qemu-user hides the CPU and there is no GPU: only the platform
    assert kinds["x86_64"].endswith("no GPU · linux x86_64")
    assert matrix.tools[:3] == ("torch", "triton", "flash-attn")  # the registry's order
    arm = next(c for c in matrix.columns if c.first.machine.arch == "aarch64")
    assert arm.title == "image aidoctor-testbed:arm64"
    assert arm.cell("torch").status in {"ok", "caveats", "build", "unknown", "unsupported"}


def test_identical_machines_collapse_into_one_column_with_a_count(tmp_path):
    for n in range(1, 5):
        _write(tmp_path, f"n{n}.json", _variant(label=f"node-{n}", machine_id=f"id{n}"))
    matrix = _merge(tmp_path)
    (column,) = matrix.columns
    assert column.count == 4 and column.title == "node-1, node-2, node-3 and 1 more (×4)"
    assert not matrix.drift  # identical: nothing differs


def test_the_same_machine_twice_counts_once_and_the_newer_report_wins(tmp_path):
    old = _variant(label="spark", machine_id="same", created_at="2026-11-01T00:00:00Z")
    new = copy.deepcopy(old)
    new["created_at"] = "2026-11-20T00:00:00Z"
    new["verdicts"][0]["installed"] = "9.9.9"
    _write(tmp_path, "a-new.json", new)
    _write(tmp_path, "b-old.json", old)
    matrix = _merge(tmp_path)
    (column,) = matrix.columns
    assert column.count == 1 and column.cell(new["verdicts"][0]["tool"]).installed == "9.9.9"
    assert [(Path(s.source).name, s.reason) for s in matrix.superseded] == [
        ("b-old.json", f"an older report of the machine in {tmp_path / 'a-new.json'}")]


def test_drift_lists_what_differs_between_machines_of_one_kind(tmp_path):
    a = _variant(label="node-a", machine_id="a")
    b = _variant(label="node-b", machine_id="b")
    b["facts"]["nvidia_driver"] = "580.95.05"
    b["facts"]["torch_build"] = {"version": "2.9.0+cu130", "cuda": "13.0", "arch_list": None}
    peft = next(v for v in b["verdicts"] if v["tool"] == "peft")
    peft["installed"], peft["status"] = "0.17.1", "unsupported"
    _write(tmp_path, "a.json", a)
    _write(tmp_path, "b.json", b)
    _write(tmp_path, "arm.json", _report("report-arm64-qemu.json"))  # another kind: no drift against it
    matrix = _merge(tmp_path)
    assert len(matrix.columns) == 3
    drift = {d.aspect: dict(d.values) for d in matrix.drift}
    assert {d.kind for d in matrix.drift} == {a_kind for a_kind in {matrix.columns[0].first.kind,
                                                                   matrix.columns[1].first.kind}
                                              if "x86_64" in a_kind}
    assert drift["NVIDIA driver"] == {"not reported": ("node-a",), "580.95.05": ("node-b",)}
    assert drift["torch build"]["2.9.0+cu130"] == ("node-b",)
    assert drift["peft version"]["0.17.1"] == ("node-b",) and drift["peft status"]["unsupported"] == ("node-b",)
    assert "kernel" not in drift  # equal on both


@pytest.mark.parametrize("content, reason", [
    ("{\"schema\": \"aidoctor.report/1\", \"facts\": {\"os\": \"li", "truncated JSON"),
    ("{\"schema\": \"aidoctor.report/1\",, }", "malformed JSON: Expecting property name"),
    ("[1, 2]", "not a report: the JSON is not an object"),
    ("{\"schema\": \"aidoctor.report/9\"}", "schema 'aidoctor.report/9'; this aidoctor reads aidoctor.report/1"),
    ("{\"facts\": {}, \"verdicts\": []}", "no schema key"),
    ("", "empty file"),
    (b"\xff\xfe{}", "not UTF-8 text"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_bad_files_are_rejected_by_name_and_the_rest_merge(tmp_path, content, reason):
    good = _write(tmp_path, "good.json", _report())
    bad = tmp_path / "bad.json"
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    inputs = load_inputs([good, bad])
    assert len(inputs.members) == 1
    ((source, why),) = [(r.source, r.reason) for r in inputs.rejected]
    assert source == str(bad) and reason in why, why


@pytest.mark.parametrize("edit, reason", [
    (lambda d: d["verdicts"][0].update(status="great"), "verdicts[0].status: 'great' is not one of ok, caveats"),
    (lambda d: d["verdicts"][1].update(tool=7), "verdicts[1].tool: expected a string, got 7"),
    (lambda d: d["verdicts"].append(dict(d["verdicts"][0])), "a second verdict for 'torch'"),
    (lambda d: d["facts"].update(gpus="many"), "gpus"),
    (lambda d: d.update(verdicts={}), "verdicts: expected a list"),
    (lambda d: d.update(smoke={"peft": {"passed": "yes"}}), "smoke.'peft': expected an object with passed"),
    (lambda d: d["verdicts"][0].update(reasons=["x" * 30_000]), "verdicts[0].reasons: expected a list of strings"),
    (lambda d: d.update(label=["a"]), "report.label: expected a string"),
])
def test_reports_with_wrong_types_are_rejected_with_the_key(edit, reason):
    data = _report()
    edit(data)
    with pytest.raises(NotAReport) as error:
        parse_report(json.dumps(data).encode(), "r.json")
    assert reason in str(error.value), str(error.value)


def test_an_oversized_report_is_rejected_without_reading_it_whole(tmp_path):
    big = _variant()
    big["facts"]["packages"] = {f"pkg-{i}": "1.0" for i in range(MAX_REPORT_BYTES // 16)}
    path = _write(tmp_path, "big.json", big)
    assert path.stat().st_size > MAX_REPORT_BYTES
    inputs = load_inputs([path, tmp_path / "missing.json"])
    assert sorted(r.reason.split(":")[0] for r in inputs.rejected) == ["no such file or folder", "oversized"]


def _hostile_matrix(tmp_path: Path):
    for n, text in enumerate(HOSTILE):
        data = _variant(label=text, machine_id=f"h{n}")
        data["verdicts"][0]["installed"] = text
        data["verdicts"][0]["reasons"] = [f"because {text}"]
        data["verdicts"][0]["status"] = "unsupported"
        _write(tmp_path, f"h{n}.json", data)
    return _merge(tmp_path)


def test_hostile_strings_print_literally_in_the_terminal(tmp_path):
    matrix = _hostile_matrix(tmp_path)
    buffer = io.StringIO()
    render_terminal(matrix, Console(file=buffer, force_terminal=True, color_system="truecolor", width=400),
                    reasons=True)
    out = buffer.getvalue()
    assert "[red]x[/red]" in out  # shown, not parsed as markup
    assert "\x1b[31mred\x1b[0m" not in out and "\\x1b[31mred\\x1b[0m" in out  # the escape is shown, not obeyed
    assert "<script>alert(1)</script>" in out


def test_hostile_strings_are_literal_in_markdown(tmp_path):
    text = render_markdown(_hostile_matrix(tmp_path))
    assert "<script>" not in text and "&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in text
    assert "\x1b" not in text and "\\\\x1b\\[31mred" in text  # backslash and bracket escaped for Markdown
    assert "\\[red\\]x\\[/red\\]" in text
    for line in text.splitlines():  # no label broke out of its table row
        if line.startswith("| torch |"):
            assert line.count(" | ") == len(HOSTILE)


def test_csv_is_one_row_per_machine_and_tool_and_never_a_formula(tmp_path):
    matrix = _hostile_matrix(tmp_path)
    rows = list(csv.DictReader(io.StringIO(render_csv(matrix))))
    assert len(rows) == len(matrix.columns) * len(matrix.tools)
    machines = {row["machines"] for row in rows}
    assert "'=HYPERLINK(\"http://x\")" in machines and not any(m.startswith("=") for m in machines)
    assert "\\x1b[31mred\\x1b[0m" in machines


def test_visible_escapes_controls_and_bidi_overrides_only():
    assert visible("GB10 × 2 — ok") == "GB10 × 2 — ok"
    assert visible("a\x1b[2Jb\r\n\u202etxt\x00") == "a\\x1b[2Jb\\x0d\\x0a\\u202etxt\\x00"


def test_profiles_join_the_matrix_beside_real_machines(tmp_path):
    _write(tmp_path, "x86.json", _report())
    matrix = _merge(tmp_path, profile_members(check_profiles(["dgx-spark", "dgx-spark"], offline=True, timeout=5)))
    assert [c.first.profile for c in matrix.columns] == [False, True]  # profiles last, and once
    profile = matrix.columns[1]
    assert profile.title == "profile dgx-spark" and profile.first.kind == "NVIDIA GB10 · linux aarch64"
    assert not matrix.drift  # a profile is not a fleet member


def test_a_tool_only_a_newer_aidoctor_knows_gets_its_own_row(tmp_path):
    newer = _variant(label="newer", machine_id="n")
    newer["verdicts"].append({"tool": "megatron", "status": "build", "installed": None, "reasons": ["r"],
                              "fixes": [], "sources": []})
    _write(tmp_path, "newer.json", newer)
    _write(tmp_path, "older.json", _variant(label="older", machine_id="o"))
    matrix = _merge(tmp_path)
    assert matrix.tools[-1] == "megatron"
    older = next(c for c in matrix.columns if c.first.name == "older")
    assert older.cell("megatron").status == ABSENT


def test_failure_records_from_collect_show_as_not_collected(tmp_path):
    _write(tmp_path, "good.json", _report())
    _write(tmp_path, "down.json", {"schema": "aidoctor.collect-failure/1", "label": "gh200-b", "target": "gh200-b",
                                   "via": "ssh", "problem": "unreachable", "reason": "Connection refused"})
    matrix = _merge(tmp_path)
    assert [(f.name, f.problem, f.reason) for f in matrix.failures] == [("gh200-b", "unreachable",
                                                                         "Connection refused")]
    assert matrix.to_json()["failures"][0]["via"] == "ssh"


def test_json_output_keeps_every_cell_and_the_machines_behind_each_column(tmp_path):
    _write(tmp_path, "x86.json", _report())
    _write(tmp_path, "arm.json", _report("report-arm64-qemu.json"))
    data = _merge(tmp_path).to_json()
    assert data["schema"] == "aidoctor.matrix/1"
    for column in data["columns"]:
        assert set(column["cells"]) == set(data["tools"])
        assert column["machines"][0]["source"].endswith(".json") and column["facts"]["Python"]
    assert json.loads(json.dumps(data)) == data


@pytest.mark.parametrize("fmt, starts", [("terminal", "1 machine(s) in 1 column(s)"), ("markdown", "#"), ("html", "<!DOCTYPE html>"),
                                         ("csv", "column,machines,"), ("json", "{")])
def test_every_matrix_format_has_its_renderer(fmt, starts, tmp_path):
    from typer.testing import CliRunner

    from aidoctor.doctor.cli import MatrixFormat, app

    assert MatrixFormat(fmt).value == fmt
    out = tmp_path / f"m.{fmt}"
    result = CliRunner().invoke(app, ["matrix", "--profile", "graviton", "--offline", "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().lstrip().startswith(starts), out.read_text()[:200]
    assert f"wrote {fmt} matrix of 1 machine(s)" in result.output
