"""NVIDIA GPUs, driver and CUDA toolkit, from nvidia-smi and nvcc.

`nvidia-smi --query-gpu` gives names and compute capabilities in a stable CSV;
the plain `nvidia-smi` table header gives the CUDA version the driver supports
(no query field does). Every driver in the recordings prints that header, from
418 to 610, so it is read instead of `nvidia-smi --version` (recorded only for
590 and 610); `parse_smi_version` reads both. Driver 610 renamed the fields
"KMD Version" and "CUDA UMD Version".
GB10 and Jetson have no GPU memory of their own: NVML reports it as [N/A].
"""

from __future__ import annotations

import csv
import os
import re
from concurrent.futures import ThreadPoolExecutor

from ..core.facts import FactState, Gpu, parse_cc
from ..core.system import CommandResult, System
from .base import Partial, state_of

QUERY_FIELDS = ("name", "compute_cap", "memory.total", "driver_version")
TABLE_ARGV = ("nvidia-smi",)
NVCC_NOT_FOUND = "nvcc not found (no CUDA toolkit on PATH, CUDA_HOME or /usr/local/cuda)"

# How NVML fields it cannot read appear in CSV and in the table.
_NOT_AVAILABLE = {"[n/a]", "n/a", "[not supported]", "not supported", "[unknown error]", ""}
_SHARED_MEMORY_MARKS = {"[n/a]", "n/a", "[not supported]", "not supported"}


def query_argv(fields: tuple[str, ...] = QUERY_FIELDS) -> tuple[str, ...]:
    return ("nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits")


def parse_query_gpu(text: str, fields: tuple[str, ...] = QUERY_FIELDS) -> list[dict[str, str]]:
    """CSV rows keyed by field; a header row and lines that are not rows (error messages) are skipped."""
    rows = []
    for cells in csv.reader(text.splitlines(), skipinitialspace=True):
        cells = [c.strip() for c in cells]
        if len(cells) != len(fields) or cells[0].split(" [")[0] == fields[0]:
            continue
        rows.append(dict(zip(fields, cells)))
    return rows


def gpu_from_row(row: dict[str, str]) -> Gpu:
    """One --query-gpu row as a Gpu: MiB -> GiB; [N/A] memory means the GPU shares system memory."""
    memory = (row.get("memory.total") or "").removesuffix(" MiB")
    shared = None
    memory_gb = None
    if "memory.total" in row:
        shared = memory.lower() in _SHARED_MEMORY_MARKS
        memory_gb = round(int(memory) / 1024, 1) if memory.isdigit() else None
    cc = row.get("compute_cap")
    return Gpu(vendor="nvidia", name=row.get("name") or None,
               compute_capability=cc if parse_cc(cc) else None, memory_gb=memory_gb, memory_shared=shared)


def parse_smi_version(text: str) -> tuple[str | None, str | None]:
    """(driver, CUDA version) from the table header, `--version` or `-q`; either may be None.

    Accepts "Driver Version: 580.95.05  CUDA Version: 13.0" and driver 610's
    "KMD Version: 610.57.04  CUDA UMD Version: 13.3"; "N/A" and "Deprecated"
    values are skipped.
    """
    driver = re.search(r"(?:Driver|KMD) Version\s*:\s*(\d+\.\d+(?:\.\d+)?)", text, re.IGNORECASE)
    cuda = re.search(r"CUDA (?:UMD )?Version\s*:\s*(\d+\.\d+)", text, re.IGNORECASE)
    return (driver.group(1) if driver else None), (cuda.group(1) if cuda else None)


def parse_nvcc_version(text: str) -> str | None:
    """'Cuda compilation tools, release 13.0, V13.0.88' -> '13.0'."""
    match = re.search(r"release (\d+\.\d+)", text)
    return match.group(1) if match else None


