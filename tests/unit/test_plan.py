"""The install planner as data: route, steps, exact commands and environment, per machine.

Machines are the built-in profiles (their facts come from ../shared/fixtures).
The environment a plan installs into is stated here as data: the torch build
DGX Spark's playbooks run (NGC 25.11: torch 2.10 on CUDA 13.0,
dgx-spark-playbooks#85), JetPack 6's torch 2.5 on CUDA 12.6 for Orin, and the
PyPI CUDA 13 torch 2.15 on the others.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from aidoctor.doctor.install.envstate import Dist, EnvState
from aidoctor.doctor.core.facts import TorchBuild
from aidoctor.doctor.check.index import Availability, Offer
from aidoctor.doctor.install.argv import BuiltWheel, RequirementsOf, ResolvedWheels
from aidoctor.doctor.install.plan import Action, InstallRequest, Paths, Route, Stored, build_key, key_id, make_plan
from aidoctor.doctor.check.profiles import load
from aidoctor.doctor.check.verdicts import evaluate
from aidoctor.recipes import all_tools, watched_dists

TORCH = {"dgx-spark": ("2.10.0", "13.0"), "gh200": ("2.15.0", "13.2"), "h100": ("2.15.0", "13.2"),
         "rtx-4090": ("2.15.0", "13.2"), "jetson-agx-orin": ("2.5.0", "12.6"), "jetson-thor": ("2.15.0", "13.2"),
         "graviton": ("2.15.0", None), "mac-studio-m4-max": ("2.15.0", None)}
PATHS = Paths(wheelhouse=Path("/wh"), run=Path("/cache/runs/x"), builds_root=Path("/cache/builds"))


def environment(profile: str, *, torch: bool = True):
    machine = load(profile).machine
    version, cuda = TORCH[profile]
    dists = {}
    if torch:
        machine = replace(machine, packages={"torch": version},
                          torch_build=TorchBuild(version=version, cuda=cuda, arch_list=None))
        dists["torch"] = Dist("torch", version, "/env/lib/site-packages/torch.dist-info", "r" * 64, "f" * 64)
    tag = "cp" + "".join(machine.python.split(".")[:2])
    state = EnvState("/env", "/usr", False, "/env/lib/site-packages", True, tag, dists)
    return machine, state


def plan_for(tool_id: str, profile: str, available: Availability | None, stored=(), torch: bool = True, **request):
    tool = all_tools()[tool_id]
    machine, state = environment(profile, torch=torch)
    fresh = replace(machine, packages={k: v for k, v in (machine.packages or {}).items() if k != tool.dist_name})
    verdict = evaluate(tool, fresh, available, watched_dists())
    return make_plan(InstallRequest(tool_id, python="/env/bin/python", **request), tool, machine, verdict,
                     available, list(stored), state, PATHS)


def sdist(version: str) -> Availability:
    return Availability(Offer.SDIST, version, None, reason=f"no wheel here; pip would build {version}")


def wheel(version: str, filename: str) -> Availability:
    return Availability(Offer.WHEEL, version, filename, reason=f"wheel {filename} on the package index")


def step(plan, action: str):
    return next(s for s in plan.steps if s.action is Action(action))


def build_env(plan) -> dict[str, str]:
    return {e.name: e.value for e in step(plan, "build").env}


# -- routes --


def test_flash_attn_on_gb10_is_a_build_for_sm120_with_torch_pinned():
    plan = plan_for("flash-attn", "dgx-spark", sdist("2.8.3"))
    assert plan.route is Route.BUILD
    assert [s.action.value for s in plan.steps] == ["pin", "build-requires", "source", "build", "store-built",
                                                    "resolve", "fetch", "fetch-kept", "store-fetched", "backup",
                                                    "install", "verify", "smoke"]
    assert [s.action for s in plan.steps][4] is Action.STORE_BUILT
    assert plan.pins == ("torch==2.10.0",)
    env = build_env(plan)
    assert env["FLASH_ATTN_CUDA_ARCHS"] == "120"
    assert env["FLASH_ATTENTION_FORCE_BUILD"] == "TRUE"
    build = step(plan, "build")
    assert build.argv[:7] == ("/env/bin/python", "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation")
    assert plan.paths.build == Path("/cache/builds") / f"flash-attn-2.8.3-{plan.key_id}"
    assert plan.key["torch"] == "2.10.0" and plan.key["torch_cuda"] == "13.0" and plan.key["python"] == "cp312"
    assert "MAX_JOBS" not in plan.key["flags"]  # parallelism does not change what is built
    resolve = step(plan, "resolve")
    assert "--constraint" in resolve.argv and "--dry-run" in resolve.argv and "--report" in resolve.argv


def test_flash_attn_on_a_mac_is_impossible_with_the_alternative():
    plan = plan_for("flash-attn", "mac-studio-m4-max", sdist("2.8.3"))
    assert plan.route is Route.IMPOSSIBLE and plan.steps == ()
    assert "sdpa" in (plan.alternative or "").lower()


def test_bitsandbytes_on_orin_is_built_from_source_not_taken_from_the_sbsa_wheel():
    plan = plan_for("bitsandbytes", "jetson-agx-orin",
                    wheel("0.50.2", "bitsandbytes-0.50.2-py3-none-manylinux_2_24_aarch64.whl"))
    assert plan.route is Route.BUILD
    assert "git+https://github.com/bitsandbytes-foundation/bitsandbytes@0.50.2" in step(plan, "source").argv
    assert "87" in build_env(plan)["CMAKE_ARGS"]


def test_bitsandbytes_on_gh200_takes_the_index_wheel():
    plan = plan_for("bitsandbytes", "gh200", wheel("0.50.2", "bitsandbytes-0.50.2-py3-none-manylinux_2_24_aarch64.whl"))
    assert plan.route is Route.INDEX
    assert "bitsandbytes==0.50.2" in step(plan, "resolve").argv
    assert "build" not in [s.action for s in plan.steps]


def test_deepspeed_always_builds_its_cpu_adam():
    plan = plan_for("deepspeed", "graviton", sdist("0.18.2"))
    assert plan.route is Route.BUILD
    assert build_env(plan)["DS_BUILD_CPU_ADAM"] == "1"


def test_unsloth_goes_in_without_its_dependencies_so_torch_stays():
    plan = plan_for("unsloth", "dgx-spark", wheel("2026.10.9", "unsloth-2026.10.9-py3-none-any.whl"))
    assert plan.route is Route.INDEX
    resolve = step(plan, "resolve")
    assert "--no-deps" in resolve.argv and "unsloth==2026.10.9" in resolve.argv and "unsloth-zoo" in resolve.argv
    marker = step(plan, "resolve-deps").argv[-1]
    assert marker == RequirementsOf("unsloth", marker.except_pinned) and "torch" in marker.except_pinned
    assert marker.describe().startswith("the requirements of unsloth except ")


def test_torch_is_never_built():
    plan = plan_for("torch", "jetson-agx-orin", sdist("2.15.0"), torch=False)
    assert plan.route is Route.IMPOSSIBLE and "does not build torch" in plan.why


def test_mlx_on_linux_asks_for_its_cpu_backend():
    plan = plan_for("mlx", "graviton", wheel("0.32.4", "mlx-0.32.4-cp312-cp312-manylinux_2_35_aarch64.whl"))
    assert plan.route is Route.INDEX
    assert "mlx[cpu]==0.32.4" in step(plan, "resolve").argv


def test_no_index_and_nothing_stored_is_impossible_and_says_what_to_do():
    plan = plan_for("peft", "graviton", Availability(Offer.UNKNOWN, reason="connection refused"))
    assert plan.route is Route.IMPOSSIBLE
    assert "connection refused" in plan.why and "--wheelhouse" in plan.alternative


def test_allow_torch_change_pins_nothing():
    plan = plan_for("peft", "graviton", wheel("0.21.2", "peft-0.21.2-py3-none-any.whl"), allow_torch_change=True)
    assert "--allow-torch-change" in step(plan, "pin").title
    assert plan.pins == ("torch==2.15.0",)  # still recorded, to report changes


def test_step_titles_claim_a_torch_pin_only_where_there_is_one():
    """--allow-torch-change used to print "Do not pin torch" and then "Resolve ..., with torch pinned"."""
    unsloth = wheel("2026.10.9", "unsloth-2026.10.9-py3-none-any.whl")
    for allowed in (plan_for("unsloth", "dgx-spark", unsloth, allow_torch_change=True),
                    plan_for("unsloth", "dgx-spark", unsloth, torch=False)):
        assert not any("pinned" in s.title for s in allowed.steps), [s.title for s in allowed.steps]
    nothing = plan_for("unsloth", "dgx-spark", unsloth, torch=False)
    assert step(nothing, "pin").title == "Nothing to pin: none of torch, triton and the CUDA libraries is installed yet"
    pinned = plan_for("unsloth", "dgx-spark", unsloth)
    assert step(pinned, "resolve").title == "Resolve what would change, with torch pinned"
    assert step(pinned, "resolve-deps").title == "Resolve unsloth's other requirements against the pinned torch"


# -- the wheelhouse --


def deepspeed_key(profile: str, version: str = "0.18.2") -> str:
    machine, state = environment(profile)
    tool = all_tools()["deepspeed"]
    return key_id(build_key(tool, version, machine, state, tool.recipe.build_env(machine)))


def test_a_wheel_built_for_this_key_is_reused_even_offline():
    built = Stored("deepspeed-0.18.2-1kabc-cp312-cp312-linux_aarch64.whl", "0.18.2", deepspeed_key("graviton"),
                   fits=True, smoke_passed=True)
    plan = plan_for("deepspeed", "graviton", Availability(Offer.UNKNOWN, reason="offline"), stored=[built])
    assert plan.route is Route.WHEELHOUSE and plan.stored == built.filename
    assert "--no-index" in step(plan, "resolve").argv


def test_a_wheel_built_against_another_torch_is_not_reused():
    other = Stored("deepspeed-0.18.2-1kabc-cp312-cp312-linux_aarch64.whl", "0.18.2", deepspeed_key("gh200"),
                   fits=True, smoke_passed=True)
    plan = plan_for("deepspeed", "graviton", sdist("0.18.2"), stored=[other])
    assert plan.route is Route.BUILD


@pytest.mark.parametrize("smoke, fits, route", [(True, True, Route.WHEELHOUSE), (None, True, Route.WHEELHOUSE),
                                               (False, True, Route.INDEX), (True, False, Route.INDEX)])
def test_a_downloaded_wheel_is_reused_only_if_it_fits_and_did_not_fail(smoke, fits, route):
    stored = Stored("peft-0.21.2-py3-none-any.whl", "0.21.2", None, fits=fits, smoke_passed=smoke)
    plan = plan_for("peft", "graviton", wheel("0.21.2", "peft-0.21.2-py3-none-any.whl"), stored=[stored])
    assert plan.route is route


def test_a_newer_release_on_the_index_wins_over_an_older_stored_wheel():
    stored = Stored("peft-0.20.0-py3-none-any.whl", "0.20.0", None, fits=True, smoke_passed=True)
    plan = plan_for("peft", "graviton", wheel("0.21.2", "peft-0.21.2-py3-none-any.whl"), stored=[stored])
    assert plan.route is Route.INDEX


def test_the_plan_serialises_every_step():
    plan = plan_for("flash-attn", "dgx-spark", sdist("2.8.3")).to_json()
    assert plan["schema"] == "aidoctor.plan/2" and plan["route"] == "build"  # argv items may be markers
    build = next(s for s in plan["steps"] if s["action"] == "build")
    assert all(e["why"] for e in build["env"])


def test_arguments_only_the_run_knows_are_typed_markers_in_the_plan_and_its_json():
    plan = plan_for("flash-attn", "dgx-spark", sdist("2.8.3"))
    assert step(plan, "resolve").argv[-1] == BuiltWheel(Path("/wh"))
    assert step(plan, "install").argv[-1] == ResolvedWheels(Path("/wh"))
    literal = [a for s in plan.steps for a in s.argv if isinstance(a, str)]
    assert not any(a.startswith("<") for a in literal)  # no placeholder strings left
    data = plan.to_json()
    install = next(s for s in data["steps"] if s["action"] == "install")
    assert install["argv"][-1] == {"computed": "resolved-wheels", "wheelhouse": "/wh",
                                   "describe": "the resolved wheels in /wh"}
    assert all(isinstance(a, str) for a in install["argv"][:-1])


def test_an_offline_plan_does_not_fetch_what_the_environment_already_has():
    plan = plan_for("peft", "graviton", wheel("0.21.2", "peft-0.21.2-py3-none-any.whl"), offline=True)
    assert Action.FETCH_KEPT not in [s.action for s in plan.steps]
    online = plan_for("peft", "graviton", wheel("0.21.2", "peft-0.21.2-py3-none-any.whl"))
    kept = step(online, "fetch-kept")
    assert kept.argv[-2:] == ("--requirement", str(PATHS.kept)) and "--require-hashes" not in kept.argv


def test_markers_are_replaced_by_type_and_a_missing_value_is_an_error():
    from aidoctor.doctor.install.argv import expand

    argv = ("python", "-m", "pip", "install", RequirementsOf("unsloth", ("torch",)), "--find-links", "/wh",
            ResolvedWheels(Path("/wh")))
    assert expand(argv, {ResolvedWheels: ["/wh/a.whl", "/wh/b.whl"], RequirementsOf: ["x>=1"]}) == [
        "python", "-m", "pip", "install", "x>=1", "--find-links", "/wh", "/wh/a.whl", "/wh/b.whl"]
    with pytest.raises(ValueError, match="no value for the built wheel in /wh"):
        expand(("pip", BuiltWheel(Path("/wh"))), {ResolvedWheels: ["/wh/a.whl"]})


def test_the_dry_run_shows_a_computed_argument_as_such():
    from rich.console import Console

    from aidoctor.doctor.render.install import command_line, render_plan

    plan = plan_for("flash-attn", "dgx-spark", sdist("2.8.3"))
    line = command_line(step(plan, "install"))
    assert line.plain.endswith("--constraint /cache/runs/x/constraints.txt <the resolved wheels in /wh>")
    assert any(span.style == "italic cyan" for span in line.spans)  # not printed as a literal argument
    console = Console(width=400, record=True)
    render_plan(plan, console)
    text = console.export_text()
    assert "$ /env/bin/python -m pip install --dry-run" in text and "<the built wheel in /wh>" in text
    assert "computed when the step runs" in text


def test_a_force_build_that_cannot_be_decided_is_said_not_taken_as_no():
    wheel_0502 = wheel("0.50.2", "bitsandbytes-0.50.2-py3-none-manylinux_2_24_aarch64.whl")
    tool = all_tools()["bitsandbytes"]
    machine, state = environment("gh200")
    unsure = replace(machine, jetson=None, unknown={**machine.unknown, "jetson": "/etc/nv_tegra_release unreadable"})
    verdict = evaluate(tool, replace(unsure, packages={}), wheel_0502, watched_dists())
    plan = make_plan(InstallRequest("bitsandbytes", python="/env/bin/python"), tool, unsure, verdict, wheel_0502, [],
                     state, PATHS)
    assert plan.route is Route.INDEX
    (note,) = plan.notes
    assert note.startswith("cannot tell whether this applies (jetson unknown: jetson: /etc/nv_tegra_release unreadable)"
                           ": the index wheel of bitsandbytes does not work on this machine")
    assert "planned with the index's package" in note
    # Decided either way, there is nothing to say.
    assert plan_for("bitsandbytes", "gh200", wheel_0502).notes == ()
    assert plan_for("bitsandbytes", "jetson-agx-orin", wheel_0502).route is Route.BUILD


def test_every_step_action_has_exactly_one_handler():
    from aidoctor.doctor.install.run import HANDLERS

    assert set(HANDLERS) == set(Action)
    assert len(set(HANDLERS.values())) == len(Action)  # the two store actions are two handlers
    assert HANDLERS[Action.STORE_BUILT] is not HANDLERS[Action.STORE_FETCHED]
