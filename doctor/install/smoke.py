"""Smoke tests that prove a tool trains, run in the target Python after `aidoctor install TOOL`.

An import that succeeds proves nothing (bitsandbytes#1930 imports on a Jetson and
fails at its first kernel; NVIDIA/dgx-spark-playbooks#85 "passed" with a loss
that never moved). Each tool has a script in recipes/smoke/ that runs a real
kernel against a reference and a few optimizer steps whose loss must fall, with
finite gradients. `build_script` prepends recipes/smoke/_harness.py to it; the
target interpreter (which has the tool and torch, not aidoctor) runs the result
as a file in an empty temporary folder, through `System.run` with a timeout,
and prints `AIDOCTOR-SMOKE {json}` lines that `parse_smoke_output` reads (the
protocol is in _harness.py's docstring). A script that crashes before its final
line is a failure whose cause is the last line of its traceback.

`core.smoke_store.SmokeStore` keeps the latest result per tool for each environment,
so `check` can say what was proven there and when.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from ...recipes import all_tools
from ..core.errors import UnknownTool
from ..core.system import System
from ..dsl.recipe import KnownFailure

PREFIX = "AIDOCTOR-SMOKE "
HARNESS = "_harness"
STORE_FORMAT = 1
TAIL_CHARS = 4000  # of what a script printed besides its protocol lines, kept for the cause and for a person


@dataclass(frozen=True)
class SmokeCheck:
    """One named check inside a smoke script: a kernel against its reference, or training steps."""

    name: str
    ok: bool
    seconds: float
    detail: str | None = None
    kernel: str | None = None
    error: str | None = None  # "Type: message" when it failed

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "seconds": self.seconds, "detail": self.detail,
                "kernel": self.kernel, "error": self.error}


@dataclass(frozen=True)
class SmokeResult:
    """What one smoke run proved. `failed` names the first check that failed (None when it passed, or when the
    script broke outside any check); `cause` is the one line a person acts on."""

    tool: str
    passed: bool
    device: str | None
    checks: tuple[SmokeCheck, ...] = ()
    failed: str | None = None
    kernel: str | None = None
    error: str | None = None
    cause: str | None = None
    seconds: float | None = None
    versions: Mapping[str, str | None] = field(default_factory=dict)
    tail: str = ""  # the end of the script's other output and the failing check's traceback

    def failure(self) -> str:
        """Where and how it failed, in one line: "failed at <check> (kernel <k>): <error>"."""
        where = f" at {self.failed}" if self.failed else ""
        kernel = f" (kernel {self.kernel})" if self.kernel else ""
        return f"failed{where}{kernel}: {self.error}"

    def to_json(self) -> dict[str, Any]:
        return {"tool": self.tool, "passed": self.passed, "device": self.device,
                "checks": [c.to_json() for c in self.checks], "failed": self.failed, "kernel": self.kernel,
                "error": self.error, "cause": self.cause, "seconds": self.seconds, "versions": dict(self.versions),
                "tail": self.tail}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SmokeResult:
        checks = tuple(SmokeCheck(name=c["name"], ok=bool(c["ok"]), seconds=float(c.get("seconds") or 0.0),
                                  detail=c.get("detail"), kernel=c.get("kernel"), error=c.get("error"))
                       for c in data.get("checks", ()))
        return cls(tool=data["tool"], passed=bool(data["passed"]), device=data.get("device"), checks=checks,
                   failed=data.get("failed"), kernel=data.get("kernel"), error=data.get("error"),
                   cause=data.get("cause"), seconds=data.get("seconds"), versions=dict(data.get("versions") or {}),
                   tail=data.get("tail") or "")


# ------------------------------------------------------------------ the scripts


def _smoke_dir():
    return resources.files(__package__.split(".")[0] + ".recipes").joinpath("smoke")


def script_names() -> tuple[str, ...]:
    """The tools that have a smoke script, as script names (`flash_attn`, `mlx_lm`)."""
    return tuple(sorted(entry.name[:-3] for entry in _smoke_dir().iterdir()
                        if entry.name.endswith(".py") and not entry.name.startswith("_")))


def script_for(tool: str) -> str:
    """A tool id or script name -> its script name: `flash-attn` (or `flash_attn.py`) -> `flash_attn`."""
    name = tool.strip().lower().removesuffix(".py").replace("-", "_")
    known = script_names()
    if name not in known:
        raise UnknownTool(tool, [n.replace("_", "-") for n in known])
    return name


def load_script(name: str) -> str:
    """The text of recipes/smoke/<name>.py (a tool id works too)."""
    return _smoke_dir().joinpath(f"{script_for(name)}.py").read_text(encoding="utf-8")


def build_script(tool_script: str) -> str:
    """The harness followed by one tool's script: the file the target Python runs."""
    harness = _smoke_dir().joinpath(f"{HARNESS}.py").read_text(encoding="utf-8")
    banner = "# " + "-" * 64 + " tool script"
    return f"{harness.rstrip()}\n\n\n{banner}\n\n{tool_script}"