def probe_smi(system: System, timeout: float) -> Partial:
    if system.which("nvidia-smi") is None:
        return Partial(facts={"gpus": ()}).lack(("nvidia_driver", "cuda_driver"), "nvidia-smi not found",
                                                FactState.ABSENT)
    # Both calls at once: each starts NVML, which can be slow on servers without persistence mode.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(system.run, TABLE_ARGV, timeout)
        fields = QUERY_FIELDS
        query = system.run(query_argv(fields), timeout)
        if "not a valid field" in query.stdout + query.stderr:
            # Drivers that predate the field (470.x in huggingface/candle#733) reject the whole query.
            fields = tuple(f for f in QUERY_FIELDS if f != "compute_cap")
            query = system.run(query_argv(fields), timeout)
        table = pending.result()

    part = Partial()
    rows = parse_query_gpu(query.stdout, fields) if query.ok else []
    if rows:
        part.facts["gpus"] = tuple(gpu_from_row(row) for row in rows)
    else:
        part.lack(("gpus",), _why(query, "GPU rows"), state_of(query))
    table_driver, cuda = parse_smi_version(table.stdout) if table.ok else (None, None)
    driver = next((r["driver_version"] for r in rows if re.match(r"\d+\.\d+", r["driver_version"])), None)
    if driver or table_driver:
        part.facts["nvidia_driver"] = driver or table_driver
    else:
        if "gpus" in part.unknown:
            part.lack(("nvidia_driver",), part.unknown["gpus"], part.state("gpus"))
        else:
            part.lack(("nvidia_driver",), _why(table, "driver version"), state_of(table))
    if cuda:
        part.facts["cuda_driver"] = cuda
    elif table.ok and re.search(r"CUDA (?:UMD )?Version\s*:\s*N/A", table.stdout, re.IGNORECASE):
        part.lack(("cuda_driver",), "nvidia-smi reports CUDA Version: N/A")
    else:
        part.lack(("cuda_driver",), _why(table, "CUDA version"), state_of(table))
    return part


def _why(result: CommandResult, missing: str) -> str:
    """One line: the failure, or what the command printed instead of the `missing` thing."""
    if not result.ok:
        return result.failure()
    lines = (result.stdout or result.stderr).strip().splitlines()
    said = f": {lines[0][:200]}" if lines else ""
    return f"{result.argv[0]} printed no {missing}{said}"


DEFAULT_HOME = "/usr/local/cuda"


def probe_nvcc(system: System, timeout: float) -> Partial:
    env = system.environ()
    env_home = env.get("CUDA_HOME") or env.get("CUDA_PATH")
    on_path = system.which("nvcc")
    candidates = [on_path] if on_path else [
        os.path.join(home, "bin", "nvcc") for home in (env.get("CUDA_HOME"), env.get("CUDA_PATH"), DEFAULT_HOME)
        if home
    ]
    for nvcc in dict.fromkeys(candidates):
        result = system.run((nvcc, "--version"), timeout)
        if result.not_found:
            continue
        part = Partial()
        # A wrapper in a shared bin folder says nothing of the toolkit; /usr/local/cuda is where
        # torch's extension builder looks next, so take it when it holds a toolkit.
        default = DEFAULT_HOME if system.read_text(f"{DEFAULT_HOME}/bin/nvcc.profile") else None
        home = env_home or _home_of(nvcc) or default
        if home:
            part.facts["cuda_home"] = home
        else:
            part.unknown["cuda_home"] = f"cannot tell the CUDA toolkit folder from {nvcc}; set CUDA_HOME"
        toolkit = parse_nvcc_version(result.stdout) if result.ok else None
        if toolkit:
            part.facts["cuda_toolkit"] = toolkit
        else:
            part.lack(("cuda_toolkit",), result.failure() if not result.ok else f"{nvcc} --version names no release",
                      state_of(result))
        return part
    return Partial().lack(("cuda_toolkit", "cuda_home"), NVCC_NOT_FOUND, FactState.ABSENT)


def _home_of(nvcc: str) -> str | None:
    """/usr/local/cuda-13.0/bin/nvcc -> /usr/local/cuda-13.0; a shared bin folder (/usr/bin) says nothing."""
    bin_dir = os.path.dirname(nvcc)
    home = os.path.dirname(bin_dir)
    if os.path.basename(bin_dir) != "bin" or home in ("", "/", "/usr", "/usr/local"):
        return None
    return home
