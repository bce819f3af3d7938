"""`--deep`: import torch in the target Python and launch one tiny kernel on the device.

An import, or `torch.cuda.is_available()`, that succeeds can still fail at the
first kernel (bitsandbytes#1930, conda-forge/pytorch-cpu-feedstock#303): only a
launch proves the device works with this build. It runs in a subprocess of
the target interpreter under a timeout, so a hung driver costs the timeout,
never the check.
"""

from __future__ import annotations

from typing import Any

from ..core.jsonio import last_json_object
from ..core.system import System

# Runs inside the target interpreter: stdlib and torch only, prints one JSON object.
SCRIPT = r"""
import json, sys, time, traceback
out = {"torch_import": False}
t0 = time.perf_counter()
try:
    import torch
except Exception as exc:
    out["error"] = "import torch failed: %s: %s" % (type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
    print(json.dumps(out)); sys.exit(0)
out["torch_import"] = True
out["import_s"] = round(time.perf_counter() - t0, 3)
out["torch"] = torch.__version__
out["cuda_build"] = torch.version.cuda
out["cuda_available"] = bool(torch.cuda.is_available())
mps = getattr(torch.backends, "mps", None)
out["mps_available"] = bool(mps and mps.is_available())
if out["cuda_available"]:
    out["arch_list"] = list(torch.cuda.get_arch_list())
    out["devices"] = []
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        out["devices"].append({"name": p.name, "capability": "%d.%d" % (p.major, p.minor),
                               "memory_gb": round(p.total_memory / 2**30, 1),
                               "integrated": bool(getattr(p, "is_integrated", False))})
device = "cuda" if out["cuda_available"] else ("mps" if out["mps_available"] else "cpu")
kernel = {"device": device, "ok": False}
try:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(64, 64, generator=g)
    b = torch.randn(64, 64, generator=g)
    expected = a @ b
    t1 = time.perf_counter()
    got = (a.to(device) @ b.to(device))
    if device == "cuda":
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()
    got = got.cpu()
    kernel["seconds"] = round(time.perf_counter() - t1, 4)
    kernel["max_abs_error"] = float((got - expected).abs().max())
    kernel["ok"] = bool(kernel["max_abs_error"] < 1e-2)
    if not kernel["ok"]:
        kernel["error"] = "matmul on %s differs from the CPU result by %g" % (device, kernel["max_abs_error"])
except Exception as exc:
    kernel["error"] = "%s: %s" % (type(exc).__name__, (str(exc).strip().splitlines() or [""])[0][:300])
out["kernel"] = kernel
print(json.dumps(out))
"""


def parse_deep_output(text: str) -> dict[str, Any]:
    """The script's last JSON line -> the `deep` fact (pure)."""
    data = last_json_object(text)
    return data if data is not None else {"torch_import": False, "error": "the deep probe printed no result"}


def run(system: System, python: str, timeout: float) -> dict[str, Any]:
    result = system.run([python, "-c", SCRIPT], timeout=timeout)
    if result.timed_out or result.error:
        return {"torch_import": False, "error": result.failure()}
    data = parse_deep_output(result.stdout)
    if result.returncode != 0 and "error" not in data:
        data["error"] = result.failure()
    return data


def kernel_failure(deep: dict[str, Any] | None) -> str | None:
    """Why the deep probe's kernel launch failed, or None if it passed or did not run."""
    if not deep:
        return None
    if deep.get("torch_import") is False:
        return deep.get("error")
    kernel = deep.get("kernel") or {}
    return None if kernel.get("ok") else kernel.get("error", "the kernel launch failed")
