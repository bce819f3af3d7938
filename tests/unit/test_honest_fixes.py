"""Fixes a user can trust: carrying one out must improve the verdict on that machine.

The machines are built-in profiles (real boxes), with installed packages set as a venv would have them; the
index answers are the recorded ones, read by the real `Index` offline, and the verdicts come from the
engine's `judge`, so the cross-verdict pass (`reconcile`) runs as `aidoctor check` runs it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from aidoctor.doctor.check.engine import judge
from aidoctor.doctor.check.profiles import load as load_profile
from aidoctor.doctor.core.facts import TorchBuild
from aidoctor.doctor.dsl.fixcmd import parse_pip_installs, with_specifier
from aidoctor.doctor.dsl.rules import Alternative, Status, alternatives_here, on_macos
from aidoctor.recipes import all_tools, find_tool

from ..recorded import recorded_index

RECORDED_INDEX = recorded_index()
GRAVITON = load_profile("graviton").machine  # no GPU, Linux aarch64
GB10 = load_profile("dgx-spark").machine
MAC = load_profile("mac-studio-m4-max").machine
CPU_TORCH = {"torch": "2.13.0+cpu"}


def cpu_torch_venv(machine, **packages):
    """`machine` with a venv holding PyPI's CPU torch and `packages`."""
    return dataclasses.replace(machine, packages={**CPU_TORCH, **packages},
                               torch_build=TorchBuild(version="2.13.0+cpu", cuda=None, arch_list=()))


def verdicts(machine, *tools):
    chosen = [find_tool(t) for t in tools] if tools else list(all_tools().values())
    return {v.tool: v for v in judge(machine, chosen, RECORDED_INDEX)}


# -- reading fix commands --


def test_pip_installs_are_read_as_a_shell_reads_them():
    fix = ('TORCH_CUDA_ARCH_LIST="$(python -c \'import torch; print(1)\')" pip install -v --no-build-isolation '
           'xformers && pip install "torch==2.14.0" --index-url https://download.pytorch.org/whl/cpu  # why: pip x')
    got = [(i.name, i.specifier, i.from_index) for i in parse_pip_installs(fix)]
    assert got == [("xformers", "", True), ("torch", "==2.14.0", False)]


def test_urls_paths_and_checkouts_are_not_names_and_comments_are_not_commands():
    assert parse_pip_installs("pip install https://x.org/vllm-0.33.0+cpu-cp38-abi3-linux_x86_64.whl") == ()
    assert parse_pip_installs("pip install --no-build-isolation git+https://github.com/pytorch/ao.git") == ()
    assert parse_pip_installs("sudo apt-get install nvidia-driver-580-open  # or: pip install torch") == ()
    assert parse_pip_installs('pip install "unbalanced') == ()
    assert [i.name for i in parse_pip_installs("transformers + peft (pip install transformers peft), slower")] == \
        ["transformers", "peft"]


def test_a_bare_requirement_takes_the_pin_it_is_asked_for():
    fix = "pip install torch --index-url https://download.pytorch.org/whl/cpu"
    (torch,) = parse_pip_installs(fix)
    assert with_specifier(fix, torch, "==2.14.0") == \
        'pip install "torch==2.14.0" --index-url https://download.pytorch.org/whl/cpu'


# -- fixes held against the verdicts of what they install --


def test_a_pin_of_torch_on_a_gpu_less_box_names_torchs_cpu_build():
    """vllm 0.33 installed beside PyPI's CPU torch 2.13: its rule says `pip install "torch==2.14.0"`, which from
    PyPI is the CUDA build torch's own rule calls useless here; the fix takes torch's CPU index instead."""
    vllm = verdicts(cpu_torch_venv(GRAVITON, vllm="0.33.0"), "vllm")["vllm"]
    assert 'pip install "torch==2.14.0"' not in vllm.fixes
    assert 'pip install "torch==2.14.0" --index-url https://download.pytorch.org/whl/cpu' in vllm.fixes