# ------------------------------------------------------------------ parsing (pure)


def parse_smoke_output(text: str, *, tool: str = "", returncode: int | None = None,
                       seconds: float | None = None) -> SmokeResult:
    """A smoke script's output (stdout, then stderr) -> its result (pure).

    Lines without the prefix are kept, in `tail`, for the cause. With no final line the script crashed: the
    failure is the check it had begun, and the error the last line of its traceback (or the signal that
    killed it)."""
    checks: list[SmokeCheck] = []
    begun: dict[str, Any] | None = None
    final: dict[str, Any] | None = None
    device: str | None = None
    trace = ""
    other: list[str] = []
    for line in text.splitlines():
        if not line.startswith(PREFIX):
            other.append(line)
            continue
        try:
            record = json.loads(line[len(PREFIX):])
        except json.JSONDecodeError:
            other.append(line)
            continue
        if not isinstance(record, dict):
            continue
        if "begin" in record:
            begun = record
        elif "check" in record:
            begun = None
            checks.append(SmokeCheck(name=str(record["check"]), ok=bool(record.get("ok")),
                                     seconds=float(record.get("seconds") or 0.0), detail=record.get("detail"),
                                     kernel=record.get("kernel"), error=record.get("error")))
            device = record.get("device", device)
            if not record.get("ok"):
                trace = record.get("trace") or ""
        elif "result" in record:
            final = record
    tail = _tail("\n".join(other).strip() + ("\n" + trace.strip() if trace else ""))
    if final is not None:
        passed = (final.get("result") == "pass" and all(c.ok for c in checks)
                  and any(c.name != "device" for c in checks))
        error = final.get("error")
        if final.get("result") == "pass" and not passed:
            error = "the script reported a pass, but its checks show none (a failed check, or none beyond the device)"
        if passed and returncode not in (None, 0):
            passed, error = False, f"the script reported a pass, then exited with {returncode}"
        result = SmokeResult(tool=str(final.get("tool") or tool), passed=passed, device=final.get("device") or device,
                             checks=tuple(checks), failed=final.get("failed"), kernel=final.get("kernel"),
                             error=error, seconds=seconds if seconds is not None else final.get("seconds"),
                             versions=dict(final.get("versions") or {}), tail=tail)
    else:
        begun = begun or {}
        result = SmokeResult(tool=tool, passed=False, device=device, checks=tuple(checks), failed=begun.get("begin"),
                             kernel=begun.get("kernel"), error=_crash_line(other, returncode), seconds=seconds,
                             tail=tail)
    if result.passed:
        return replace(result, tail="")
    return replace(result, cause=likely_cause(result) or result.error)


def _tail(text: str) -> str:
    return text[-TAIL_CHARS:]


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning|Failure)\b.*|^[A-Za-z_][\w.]*: ")


def _crash_line(lines: list[str], returncode: int | None) -> str:
    """The signal that killed the script, else the last line of its last traceback, else its last line."""
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last):")]
    if starts:
        for line in lines[starts[-1] + 1:]:
            if line and not line[0].isspace() and _EXCEPTION_LINE.match(line):
                return line.strip()[:500]  # the first unindented line after the frames: the exception
    for line in reversed(lines):
        if line.strip():
            return line.strip()[:500]
    if returncode not in (None, 0):
        return f"the smoke script exited with {returncode} and printed nothing"
    return "the smoke script printed no result"


