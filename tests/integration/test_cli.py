"""The real `aidoctor` command, run as a user runs it: output, JSON schema, exit codes, bad input.

The package index answers come from tests/fixtures/index (recorded from the
live Simple API by tests/fixtures/index/record.py) through a copy of the cache
and --offline, so the verdicts do not move when PyPI publishes a release.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from aidoctor.recipes import all_tools

FIXTURES = Path(__file__).parents[1] / "fixtures"
AIDOCTOR = Path(sys.executable).parent / "aidoctor"
STATUSES = {"ok", "caveats", "build", "unsupported", "unknown"}
TOOL_IDS = list(all_tools())  # the registry, in its display order


@pytest.fixture
def run(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    shutil.copytree(FIXTURES / "index" / "cache", cache)

    def run(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        full_env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AIDOCTOR_CACHE_DIR": str(cache), **(env or {})}
        return subprocess.run([str(AIDOCTOR), *args], capture_output=True, text=True, env=full_env, timeout=timeout)

    return run


def verdicts_of(result: subprocess.CompletedProcess) -> dict[str, dict]:
    return {v["tool"]: v for v in json.loads(result.stdout)["verdicts"]}


def test_profile_report_follows_the_schema(run):
    result = run("check", "--profile", "dgx-spark", "--offline", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["schema"] == "aidoctor.report/1"
    assert report["facts"]["gpus"][0]["compute_capability"] == "12.1"
    assert [v["tool"] for v in report["verdicts"]] == TOOL_IDS
    for verdict in report["verdicts"]:
        assert set(verdict) >= {"tool", "status", "installed", "reasons", "fixes", "sources"}
        assert verdict["status"] in STATUSES
        assert verdict["reasons"], verdict["tool"]
        assert all(s.startswith("https://") for s in verdict["sources"])


def test_a_report_is_a_facts_file_and_gives_the_same_verdicts(run, tmp_path):
    first = run("check", "--profile", "jetson-agx-orin", "--offline", "--json")
    saved = tmp_path / "orin.json"
    saved.write_text(first.stdout)
    again = run("check", "--facts", str(saved), "--offline", "--json")
    assert again.returncode == 0, again.stderr
    assert verdicts_of(again) == verdicts_of(first)


def test_a_partial_facts_file_gives_unknown_not_a_crash(run, tmp_path):
    facts = tmp_path / "partial.json"
    facts.write_text(json.dumps({"os": "linux", "arch": "aarch64"}))
    result = run("check", "--facts", str(facts), "--offline", "--json")
    assert result.returncode == 0, result.stderr
    verdicts = verdicts_of(result)
    assert verdicts["flash-attn"]["status"] == "unknown"
    assert any("unknown" in r for r in verdicts["flash-attn"]["reasons"])


def test_a_broken_install_is_a_finding(run, tmp_path):
    """torch 2.10.0+cpu from PyPI on a GB10: imports fine, never touches the GPU (pytorch#160162)."""
    spark = json.loads(run("check", "--profile", "dgx-spark", "--offline", "--json").stdout)["facts"]
    spark["packages"] = {"torch": "2.10.0+cpu"}
    spark["torch_build"] = {"version": "2.10.0+cpu", "cuda": None, "arch_list": None}
    facts = tmp_path / "spark-cpu-torch.json"
    facts.write_text(json.dumps(spark))
    result = run("check", "--facts", str(facts), "--offline", "--json")
    assert result.returncode == 1
    torch = verdicts_of(result)["torch"]
    assert torch["status"] == "unsupported" and torch["installed"] == "2.10.0+cpu"
    assert any("CPU" in r for r in torch["reasons"])


@pytest.mark.parametrize("profile, tool, code", [
    ("mac-studio-m4-max", "peft", 0),
    ("mac-studio-m4-max", "flash-attn", 1),
    ("h100", "flash-attn-3", 1),  # build: not usable as is
])
def test_exit_code_with_named_tools(run, profile, tool, code):
    assert run("check", "--profile", profile, "--offline", "--tool", tool).returncode == code


def test_the_table_is_plain_when_piped_and_names_every_tool(run):
    result = run("check", "--profile", "mac-studio-m4-max", "--offline")
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout
    for tool in TOOL_IDS:
        assert f"\n{tool} " in result.stdout or f"\n {tool} " in result.stdout
    assert "How to fix" in result.stdout


def test_explain_shows_the_rules_with_sources(run):
    result = run("explain", "flash-attn", "--profile", "mac-studio-m4-max", "--offline")
    assert result.returncode == 0, result.stderr
    assert "APPLIES" in result.stdout and "does not apply" not in result.stdout
    assert "more rules do not apply here; --all shows them" in result.stdout
    assert "https://" in result.stdout and "unsupported" in result.stdout
    every = run("explain", "flash-attn", "--profile", "mac-studio-m4-max", "--offline", "--all")
    assert every.returncode == 0, every.stderr
    assert "APPLIES" in every.stdout and "does not apply" in every.stdout


def test_profiles_and_compare(run):
    listing = run("profiles")
    for name in ("dgx-spark", "gh200", "jetson-agx-orin", "jetson-thor", "mac-studio-m4-max", "mac-studio-m3-ultra",
                 "rtx-4090", "h100", "graviton"):
        assert name in listing.stdout
    assert "273 GB/s" in listing.stdout
    result = run("compare", "dgx-spark", "mac-studio-m4-max", "--offline", "--json")
    assert result.returncode == 0, result.stderr
    both = json.loads(result.stdout)["profiles"]
    spark = {v["tool"]: v["status"] for v in both["dgx-spark"]}
    mac = {v["tool"]: v["status"] for v in both["mac-studio-m4-max"]}
    assert mac["flash-attn"] == "unsupported" and spark["flash-attn"] != "unsupported"
    assert mac["mlx"] == "ok"
    table = run("compare", "dgx-spark", "mac-studio-m4-max", "--offline")
    assert "dgx-spark" in table.stdout and "mac-studio-m4-max" in table.stdout and "546 GB/s" in table.stdout


@pytest.mark.parametrize("content, problem", [
    ("{not json", "not valid JSON"),
    ('{"os": "linux", "gpus": [{"name": "GB', "not valid JSON"),  # truncated
    ('{"os": "linux", "memory_gb": "lots"}', "facts.memory_gb: expected a number"),
    ('["os", "linux"]', "expected a JSON object"),
    ("", "not valid JSON"),
])
def test_a_bad_facts_file_is_one_line_and_exit_2(run, tmp_path, content, problem):
    facts = tmp_path / "bad.json"
    facts.write_text(content)
    result = run("check", "--facts", str(facts), "--offline")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stdout == ""
    line = result.stderr.strip()
    assert "\n" not in line and str(facts) in line and problem in line


@pytest.mark.parametrize("args, problem", [
    (["check", "--tool", "flash-atten", "--profile", "h100", "--offline"], "unknown tool 'flash-atten'"),
    (["explain", "nothing"], "unknown tool 'nothing'"),
    (["check", "--profile", "dgx-sparkle", "--offline"], "unknown profile 'dgx-sparkle'"),
    (["compare", "dgx-spark", "cray-1", "--offline"], "unknown profile 'cray-1'"),
    (["check", "--facts", "/nonexistent/facts.json"], "no such file"),
    (["check", "--python", "/nonexistent/bin/python"], "does not exist"),
    (["check", "--python", "/bin/echo"], "not a Python interpreter"),
    (["check", "--profile", "h100", "--facts", "x.json"], "cannot be combined"),
])
def test_bad_input_is_one_line_and_exit_2(run, args, problem):
    result = run(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and problem in lines[0], result.stderr


def test_a_usage_error_exits_2_without_traceback(run):
    result = run("check", "--timeout", "soon")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_this_machine_with_an_unreachable_index(run):
    """No network: every index answer becomes unknown with its reason; nothing hangs or crashes."""
    result = run("check", "--json", "--python", sys.executable, "--timeout", "2",
                 env={"AIDOCTOR_INDEX_URL": "http://127.0.0.1:9/pypi", "AIDOCTOR_CACHE_DIR": "/nonexistent-cache"})
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert report["facts"]["os"] == "linux" and report["facts"]["python"].startswith(f"{sys.version_info[0]}.")
    verdicts = {v["tool"]: v for v in report["verdicts"]}
    assert "pytest" in report["facts"]["packages"]
    not_installed = [v for v in verdicts.values() if v["installed"] is None and v["tool"] != "flash-attn-3"]
    assert not_installed
    for verdict in not_installed:
        assert any("package index unreachable" in r for r in verdict["reasons"]), verdict


def test_no_identifiers_unless_asked(run):
    host = socket.gethostname()
    plain = run("check", "--json", "--python", sys.executable, "--offline")
    assert host not in plain.stdout and sys.executable not in plain.stdout
    assert "identifiers" not in json.loads(plain.stdout)["facts"]
    full = run("check", "--json", "--python", sys.executable, "--offline", "--include-identifiers")
    assert json.loads(full.stdout)["facts"]["identifiers"]


def test_a_failed_deep_kernel_makes_the_installed_torch_a_finding(run, tmp_path):
    """An import and is_available() that succeed prove nothing (bitsandbytes#1930): the launch decides."""
    orin = json.loads(run("check", "--profile", "jetson-agx-orin", "--offline", "--json").stdout)["facts"]
    orin["packages"] = {"torch": "2.5.0"}
    orin["deep"] = {"torch_import": True, "cuda_available": True,
                    "kernel": {"device": "cuda", "ok": False, "error": "RuntimeError: CUDA error: no kernel image "
                                                                     "is available for execution on the device"}}
    facts = tmp_path / "orin-deep.json"
    facts.write_text(json.dumps(orin))
    result = run("check", "--facts", str(facts), "--offline", "--json", "--tool", "torch")
    assert result.returncode == 1
    torch = verdicts_of(result)["torch"]
    assert torch["status"] == "unsupported"
    assert any("no kernel image is available" in r for r in torch["reasons"])


def test_python_dash_m_aidoctor_runs_the_cli(tmp_path):
    """For a Python whose scripts folder is not on PATH (issue 12): the same command, the same exit codes."""
    result = subprocess.run([sys.executable, "-m", "aidoctor", "--version"], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("aidoctor ")
    usage = subprocess.run([sys.executable, "-m", "aidoctor", "check", "--timeout", "soon"], capture_output=True,
                           text=True, cwd=tmp_path, timeout=60)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


@pytest.mark.parametrize("args", [["-h"], ["check", "-h"], ["fleet", "-h"], ["fleet", "collect", "-h"]])
def test_dash_h_is_help(run, args):
    result = run(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: aidoctor") and "--help" in result.stdout


@pytest.mark.parametrize("args, tool", [
    (["check", "--tool", "flash_attn", "--profile", "h100", "--offline", "--json"], "flash-attn"),
    (["check", "--tool", "Peft", "--profile", "DGX-Spark", "--offline", "--json"], "peft"),
    (["check", "--tool", "llama-factory", "--profile", "h100", "--offline", "--json"], "llamafactory"),
])
def test_tools_and_profiles_are_found_however_spelt(run, args, tool):
    result = run(*args)
    assert result.returncode in (0, 1), result.stderr
    assert list(verdicts_of(result)) == [tool]


@pytest.mark.parametrize("args, message", [
    (["check", "--tool", "deepspeeed", "--profile", "h100", "--offline"], "unknown tool 'deepspeeed'; did you mean deepspeed?"),
    (["explain", "trasformers", "--profile", "h100", "--offline"], "unknown tool 'trasformers'; did you mean transformers?"),
    (["install", "pefft", "--dry-run", "--profile", "h100", "--offline"], "unknown tool 'pefft'; did you mean peft?"),
    (["smoke", "pefft"], "unknown tool 'pefft'; did you mean peft?"),
    (["compare", "dgx-spark", "h10", "--offline"], "unknown profile 'h10'; did you mean h100?"),
    (["check", "--profile", "graviten", "--offline"], "unknown profile 'graviten'; did you mean graviton?"),
])
def test_a_typo_gets_did_you_mean_everywhere_a_name_is_given(run, args, message):
    result = run(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == f"aidoctor: error: {message}"


def test_a_misspelt_facts_key_is_refused_naming_it_and_lenient_reads_on(run, tmp_path):
    """Before: "gpu" and "nvidia_drvier" were ignored in silence, every GPU tool unknown, exit 0 (issue 12)."""
    facts = tmp_path / "typo.json"
    facts.write_text(json.dumps({"os": "linux", "arch": "aarch64", "gpu": [{"name": "NVIDIA GB10"}],
                                 "nvidia_drvier": "580.95.05"}))
    refused = run("check", "--facts", str(facts), "--offline")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.strip() == (f"aidoctor: error: facts file {facts}: facts.gpu: unknown key; did you mean "
                                      "gpus? (--lenient ignores unknown keys)")
    lenient = run("check", "--facts", str(facts), "--offline", "--lenient", "--json")
    assert lenient.returncode == 0, lenient.stderr
    assert lenient.stderr.splitlines() == [
        f"aidoctor: warning: facts file {facts}: facts.gpu: unknown key, ignored; did you mean gpus?",
        f"aidoctor: warning: facts file {facts}: facts.nvidia_drvier: unknown key, ignored; did you mean nvidia_driver?",
    ]
    assert json.loads(lenient.stdout)["facts"]["os"] == "linux"


def test_piped_output_honours_columns_keeps_fixes_whole_and_ends_no_line_in_a_space(run):
    """Before: 160 columns whatever COLUMNS said, trailing spaces, fix commands cut by newlines (issue 12)."""
    result = run("check", "--profile", "dgx-spark", "--offline", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if line != line.rstrip()] == []
    table = result.stdout.split("\n\n", 1)[1].split("How to fix", 1)[0]
    assert max(len(line) for line in table.splitlines()) <= 80
    assert any(line.strip().startswith("TORCH_CUDA_ARCH_LIST=") and line.endswith("xformers.git@v0.0.35")
               for line in lines)
    explain = run("explain", "xformers", "--profile", "dgx-spark", "--offline", env={"COLUMNS": "60"})
    assert any(line.endswith("xformers.git@v0.0.35") and "pip install -v" in line
               for line in explain.stdout.splitlines())


def test_a_network_failure_is_one_whole_line_at_the_top_not_one_per_row(run):
    """Before: every row repeated the raw exception, cut mid-word at 120 characters (issue 12)."""
    result = run("check", "--python", sys.executable, "--timeout", "2", "--audit", "off",
                 env={"AIDOCTOR_INDEX_URL": "http://127.0.0.1:9/pypi", "AIDOCTOR_CACHE_DIR": "/nonexistent-cache",
                      "COLUMNS": "100"})
    assert result.returncode in (0, 1), result.stderr
    lines = result.stdout.splitlines()
    top = [line for line in lines if "package index unreachable: " in line]
    assert len(top) == 1 and "ConnectionError" in top[0] and "Connection refused" in top[0], result.stdout
    assert lines.index(top[0]) < next(i for i, line in enumerate(lines) if line.startswith("tool"))
    assert sum("Connection refused" in line for line in lines) == 1
    # each row keeps the kind of failure, not its whole text (the why may wrap: read it as words)
    assert " ".join(result.stdout.split()).count("unreachable (ConnectionError); no cached data for") >= 5


@pytest.mark.parametrize("args, shows", [
    (["check", "--profile", "dgx-spark", "--offline"], "Cortex-A725 x 20"),
    (["check", "--facts", str(FIXTURES / "reports" / "report-x86.json"), "--offline"], "aidoctor check - facts"),
    (["explain", "torch", "--profile", "dgx-spark", "--offline"], "torch"),
    (["install", "peft", "--dry-run", "--profile", "dgx-spark", "--offline"], "Plan for peft"),
    (["matrix", str(FIXTURES / "reports"), "--offline"], "[1] ci-x86: AMD EPYC, no GPU - linux x86_64"),
    (["fit", "meta-llama/Llama-3.1-8B", "--profile", "dgx-spark"], "Llama-3.1-8B"),
])
def test_an_ascii_only_stdout_gets_ascii_stand_ins_not_a_crash(run, args, shows):
    result = run(*args, env={"PYTHONIOENCODING": "ascii"})
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    assert result.stdout.isascii() and result.stderr.isascii()
    assert shows in result.stdout, result.stdout
    assert "\\xb7" not in result.stdout and "\\xd7" not in result.stdout  # our own glyphs read as words, not escapes


def test_a_c_locale_without_utf8_mode_prints_too(run):
    # LANG=C with Python's UTF-8 mode and locale coercion off: stdout is ASCII (`ascii`, surrogateescape)
    env = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    result = run("check", "--profile", "dgx-spark", "--offline", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.isascii() and "Cortex-A725 x 20" in result.stdout