def test_no_fix_installs_the_index_release_a_rule_says_is_the_wrong_build_here():
    """vllm not installed beside CPU torch on a GPU-less box: the rule says PyPI's vllm is the CUDA build and
    names the +cpu wheel; `pip install --no-deps vllm` (from its torch pin) would install the CUDA build."""
    vllm = verdicts(cpu_torch_venv(GRAVITON), "vllm")["vllm"]
    assert vllm.status is Status.BUILD
    assert vllm.fixes and all("+cpu" in fix or "VLLM_TARGET_DEVICE=cpu" in fix for fix in vllm.fixes), vllm.fixes
    assert not any(f.fix and f.rule is None and "pip install" in f.fix and "vllm" in f.fix
                   for f in vllm.findings), "an index fix for vllm survived under the build rule"


def test_under_a_blocking_finding_only_blocking_fixes_show():
    """unsloth installed on a GPU-less box with a transformers it caps: 'needs a GPU' blocks it, so
    `pip install "transformers<=5.17"` would not make it work and is not shown."""
    machine = cpu_torch_venv(GRAVITON, unsloth="2026.10.9", transformers="5.24.0")
    unsloth = verdicts(machine, "unsloth")["unsloth"]
    assert unsloth.status is Status.UNSUPPORTED
    assert not any("transformers" in fix for fix in unsloth.fixes), unsloth.fixes
    assert unsloth.fixes == ()  # nothing lifts "needs a GPU": no fix improves the verdict
    assert "transformers + peft" in unsloth.alternative  # what works here instead


def test_under_blocking_findings_that_all_have_fixes_only_their_fixes_show():
    """vllm installed on a GB10 venv with torch 2.15: the torch pin blocks it, and its fix is shown; the
    index's `pip install vllm` is not."""
    machine = dataclasses.replace(GB10, packages={"torch": "2.15.0", "vllm": "0.33.0"},
                                  torch_build=TorchBuild(version="2.15.0", cuda="13.2", arch_list=("sm_120",)))
    vllm = verdicts(machine, "vllm")["vllm"]
    blocking = {f.fix for f in vllm.findings if f.fix and f.status is Status.UNSUPPORTED}
    assert vllm.status is Status.UNSUPPORTED and blocking
    assert set(vllm.fixes) == blocking


def test_every_shown_fix_on_every_profile_installs_nothing_another_verdict_blocks():
    """No fix shown on a built-in profile pip-installs from the index a tool whose verdict there is unsupported."""
    for name in ("dgx-spark", "gh200", "graviton", "h100", "jetson-agx-orin", "jetson-thor", "mac-studio-m4-max",
                 "rtx-4090"):
        judged = verdicts(load_profile(name).machine)
        by_dist = {all_tools()[tool].dist_name: v for tool, v in judged.items()}
        for tool, verdict in judged.items():
            for fix in verdict.report_fixes():
                for install in parse_pip_installs(fix):
                    other = by_dist.get(install.name)
                    if install.from_index and other is not None and install.name != all_tools()[tool].dist_name \
                            and not install.specifier:
                        assert other.status is not Status.UNSUPPORTED, (name, tool, fix)


# -- alternatives carry their platform --


def test_an_alternative_for_another_os_is_not_offered():
    on_linux = verdicts(GRAVITON, "triton", "vllm", "liger-kernel")
    assert on_linux["triton"].alternative is None  # MLX's Metal kernels and triton-windows are for other OSes
    assert "Mac" not in (on_linux["liger-kernel"].alternative or "")
    assert "MLX" not in (on_linux["liger-kernel"].alternative or "")
    on_mac = verdicts(MAC, "triton", "vllm")
    assert "mx.fast.metal_kernel" in on_mac["triton"].alternative
    assert "triton-windows" not in on_mac["triton"].alternative
    assert "vllm-metal" in on_mac["vllm"].alternative


def test_an_alternative_whose_platform_is_unknown_says_where_it_applies():
    unknown_os = dataclasses.replace(GRAVITON, os=None)
    said = alternatives_here((Alternative("MLX", on_macos()), Alternative("plain PyTorch")), unknown_os)
    assert said == "if macOS: MLX; plain PyTorch"
    assert alternatives_here((Alternative("MLX", on_macos()),), GRAVITON) is None