# Failures any tool's smoke run can meet, and what they mean. Each tool's own signatures are in its recipe
# (`Recipe.known_failures`): the tool's are tried first, then these, then every other tool's, since a failure
# inside a dependency (triton's ptxas under unsloth) reads the same whichever tool's smoke run meets it.
GENERIC_FAILURES: tuple[KnownFailure, ...] = (
    KnownFailure(
        r"no kernel image is available",
        "this wheel has no kernel for this GPU's architecture (it was not built for its compute capability): install "
        "a build that includes it, or build from source with TORCH_CUDA_ARCH_LIST set to it"),
    KnownFailure(
        r"undefined symbol:?.{0,300}(c10|_ZN2at|_ZNK2at|torch)",
        "the extension was built against another torch (a different minor version or C++ ABI): reinstall it built for "
        "the torch installed here", "https://github.com/Dao-AILab/flash-attention/issues/1644"),
    KnownFailure(
        r"CUDA driver version is insufficient|driver version is insufficient for CUDA runtime",
        "the NVIDIA driver is older than this torch's CUDA needs: update the driver, or install a torch built for an "
        "older CUDA"),
    KnownFailure(
        r"CUDA out of memory|OutOfMemoryError|out of memory on device",
        "the GPU ran out of memory during a tiny model's steps: other processes hold its memory (nvidia-smi shows "
        "them), or on a shared-memory GPU (GB10, Jetson) the system itself is out of memory"),
    KnownFailure(
        r"killed by SIGKILL|^Killed$",
        "killed by the system (SIGKILL), most likely the out-of-memory killer: free memory, or lower MAX_JOBS if a "
        "JIT build was running"),
    KnownFailure(
        r"killed by SIGSEGV|Segmentation fault",
        "a native crash (SIGSEGV) inside the tool's compiled code: usually a binary built for another torch, CUDA or "
        "CPU; reinstall a build made for this environment"),
    KnownFailure(
        r"no CUDA device",
        "no CUDA device: this tool's kernels need an NVIDIA GPU, and torch here sees none (a CPU-only torch, no "
        "driver, or CUDA_VISIBLE_DEVICES hides it)"),
    KnownFailure(
        r"Error building extension|ninja: build stopped|error: command '[^']*(gcc|g\+\+|c\+\+|nvcc)' failed",
        "a JIT build of a compiled op failed: its compiler output is in the tail; check the compiler, the CUDA "
        "toolkit and that their versions match torch's"),
    KnownFailure(
        r"cannot open shared object file",
        "a shared library the tool needs is missing (CUDA runtime, cuDNN or NCCL): install the matching NVIDIA "
        "packages, or a build that bundles them"),
    KnownFailure(
        r"loss fell",
        "it runs but does not learn: the loss did not fall over the training steps (a kernel computes wrong values, "
        "or the optimizer does not update)"),
    KnownFailure(
        r"inf or nan|loss is (nan|inf)",
        "the training step produced inf or nan (a kernel or a mixed-precision path computes wrong values)"),
    KnownFailure(
        r"differs from the reference",
        "a kernel computes wrong values: its result differs from the reference beyond tolerance"),
    KnownFailure(
        r"did not finish within",
        "the smoke test did not finish in time: a hung kernel or driver, or a long JIT build (DeepSpeed ops, triton)"),
)


def signatures_for(tool_id: str) -> tuple[KnownFailure, ...]:
    """The tool's own known failures, then the generic ones, then every other tool's."""
    recipes = {tid: tool.recipe for tid, tool in all_tools().items() if tool.recipe is not None}
    own = recipes[tool_id].known_failures if tool_id in recipes else ()
    others = tuple(f for tid, recipe in recipes.items() if tid != tool_id for f in recipe.known_failures)
    return (*own, *GENERIC_FAILURES, *others)


def likely_cause(result: SmokeResult) -> str:
    """The known cause of a failed smoke run, one line with the fix and its source; "" when none is known."""
    if result.passed:
        return ""
    text = "\n".join(part for part in (result.error, result.tail) if part)
    for failure in signatures_for(result.tool):
        if failure.matches(text):
            return failure.describe()
    missing = re.search(r"No module named '([\w.]+)'", text)
    if missing:
        return f"the target Python cannot import {missing.group(1)}: it is not installed there (or not for this Python)"
    return ""

# ------------------------------------------------------------------ running


def run_smoke(system: System, python: str, script_name: str, *, env: Mapping[str, str] | None = None,
              timeout: float = 600.0) -> SmokeResult:
    """Run one tool's smoke script in `python` (the target interpreter) and read its result.

    The script is a file in a fresh temporary folder, named so that it shadows no module (a `torch.py` would),
    and it changes into that folder first, so nothing runs from or writes into a source tree. `env` adds to
    the current environment (AIDOCTOR_SMOKE_DEVICE, AIDOCTOR_SMOKE_LR_SCALE, TRITON_PTXAS_PATH...)."""
    name = script_for(script_name)
    tool = name.replace("_", "-")
    source = build_script(load_script(name))
    merged = {**system.environ(), **(env or {})}
    folder = tempfile.mkdtemp(prefix="aidoctor-smoke-")
    try:
        path = Path(folder) / f"aidoctor_smoke_{name}.py"
        path.write_text(source, encoding="utf-8")
        started = time.monotonic()
        command = system.run([python, str(path)], timeout=timeout, env=merged)
        seconds = round(time.monotonic() - started, 3)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if command.error and not command.timed_out:
        error = command.failure()
        return SmokeResult(tool=tool, passed=False, device=None, error=error, seconds=seconds,
                           cause=f"the target Python {python} could not be run: {error}")
    result = parse_smoke_output(f"{command.stdout}\n{command.stderr}", tool=tool, returncode=command.returncode,
                                seconds=seconds)
    if command.timed_out:
        error = f"did not finish within {timeout:g} s" + (f" (in check {result.failed!r})" if result.failed else "")
        result = replace(result, passed=False, error=error)
        result = replace(result, cause=likely_cause(result))
    return result