# -- explain --


def explained(tool_id, machine, show_all=False):
    from rich.console import Console

    from aidoctor.doctor.render.terminal import render_explain

    tool = find_tool(tool_id)
    (verdict,) = judge(machine, [tool], RECORDED_INDEX)
    console = Console(width=400, record=True)
    render_explain(tool, verdict, "profile", console, None, show_all=show_all)
    return verdict, console.export_text().splitlines()


def test_explain_shows_the_rules_that_apply_and_counts_the_rest():
    verdict, lines = explained("torch", GRAVITON)
    rules = find_tool("torch").rules
    listed = [line for line in lines if line.lstrip().startswith(("APPLIES", "MAY APPLY", "cannot tell",
                                                                   "does not apply"))]
    applying = [f for f in verdict.findings if f.rule is not None]
    assert len(listed) == len(applying) and not any("does not apply  [" in line for line in listed)
    assert f"  {len(rules) - len(applying)} more rules do not apply here; --all shows them" in lines
    assert len(lines) < 40  # it was 142 lines for torch
    _, every = explained("torch", GRAVITON, show_all=True)
    assert sum("does not apply  [" in line for line in every) == len(rules) - len(applying)


def test_explain_ends_with_the_verdicts_own_fixes_and_offers_no_fix_it_contradicts():
    """torch on a GPU-less box is caveats (PyPI's CUDA build is useless there): `pip install torch` from the
    index finding must not appear as a fix; the CPU index is the fix, and it comes last."""
    verdict, lines = explained("torch", GRAVITON)
    assert verdict.status is Status.CAVEATS
    fix_lines = [line.strip() for line in lines if line.strip().startswith("fix:")]
    assert "fix: pip install torch" not in fix_lines
    assert lines[-2:] == ["How to fix torch here:",
                          "  pip install torch --index-url https://download.pytorch.org/whl/cpu"]
    unsloth, lines = explained("unsloth", cpu_torch_venv(GRAVITON, unsloth="2026.10.9", transformers="5.24.0"))
    assert not any("transformers<=5.17" in line for line in lines if line.strip().startswith("fix:"))
    assert lines[-1].startswith("  alternative: transformers + peft")


# -- install: a pinned version that does not exist --


def test_a_version_the_index_has_no_release_of_is_refused_at_plan_time_with_the_nearest():
    import pytest

    from aidoctor.doctor.core.errors import EXIT_BAD_INPUT, NoSuchRelease
    from aidoctor.doctor.install.plan import InstallRequest
    from aidoctor.doctor.install.run import prepare

    request = InstallRequest(tool="peft", version="99.0", dry_run=True, profile="dgx-spark", offline=True)
    with pytest.raises(NoSuchRelease) as refused:
        prepare(request, index=RECORDED_INDEX)
    assert refused.value.exit_code == EXIT_BAD_INPUT
    message = str(refused.value)
    assert "\n" not in message and message.startswith("peft 99.0 is not a release on the package index")
    assert message.endswith("the nearest releases: 0.21.2, 0.21.1, 0.21.0")
    # a release that exists, in any spelling pip accepts, is planned
    assert prepare(InstallRequest(tool="peft", version="0.21.2", dry_run=True, profile="dgx-spark", offline=True),
                   index=RECORDED_INDEX).plan.version == "0.21.2"


def test_the_nearest_releases_sit_either_side_of_the_missing_one():
    from aidoctor.doctor.check.index import nearest_releases

    project = RECORDED_INDEX.projects(["peft"])["peft"]
    assert nearest_releases(project, "0.21.2") is None
    assert nearest_releases(project, "0.21.2.0") is None  # the same version to pip
    below_and_above = nearest_releases(project, "0.16.5")
    assert "0.16.0" in below_and_above and "0.17.0" in below_and_above
    assert nearest_releases(project, "not-a-version") == ["0.21.2", "0.21.1", "0.21.0"]


# -- install: torch brought into an environment that has none --

PIP_REPORT = Path(__file__).parent.parent / "fixtures" / "pip-report" / "peft-into-empty-venv-x86_64.json"


def test_pips_report_says_which_torch_build_it_would_bring_and_that_it_does_not_suit_a_gpu_less_box():
    """The real report of `pip install peft` into an empty venv: PyPI's torch 2.15.0, a CUDA build with its
    nvidia-* wheels. On a machine without an NVIDIA GPU that is said, with torch's CPU build to take instead."""
    from aidoctor.doctor.install.plan import arrival_note, parse_arrivals

    items = json.loads(PIP_REPORT.read_text())["install"]
    tools = {t.dist_name: t for t in all_tools().values()}
    arrivals = {a.name: a for a in parse_arrivals(items, installed=[], tools=list(tools))}
    assert set(arrivals) == {"torch", "triton"}  # the protected tools it brings; not peft's other requirements
    torch = arrivals["torch"]
    assert torch.version == "2.15.0" and torch.filename == "torch-2.15.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    assert torch.cuda and "nvidia-cudnn-cu13" in torch.nvidia
    assert torch.nvidia_brought == 15  # the nvidia-* wheels of the whole report
    note = arrival_note(torch, tools["torch"], GRAVITON)
    assert note.startswith("warning: pip would bring torch 2.15.0 into this environment, which has none: "
                           "torch-2.15.0-cp311-cp311-manylinux_2_28_x86_64.whl, a CUDA build")
    assert "this machine has no NVIDIA GPU" in note
    assert note.endswith('the build for this machine: pip install "torch==2.15.0" '
                         "--index-url https://download.pytorch.org/whl/cpu")
    # on a machine with the GPU it is built for, it is said without a warning
    assert not arrival_note(torch, tools["torch"], GB10).startswith("warning")
    # an environment that has torch gets no note: the pin keeps it
    assert "torch" not in {a.name for a in parse_arrivals(items, installed=["torch"], tools=list(tools))}


def test_install_torch_into_an_empty_venv_on_a_gpu_less_box_warns_and_names_the_cpu_build():
    from aidoctor.doctor.install.plan import InstallRequest
    from aidoctor.doctor.install.run import prepare

    plan = prepare(InstallRequest(tool="torch", dry_run=True, profile="graviton", offline=True),
                   index=RECORDED_INDEX).plan
    warnings = [note for note in plan.notes if note.startswith("warning:")]
    assert warnings and "cannot use" in warnings[0]
    assert warnings[0].endswith("--index-url https://download.pytorch.org/whl/cpu")
    peft = prepare(InstallRequest(tool="peft", dry_run=True, profile="graviton", offline=True),
                   index=RECORDED_INDEX).plan
    assert any(note.startswith("warning: this environment has no torch, and pip would bring torch-")
               and "--index-url https://download.pytorch.org/whl/cpu" in note for note in peft.notes), peft.notes



def test_the_run_reports_the_torch_pip_would_bring_right_after_resolving():
    """The resolve step's report goes through `_say_arrivals` to the user, before anything is downloaded."""
    from types import SimpleNamespace

    from aidoctor.doctor.install.envstate import EnvState
    from aidoctor.doctor.install.run import _Run

    said: list[str] = []
    run = _Run.__new__(_Run)
    run.resolved = json.loads(PIP_REPORT.read_text())["install"]
    run.before = EnvState("/env", "/usr", False, "/env/lib/site-packages", True, "cp311", {})
    run.prepared = SimpleNamespace(machine=GRAVITON)
    run.reporter = SimpleNamespace(info=said.append)
    run._say_arrivals()
    assert [line.split(" into ")[0] for line in said] == ["warning: pip would bring torch 2.15.0",
                                                          "warning: pip would bring triton 3.9.0"]
    assert said[1].endswith("triton's verdict for it here is unsupported: Triton has no CPU backend: it needs an "
                            "NVIDIA or AMD GPU")
