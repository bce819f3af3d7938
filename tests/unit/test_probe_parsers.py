"""Every probe parser against outputs recorded on real machines.

The constants are copied from /work/shared/fixtures (each names its public
source): lines the collector marked `...` and shell prompt lines are left
out, nothing else is changed. Facts that no fixture records (a whole
/etc/os-release, /proc/meminfo, an x86 /proc/cpuinfo, a `uname -s -r -m`
line) are checked against this test host's own files and commands instead.
"""

from __future__ import annotations

import os
import platform
import sys

import pytest

from aidoctor.doctor.core.nvidia import jetpack_for_l4t
from aidoctor.doctor.core.facts import Gpu
from aidoctor.doctor.probes import host
from aidoctor.doctor.probes.apple import parse_displays, parse_sw_vers, parse_sysctl
from aidoctor.doctor.probes.host import (
    FLAG_ALIASES,
    KEPT_FLAGS,
    parse_cpuinfo,
    parse_meminfo,
    parse_os_release,
    parse_uname,
)
from aidoctor.doctor.probes.jetson import parse_compatible, parse_nv_tegra_release, soc_from_model
from aidoctor.doctor.probes.nvidia import (
    QUERY_FIELDS,
    gpu_from_row,
    parse_nvcc_version,
    parse_query_gpu,
    parse_smi_version,
)
from aidoctor.doctor.core.system import ReplaySystem

# ---------------------------------------------------------------- recorded outputs

# gb10.md §1: ArmDeveloperEcosystem/arm-learning-paths dgx_spark_llamacpp/1a_gb10_setup.md
GB10_SMI = (
    "Wed Oct 22 09:26:54 2025       \n"
    "+-----------------------------------------------------------------------------------------+\n"
    "| NVIDIA-SMI 580.95.05              Driver Version: 580.95.05      CUDA Version: 13.0     |\n"
    "+-----------------------------------------+------------------------+----------------------+\n"
    "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |\n"
    "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |\n"
    "|                                         |                        |               MIG M. |\n"
    "|=========================================+========================+======================|\n"
    "|   0  NVIDIA GB10                    On  |   0000000F:01:00.0 Off |                  N/A |\n"
    "| N/A   32C    P8              4W /  N/A  | Not Supported          |      0%      Default |\n"
    "|                                         |                        |                  N/A |\n"
    "+-----------------------------------------+------------------------+----------------------+\n"
    "\n"
    "+-----------------------------------------------------------------------------------------+\n"
    "| Processes:                                                                              |\n"
    "|  GPU   GI   CI              PID   Type   Process name                        GPU Memory |\n"
    "|        ID   ID                                                               Usage      |\n"
    "|=========================================================================================|\n"
    "|    0   N/A  N/A            3094      G   /usr/lib/xorg/Xorg                       43MiB |\n"
    "|    0   N/A  N/A            3172      G   /usr/bin/gnome-shell                     16MiB |\n"
    "+-----------------------------------------------------------------------------------------+\n"
)

# gb10.md §2a: snowflakedb/ArcticTraining PR #345
GB10_SMI_580_126 = (
    "| NVIDIA-SMI 580.126.09             Driver Version: 580.126.09     CUDA Version: 13.0     |\n"
    "|   0  NVIDIA GB10                    On  |   0000000F:01:00.0 Off |                  N/A |\n"
    "| N/A   36C    P8              3W /  N/A  | Not Supported          |      0%      Default |\n"
)

# gb10.md §3a: mostlygeek/llama-swap #782, --query-gpu=memory.used,memory.total,utilization.memory
GB10_QUERY_MEMORY = (
    "[N/A], [N/A], 0\n"
)

# gb10.md §3b: --query-gpu=name,compute_cap --format=csv,noheader
GB10_QUERY_CC = (
    "NVIDIA GB10, 12.1\n"
)

# gb10.md §5: hrw/arm-socs-table #133 (processors 0 and 5 of 20)
GB10_CPUINFO = (
    "processor\t: 0\n"
    "BogoMIPS\t: 2000.00\n"
    "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm sb paca pacg dcpodp sve2 sveaes svepmull svebitperm svesha3 svesm4 flagm2 frint svei8mm svebf16 i8mm bf16 dgh bti ecv afp wfxt\n"
    "CPU implementer\t: 0x41\n"
    "CPU architecture: 8\n"
    "CPU variant\t: 0x0\n"
    "CPU part\t: 0xd87\n"
    "CPU revision\t: 1\n"
    "processor\t: 5\n"
    "BogoMIPS\t: 2000.00\n"
    "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm sb paca pacg dcpodp sve2 sveaes svepmull svebitperm svesha3 svesm4 flagm2 frint svei8mm svebf16 i8mm bf16 dgh bti ecv afp wfxt\n"
    "CPU implementer\t: 0x41\n"
    "CPU architecture: 8\n"
    "CPU variant\t: 0x0\n"
    "CPU part\t: 0xd85\n"
    "CPU revision\t: 1\n"
)

# gb10.md §7: Arm learning path
GB10_NVCC = (
    "nvcc: NVIDIA (R) Cuda compiler driver\n"
    "Copyright (c) 2005-2025 NVIDIA Corporation\n"
    "Built on Wed_Aug_20_01:57:39_PM_PDT_2025\n"
    "Cuda compilation tools, release 13.0, V13.0.88\n"
    "Build cuda_13.0.r13.0/compiler.36424714_0\n"
)

# gh200.md §1: NVIDIA/apex #1833
GH200_SMI = (
    "+-----------------------------------------------------------------------------------------+\n"
    "| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |\n"
    "|-----------------------------------------+------------------------+----------------------+\n"
    "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |\n"
    "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |\n"
    "|                                         |                        |               MIG M. |\n"
    "|=========================================+========================+======================|\n"
    "|   0  NVIDIA GH200 120GB             On  |   00000009:01:00.0 Off |                    0 |\n"
    "| N/A   28C    P0             89W /  900W |       0MiB /  97871MiB |      0%      Default |\n"
    "|                                         |                        |             Disabled |\n"
    "+-----------------------------------------+------------------------+----------------------+\n"
)

# gh200.md §3a: linux-serial list, 3 Jul 2025 (the /proc/cpuinfo half; tab-indented as in the mail)
GRACE_CPUINFO_MAIL = (
    "\tprocessor\t: 71\n"
    "\tBogoMIPS\t: 2000.00\n"
    "\tFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm sb paca pacg dcpodp sve2 sveaes svepmull svebitperm svesha3 svesm4 flagm2 frint svei8mm svebf16 i8mm bf16 dgh bti\n"
    "\tCPU implementer\t: 0x41\n"
    "\tCPU architecture: 8\n"
    "\tCPU variant\t: 0x0\n"
    "\tCPU part\t: 0xd4f\n"
    "\tCPU revision\t: 0\n"
)

# gh200.md §3b: hrw/arm-socs-table cpuinfo-data/nvidia-grace
GRACE_CPUINFO_HRW = (
    "processor\t: 0\n"
    "BogoMIPS\t: 2000.00\n"
    "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs sb dcpodp sve2 sveaes svepmull svebitperm svesha3 svesm4 flagm2 frint svei8mm svebf16 i8mm bf16 dgh\n"
    "CPU implementer\t: 0x41\n"
    "CPU architecture: 8\n"
    "CPU variant\t: 0x0\n"
    "CPU part\t: 0xd4f\n"
    "CPU revision\t: 0\n"
)

# jetson-orin.md §1: ultralytics/ultralytics PR #20680
ORIN_JP6_SMI = (
    "Sat May 17 11:47:58 2025       \n"
    "+---------------------------------------------------------------------------------------+\n"
    "| NVIDIA-SMI 540.4.0                Driver Version: 540.4.0      CUDA Version: 12.6     |\n"
    "|-----------------------------------------+----------------------+----------------------+\n"
    "| GPU  Name                 Persistence-M | Bus-Id        Disp.A | Volatile Uncorr. ECC |\n"
    "| Fan  Temp   Perf          Pwr:Usage/Cap |         Memory-Usage | GPU-Util  Compute M. |\n"
    "|                                         |                      |               MIG M. |\n"
    "|=========================================+======================+======================|\n"
    "|   0  Orin (nvgpu)                  N/A  | N/A              N/A |                  N/A |\n"
    "| N/A   N/A  N/A               N/A /  N/A | Not Supported        |     N/A          N/A |\n"
    "|                                         |                      |                  N/A |\n"
    "+-----------------------------------------+----------------------+----------------------+\n"
)

# jetson-orin.md §1: anduril/jetpack-nixos PR #371 (CUDA Version: N/A)
ORIN_NIXOS_SMI = (
    "Thu Oct  9 01:42:44 2025\n"
    "+---------------------------------------------------------------------------------------+\n"
    "| NVIDIA-SMI 540.4.0                Driver Version: 540.4.0      CUDA Version: N/A      |\n"
)

# jetson-orin.md §2a: rbonghi/jetson_stats #677
ORIN_R36_RELEASE = (
    "# R36 (release), REVISION: 4.4, GCID: 41062509, BOARD: generic, EABI: aarch64, DATE: Mon Jun 16 16:07:13 UTC 2025\n"
)

# jetson-orin.md §2b: rbonghi/jetson_stats #400
ORIN_R35_RELEASE = (
    "# R35 (release), REVISION: 3.1, GCID: 32827747, BOARD: t186ref, EABI: aarch64, DATE: Sun Mar 19 15:19:21 UTC 2023\n"
)

# jetson-orin.md §2b: rbonghi/jetson_stats #400 (entries run together, as recorded)
ORIN_NANO_COMPATIBLE = (
    "nvidia,p3768-0000+p3767-0003nvidia,p3768-0000+p3767-0005nvidia,p3767-0003nvidia,p3767-0005nvidia,tegra234nvidia,tegra23x"
)

# jetson-orin.md §2c: rbonghi/jetson_stats #864
ORIN_R39_RELEASE = (
    "# R39 (release), REVISION: 2.0, GCID: 45755727, BOARD: generic, EABI: aarch64, DATE: Mon Jun  1 09:28:48 PM UTC 2026\n"
)

# jetson-orin.md §2c: rbonghi/jetson_stats #864
ORIN_R39_COMPATIBLE = (
    "nvidia,p3737-0000+p3701-0000"
)

# jetson-orin.md §4: NVIDIA/CUDALibrarySamples #359
ORIN_NVCC = (
    "nvcc: NVIDIA (R) Cuda compiler driver\n"
    "Copyright (c) 2005-2024 NVIDIA Corporation\n"
    "Built on Thu_Sep_12_02:25:12_PDT_2024\n"
    "Cuda compilation tools, release 12.6, V12.6.77\n"
    "Build cuda_12.6.r12.6/compiler.34841621_0\n"
)

# jetson-thor.md §1: rbonghi/jetson_stats #711
THOR_RELEASE = (
    "# R38 (release), REVISION: 2.0, GCID: 41844464, BOARD: generic, EABI: aarch64, DATE: Fri Aug 22 00:55:42 UTC 2025\n"
)

# jetson-thor.md §1: rbonghi/jetson_stats #711
THOR_COMPATIBLE = (
    "nvidia,p4071-0000+p3834-0008nvidia,p3834-0008nvidia,tegra264"
)

# jetson-thor.md §2: sgl-project/sglang PR #11287 (driver redacted by the poster)
THOR_SMI = (
    "+-----------------------------------------------------------------------------------------+\n"
    "| NVIDIA-SMI XXX.XX                 Driver Version: XXX.XX         CUDA Version: 13.0     |\n"
    "+-----------------------------------------+------------------------+----------------------+\n"
    "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |\n"
    "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |\n"
    "|                                         |                        |               MIG M. |\n"
    "|=========================================+========================+======================|\n"
    "|   0  NVIDIA Thor                    Off |   00000000:01:00.0 Off |                  N/A |\n"
    "| N/A   N/A  N/A             N/A  /  N/A  | Not Supported          |      0%      Default |\n"
    "|                                         |                        |             Disabled |\n"
    "+-----------------------------------------+------------------------+----------------------+\n"
)

# jetson-thor.md §2: rbonghi/jetson_stats #885 (the lines the reporter quoted)
THOR_JP72_SMI_LINES = (
    "GPU 0: NVIDIA Thor\n"
    "Driver Version: 595.78\n"
    "CUDA Version: 13.2\n"
)

# jetson-thor.md §4: archspec-json tests/targets/linux-ubuntu24.04-neoverse_v3ae
THOR_CPUINFO = (
    "processor       : 0\n"
    "BogoMIPS        : 2000.00\n"
    "Features        : fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs sb paca pacg dcpodp sve2 sveaes svepmull svebitperm svesha3 svesm4 flagm2 frint svei8mm svebf16 i8mm bf16 dgh bti ecv afp wfxt\n"
    "CPU implementer : 0x41\n"
    "CPU architecture: 8\n"
    "CPU variant     : 0x0\n"
    "CPU part        : 0xd83\n"
    "CPU revision    : 0\n"
)

# apple-silicon.md §1: archspec-json tests/targets/darwin-sequoia-m4
M4_MAX_SYSCTL = (
    "hw.ncpu: 16\n"
    "hw.byteorder: 1234\n"
    "hw.memsize: 68719476736\n"
    "hw.activecpu: 16\n"
    "hw.perflevel0.physicalcpu: 12\n"
    "hw.perflevel0.name: Performance\n"
    "hw.perflevel1.physicalcpu: 4\n"
    "hw.perflevel1.name: Efficiency\n"
    "hw.optional.arm.FEAT_BF16: 1\n"
    "hw.optional.arm.FEAT_EBF16: 0\n"
    "hw.optional.arm.FEAT_I8MM: 1\n"
    "hw.optional.arm.FEAT_SME: 1\n"
    "hw.optional.arm.FEAT_SME2: 1\n"
    "hw.optional.arm64: 1\n"
    "hw.cputype: 16777228\n"
    "hw.cpusubtype: 2\n"
    "hw.cpu64bit_capable: 1\n"
    "hw.cpufamily: 399882554\n"
    "hw.pagesize: 16384\n"
    "hw.memsize_usable: 67793829888\n"
    "hw.targettype: J614c\n"
    "machdep.cpu.cores_per_package: 16\n"
    "machdep.cpu.brand_string: Apple M4 Max\n"
)

# apple-silicon.md §2: archspec-json tests/targets/rossetta2-monterey-core2
M1_ROSETTA_SYSCTL = (
    "hw.ncpu: 8\n"
    "hw.byteorder: 1234\n"
    "hw.memsize: 17179869184\n"
    "hw.optional.floatingpoint: 1\n"
    "hw.optional.mmx: 1\n"
    "hw.optional.x86_64: 1\n"
    "hw.optional.aes: 1\n"
    "hw.optional.avx1_0: 0\n"
    "hw.optional.avx2_0: 0\n"
    "hw.optional.arm64: 1\n"
    "hw.cputype: 7\n"
    "hw.cpusubtype: 4\n"
    "hw.cpu64bit_capable: 1\n"
    "hw.cpufamily: 1463508716\n"
    "hw.pagesize: 4096\n"
    "hw.cpufrequency: 2400000000\n"
    "hw.targettype: J274\n"
    "machdep.cpu.brand_string: Apple M1\n"
    "machdep.cpu.features: FPU VME DE PSE TSC MSR PAE MCE CX8 APIC SEP MTRR PGE MCA CMOV PAT PSE36 CLFSH DS ACPI MMX FXSR SSE SSE2 SS HTT TM PBE SSE3 PCLMULQDQ DTSE64 MON DSCPL VMX EST TM2 SSSE3 CX16 TPR PDCM SSE4.1 SSE4.2 AES SEGLIM64\n"
    "machdep.cpu.feature_bits: 151121000215084031\n"
    "machdep.cpu.family: 6\n"
)

# apple-silicon.md §5: narugit/smctemp #26
M3_DISPLAYS = (
    "\n"
    "Graphics/Displays:\n"
    "\n"
    "    Apple M3:\n"
    "\n"
    "      Chipset Model: Apple M3\n"
    "      Type: GPU\n"
    "      Bus: Built-In\n"
    "      Total Number of Cores: 10\n"
    "      Vendor: Apple (0x106b)\n"
    "      Metal Support: Metal 3\n"
    "      Displays:\n"
    "        Color LCD:\n"
    "          Display Type: Built-in Liquid Retina XDR Display\n"
)

# apple-silicon.md §6: mayooot/gpu-docker-api
SW_VERS = (
    "ProductName:\t\tmacOS\n"
    "ProductVersion:\t\t14.0\n"
    "BuildVersion:\t\t23A344\n"
)

# graviton.md §1: archspec-json tests/targets/linux-amazon-graviton2
GRAVITON2_CPUINFO = (
    "processor       : 0\n"
    "BogoMIPS        : 243.75\n"
    "Features        : fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs\n"
    "CPU implementer\t: 0x41\n"
    "CPU architecture: 8\n"
    "CPU variant     : 0x3\n"
    "CPU part        : 0xd0c\n"
    "CPU revision    : 1\n"
)

# graviton.md §3: archspec-json PR #51
GRAVITON3_CPUINFO = (
    "processor\t: 0\n"
    "BogoMIPS\t: 2100.00\n"
    "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs\n"
    "CPU implementer\t: 0x41\n"
    "CPU architecture: 8\n"
    "CPU variant\t: 0x1\n"
    "CPU part\t: 0xd40\n"
    "CPU revision\t: 1\n"
)

# graviton.md §4: hrw/arm-socs-table cpuinfo-data/graviton4
GRAVITON4_CPUINFO = (
    "processor       : 0\n"
    "BogoMIPS        : 2000.00\n"
    "Features        : fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs sb paca pacg dcpodp sve2 sveaes svepmull svebitperm svesha3 flagm2 frint svei8mm svebf16 i8mm bf16 dgh rng bti\n"
    "CPU implementer : 0x41\n"
    "CPU architecture: 8\n"
    "CPU variant     : 0x0\n"
    "CPU part        : 0xd4f\n"
    "CPU revision    : 1\n"
)

# graviton.md §5: archspec-json #41
AMPERE_CPUINFO = (
    "[XXXX@XXXX ~]$ cat /proc/cpuinfo\n"
    "processor\t: 0\n"
    "BogoMIPS\t: 50.00\n"
    "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs\n"
    "CPU implementer\t: 0x41\n"
    "CPU architecture: 8\n"
    "CPU variant\t: 0x3\n"
    "CPU part\t: 0xd0c\n"
    "CPU revision\t: 1\n"
)

# x86-nvidia.md §1: utkuozdemir/nvidia_gpu_exporter capture, driver 590.48.01
H100_SMI = (
    "Tue Jul 14 08:12:38 2026       \n"
    "+-----------------------------------------------------------------------------------------+\n"
    "| NVIDIA-SMI 590.48.01              Driver Version: 590.48.01      CUDA Version: 13.1     |\n"
    "+-----------------------------------------+------------------------+----------------------+\n"
    "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |\n"
    "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |\n"
    "|                                         |                        |               MIG M. |\n"
    "|=========================================+========================+======================|\n"
    "|   0  NVIDIA H100 80GB HBM3          On  |   00000000:00:09.0 Off |                    0 |\n"
    "| N/A   41C    P0             69W /  700W |       0MiB /  81559MiB |      0%      Default |\n"
    "|                                         |                        |             Disabled |\n"
    "+-----------------------------------------+------------------------+----------------------+\n"
    "\n"
    "+-----------------------------------------------------------------------------------------+\n"
    "| Processes:                                                                              |\n"
    "|  GPU   GI   CI              PID   Type   Process name                        GPU Memory |\n"
    "|        ID   ID                                                               Usage      |\n"
    "|=========================================================================================|\n"
    "|  No running processes found                                                             |\n"
    "+-----------------------------------------------------------------------------------------+\n"
)

# x86-nvidia.md §1: same capture, nvidia-smi --version
H100_SMI_VERSION = (
    "NVIDIA-SMI version  : 590.48.01\n"
    "NVML version        : 590.48\n"
    "DRIVER version      : 590.48.01\n"
    "CUDA Version        : 13.1\n"
)

# x86-nvidia.md §1: same capture, nvidia-smi -q
H100_SMI_Q = (
    "\n"
    "==============NVSMI LOG==============\n"
    "\n"
    "Timestamp                                              : Tue Jul 14 08:12:38 2026\n"
    "Driver Version                                         : 590.48.01\n"
    "CUDA Version                                           : 13.1\n"
    "\n"
    "Attached GPUs                                          : 1\n"
    "GPU 00000000:00:09.0\n"
    "    Product Name                                       : NVIDIA H100 80GB HBM3\n"
    "    Product Brand                                      : NVIDIA\n"
    "    Product Architecture                               : Hopper\n"
    "    FB Memory Usage\n"
    "        Total                                          : 81559 MiB\n"
    "        Reserved                                       : 479 MiB\n"
    "        Used                                           : 0 MiB\n"
    "        Free                                           : 81081 MiB\n"
)

# x86-nvidia.md §2: nvidia_gpu_exporter capture, RTX 2080 SUPER, driver 610.57.04, --version
DRIVER_610_SMI_VERSION = (
    "NVIDIA-SMI version  : 610.57.04\n"
    "NVML version        : 610.57\n"
    "DRIVER version      : Deprecated, see \"KMD version\" instead\n"
    "CUDA version        : Deprecated, see \"CUDA UMD version\" instead\n"
    "KMD version         : 610.57.04\n"
    "CUDA UMD version    : 13.3\n"
)

# x86-nvidia.md §2: same capture, table
DRIVER_610_SMI = (
    "Wed Aug 12 21:53:45 2026       \n"
    "+-----------------------------------------------------------------------------------------+\n"
    "| NVIDIA-SMI 610.57.04              KMD Version: 610.57.04     CUDA UMD Version: 13.3     |\n"
    "+-----------------------------------------+------------------------+----------------------+\n"
    "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |\n"
    "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |\n"
    "|                                         |                        |               MIG M. |\n"
    "|=========================================+========================+======================|\n"
    "|   0  NVIDIA GeForce RTX 2080 ...    Off |   00000000:0C:00.0 Off |                  N/A |\n"
    "| 38%   33C    P8             38W /  250W |     211MiB /   8192MiB |      0%      Default |\n"
    "|                                         |                        |                  N/A |\n"
    "+-----------------------------------------+------------------------+----------------------+\n"
)

# x86-nvidia.md §2: same capture, -q
DRIVER_610_SMI_Q = (
    "==============NVSMI LOG==============\n"
    "\n"
    "Timestamp                                              : Wed Aug 12 21:53:45 2026\n"
    "Driver Version                                         : 610.57.04 [Deprecated; will be removed in CUDA 14.0. Use KMD Version instead]\n"
    "CUDA Version                                           : 13.3 [Deprecated; will be removed in CUDA 14.0. Use CUDA UMD Version instead]\n"
    "KMD Version                                            : 610.57.04\n"
    "CUDA UMD Version                                       : 13.3\n"
)

# x86-nvidia.md §3a: bottlerocket-os/bottlerocket-core-kit PR #834
A100_SMI = (
    "| NVIDIA-SMI 580.126.09             Driver Version: 580.126.09     CUDA Version: 13.0     |\n"
    "|   0  NVIDIA A100-SXM4-40GB          On  |   00000000:10:1C.0 Off |                    0 |\n"
    "| N/A   41C    P0             67W /  400W |     598MiB /  40960MiB |     11%   E. Process |\n"
)

# x86-nvidia.md §3b: noonghunna/club-3090 #617
RTX5090_SMI = (
    "| NVIDIA-SMI 595.71.05              Driver Version: 595.71.05      CUDA Version: 13.2     |\n"
    "|   0  NVIDIA GeForce RTX 5090        Off |   00000000:C5:00.0  On |                  N/A |\n"
    "| 36%   46C    P5             18W /  600W |     492MiB /  32607MiB |      0%      Default |\n"
)

# x86-nvidia.md §3c: manycore-research/SpatialLM #28
RTX4090D_SMI = (
    "| NVIDIA-SMI 550.107.02             Driver Version: 550.107.02     CUDA Version: 12.4     |\n"
    "|   0  NVIDIA GeForce RTX 4090 D      On  |   00000000:B8:00.0 Off |                  Off |\n"
    "| 30%   30C    P0             44W /  425W |       1MiB /  24564MiB |      0%      Default |\n"
)

# x86-nvidia.md §3d: rapidsai-community/rapidsai-csp-utils #34 (pre-R525 layout)
V100_SMI = (
    "| NVIDIA-SMI 450.66       Driver Version: 418.67       CUDA Version: 10.1     |\n"
    "|   0  Tesla V100-SXM2...  Off  | 00000000:00:04.0 Off |                    0 |\n"
    "| N/A   38C    P0    41W / 300W |  10633MiB / 16130MiB |      0%      Default |\n"
    "|                               |                      |                 ERR! |\n"
)

# x86-nvidia.md §3e: shkhln/libc6-shim #14
FREEBSD_SMI = (
    "| NVIDIA-SMI 575.64.03              Driver Version: 575.64.03      CUDA Version: N/A      |\n"
)

# x86-nvidia.md §4: woctezuma/stable-diffusion-colab #6
T4_SMI_Q = (
    "==============NVSMI LOG==============\n"
    "\n"
    "Timestamp                                 : Sun Dec 11 17:03:37 2022\n"
    "Driver Version                            : 460.32.03\n"
    "CUDA Version                              : 11.2\n"
    "\n"
    "Attached GPUs                             : 1\n"
    "GPU 00000000:00:04.0\n"
    "    Product Name                          : Tesla T4\n"
    "    Product Brand                         : Tesla\n"
    "    Serial Number                         : XXXX\n"
    "    GPU UUID                              : XXXX\n"
)

# x86-nvidia.md §5: triton-inference-server/server PR #8070, --format=csv (with header)
QUERY_WITH_HEADER = (
    "compute_cap, compute_mode, driver_version, name, index\n"
    "7.0, Default, 570.86.15, NVIDIA TITAN V, 0\n"
    "8.9, Default, 570.86.15, NVIDIA RTX 5880 Ada Generation, 1\n"
)

# x86-nvidia.md §6a: GoogleCloudPlatform/compute-gpu-installation #33
DRIVER_NOT_LOADED = (
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n"
)

# x86-nvidia.md §6b: tinygrad/open-gpu-kernel-modules #47
DRIVER_MISMATCH = (
    "Failed to initialize NVML: Driver/library version mismatch\n"
    "NVML library version: 570.124\n"
)

# x86-nvidia.md §7: ollama/ollama #9031
X86_NVCC = (
    "nvcc: NVIDIA (R) Cuda compiler driver\n"
    "Copyright (c) 2005-2025 NVIDIA Corporation\n"
    "Built on Wed_Jan_15_19:20:09_PST_2025\n"
    "Cuda compilation tools, release 12.8, V12.8.61\n"
    "Build cuda_12.8.r12.8/compiler.35404655_0\n"
)

# ---------------------------------------------------------------- host

ARM_FLAGS = {"neon", "sve", "sve2", "bf16", "i8mm"}


@pytest.mark.parametrize(
    "text, model, cores, flags",
    [
        (GB10_CPUINFO, "Cortex-X925 + Cortex-A725", 2, {"neon", "sve", "sve2", "bf16", "i8mm"}),
        (GRACE_CPUINFO_MAIL, "Neoverse-V2", 1, {"neon", "sve", "sve2", "bf16", "i8mm"}),
        (GRACE_CPUINFO_HRW, "Neoverse-V2", 1, {"neon", "sve", "sve2", "bf16", "i8mm"}),
        (THOR_CPUINFO, "Neoverse-V3AE", 1, {"neon", "sve", "sve2", "bf16", "i8mm"}),
        (GRAVITON2_CPUINFO, "Neoverse-N1", 1, {"neon"}),
        (GRAVITON3_CPUINFO, "Neoverse-V1", 1, {"neon", "sve"}),
        (GRAVITON4_CPUINFO, "Neoverse-V2", 1, {"neon", "sve", "sve2", "bf16", "i8mm"}),
        (AMPERE_CPUINFO, "Neoverse-N1", 1, {"neon"}),
    ],
    ids=["gb10", "grace-mail", "grace-hrw", "thor", "graviton2", "graviton3", "graviton4", "ampere-n1"],
)
def test_parse_cpuinfo_names_arm_cores_from_part_numbers(text, model, cores, flags):
    cpu = parse_cpuinfo(text)
    assert cpu.model == model
    assert cpu.cores == cores  # the recordings keep only some processor blocks
    assert set(cpu.features) & ARM_FLAGS == flags
    assert "asimd" in cpu.features  # the raw flag stays next to its common name
    assert list(cpu.features) == sorted(cpu.features)


def test_parse_cpuinfo_keeps_only_flags_of_interest():
    features = parse_cpuinfo(GB10_CPUINFO).features
    assert features == ("asimd", "asimddp", "asimdhp", "bf16", "dotprod", "i8mm", "neon", "sve", "sve2",
                        "svebf16", "svei8mm")


def test_parse_cpuinfo_without_processors_is_none():
    assert parse_cpuinfo(DRIVER_MISMATCH) is None


@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo"), reason="no /proc/cpuinfo on this host")
def test_parse_cpuinfo_on_this_host():
    with open("/proc/cpuinfo") as handle:
        cpu = parse_cpuinfo(handle.read())
    assert cpu.model
    assert cpu.cores == os.cpu_count()
    assert set(cpu.features) <= KEPT_FLAGS | set(FLAG_ALIASES.values())


@pytest.mark.parametrize(
    "text, expected",
    [
        # fields of gb10.md §5's `uname -a` and apple-silicon.md §3a's `uname -s/-r/-m`, as `uname -s -r -m` prints them
        ("Linux 6.14.0-1013-nvidia aarch64\n", {"os": "linux", "kernel": "6.14.0-1013-nvidia", "arch": "aarch64"}),
        ("Darwin 20.4.0 arm64\n", {"os": "darwin", "kernel": "20.4.0", "arch": "aarch64"}),
        ("Failed to initialize NVML: Driver/library version mismatch\n", None),
    ],
    ids=["gb10", "mac-arm64-normalised", "not-uname"],
)
def test_parse_uname(text, expected):
    assert parse_uname(text) == expected


@pytest.mark.skipif(not os.path.exists("/etc/os-release") or sys.version_info < (3, 10), reason="no os-release")
def test_parse_os_release_on_this_host():
    with open("/etc/os-release") as handle:
        text = handle.read()
    info = platform.freedesktop_os_release()
    expected = info.get("PRETTY_NAME") or " ".join(filter(None, (info.get("NAME"), info.get("VERSION_ID"))))
    assert parse_os_release(text) == expected


def test_parse_os_release_without_a_name_is_none():
    assert parse_os_release(GB10_NVCC) is None


@pytest.mark.skipif(not os.path.exists("/proc/meminfo"), reason="no /proc/meminfo on this host")
def test_parse_meminfo_on_this_host():
    with open("/proc/meminfo") as handle:
        memory = parse_meminfo(handle.read())
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    assert memory == pytest.approx(physical, abs=0.1)


def test_parse_meminfo_without_memtotal_is_none():
    assert parse_meminfo(GB10_CPUINFO) is None


@pytest.mark.skipif(not os.path.exists("/proc/meminfo"), reason="no /proc/meminfo on this host")
def test_parse_meminfo_reads_memavailable_on_this_host():
    with open("/proc/meminfo") as handle:
        text = handle.read()
    available, total = parse_meminfo(text, "MemAvailable"), parse_meminfo(text)
    assert available is not None and 0 < available <= total


def test_parse_meminfo_without_memavailable_is_none():
    assert parse_meminfo(GB10_CPUINFO, "MemAvailable") is None


@pytest.mark.skipif(not os.path.exists("/proc/meminfo"), reason="no /proc/meminfo on this host")
def test_probe_linux_reports_available_memory_or_why_not(tmp_path):
    with open("/proc/meminfo") as handle:
        lines = handle.read().splitlines(keepends=True)
    (tmp_path / "root" / "proc").mkdir(parents=True)
    meminfo = tmp_path / "root" / "proc" / "meminfo"
    meminfo.write_text("".join(lines))
    assert host.probe_linux(ReplaySystem(tmp_path), 1.0).facts["memory_available_gb"] > 0
    meminfo.write_text("".join(line for line in lines if not line.startswith("MemAvailable:")))  # Linux < 3.14
    part = host.probe_linux(ReplaySystem(tmp_path), 1.0)
    assert "memory_available_gb" not in part.facts and "MemAvailable" in part.unknown["memory_available_gb"]


# ---------------------------------------------------------------- nvidia-smi


@pytest.mark.parametrize(
    "text, fields, expected",
    [
        (GB10_QUERY_CC, ("name", "compute_cap"), [Gpu(vendor="nvidia", name="NVIDIA GB10", compute_capability="12.1")]),
        (GB10_QUERY_MEMORY, ("memory.used", "memory.total", "utilization.memory"),
         [Gpu(vendor="nvidia", memory_shared=True)]),
        (QUERY_WITH_HEADER, ("compute_cap", "compute_mode", "driver_version", "name", "index"),
         [Gpu(vendor="nvidia", name="NVIDIA TITAN V", compute_capability="7.0"),
          Gpu(vendor="nvidia", name="NVIDIA RTX 5880 Ada Generation", compute_capability="8.9")]),
        (DRIVER_MISMATCH, QUERY_FIELDS, []),
        (DRIVER_NOT_LOADED, QUERY_FIELDS, []),
    ],
    ids=["gb10-name-cc", "gb10-memory-na", "titan-v-rtx5880-with-header", "driver-mismatch", "driver-not-loaded"],
)
def test_parse_query_gpu(text, fields, expected):
    assert [gpu_from_row(row) for row in parse_query_gpu(text, fields)] == expected


def test_gpu_from_row_converts_mib_and_keeps_cc_as_text():
    row = parse_query_gpu(QUERY_WITH_HEADER, ("compute_cap", "compute_mode", "driver_version", "name", "index"))[0]
    assert row["driver_version"] == "570.86.15"
    gpu = gpu_from_row({**row, "memory.total": "81559"})  # H100's memory.total from x86-nvidia.md §1
    assert gpu.memory_gb == 79.6 and gpu.memory_shared is False and gpu.cc == (7, 0)


@pytest.mark.parametrize(
    "text, driver, cuda",
    [
        (GB10_SMI, "580.95.05", "13.0"),
        (GB10_SMI_580_126, "580.126.09", "13.0"),
        (GH200_SMI, "550.54.15", "12.4"),
        (ORIN_JP6_SMI, "540.4.0", "12.6"),
        (ORIN_NIXOS_SMI, "540.4.0", None),
        (THOR_SMI, None, "13.0"),
        (THOR_JP72_SMI_LINES, "595.78", "13.2"),
        (H100_SMI, "590.48.01", "13.1"),
        (H100_SMI_VERSION, "590.48.01", "13.1"),
        (H100_SMI_Q, "590.48.01", "13.1"),
        (DRIVER_610_SMI, "610.57.04", "13.3"),
        (DRIVER_610_SMI_VERSION, "610.57.04", "13.3"),
        (DRIVER_610_SMI_Q, "610.57.04", "13.3"),
        (A100_SMI, "580.126.09", "13.0"),
        (RTX5090_SMI, "595.71.05", "13.2"),
        (RTX4090D_SMI, "550.107.02", "12.4"),
        (V100_SMI, "418.67", "10.1"),
        (T4_SMI_Q, "460.32.03", "11.2"),
        (FREEBSD_SMI, "575.64.03", None),
        (DRIVER_MISMATCH, None, None),
        (DRIVER_NOT_LOADED, None, None),
    ],
    ids=["gb10", "gb10-580.126", "gh200", "orin-jp6", "orin-nixos-cuda-na", "thor-driver-redacted",
         "thor-jp7.2-lines", "h100-table", "h100-version", "h100-q", "driver610-kmd-umd-table",
         "driver610-version", "driver610-q", "a100", "rtx5090", "rtx4090d", "v100-old-layout", "t4-q",
         "freebsd-cuda-na", "driver-mismatch", "driver-not-loaded"],
)
def test_parse_smi_version(text, driver, cuda):
    assert parse_smi_version(text) == (driver, cuda)


@pytest.mark.parametrize(
    "text, release",
    [(GB10_NVCC, "13.0"), (ORIN_NVCC, "12.6"), (X86_NVCC, "12.8"), (DRIVER_NOT_LOADED, None)],
    ids=["gb10-13.0", "orin-12.6", "x86-12.8", "not-nvcc"],
)
def test_parse_nvcc_version(text, release):
    assert parse_nvcc_version(text) == release


# ---------------------------------------------------------------- Jetson


@pytest.mark.parametrize(
    "text, l4t, jetpack",
    [
        (ORIN_R35_RELEASE, "35.3.1", "5.1.1"),
        (ORIN_R36_RELEASE, "36.4.4", "6.2.1"),
        (THOR_RELEASE, "38.2.0", "7.0"),
        (ORIN_R39_RELEASE, "39.2.0", "7.2"),
        (GB10_NVCC, None, None),
    ],
    ids=["r35-orin-nano", "r36-agx-orin", "r38-thor", "r39-agx-orin", "not-a-release-file"],
)
def test_parse_nv_tegra_release(text, l4t, jetpack):
    assert parse_nv_tegra_release(text) == l4t
    assert jetpack_for_l4t(l4t) == jetpack


@pytest.mark.parametrize(
    "text, soc",
    [
        (ORIN_NANO_COMPATIBLE, "tegra234"),  # not the family entry "tegra23x" after it
        (THOR_COMPATIBLE, "tegra264"),
        # the same entries as the file holds them, NUL-separated and NUL-terminated
        (ORIN_NANO_COMPATIBLE.replace("nvidia,", "\0nvidia,")[1:] + "\0", "tegra234"),
        (THOR_COMPATIBLE.replace("nvidia,", "\0nvidia,")[1:] + "\0", "tegra264"),
        (ORIN_R39_COMPATIBLE, None),
    ],
    ids=["orin-nano-run-together", "thor-run-together", "orin-nano-nul", "thor-nul", "orin-r39-board-only"],
)
def test_parse_compatible(text, soc):
    assert parse_compatible(text) == soc


@pytest.mark.parametrize(
    "model, soc",
    [
        ("NVIDIA Jetson AGX Orin Developer Kit", "tegra234"),  # jetson-orin.md §2a
        ("NVIDIA Orin Nano Developer Kit", "tegra234"),  # §2b
        ("NVIDIA Orin NX Developer Kit", "tegra234"),  # §2d
        ("NVIDIA Jetson AGX Thor Developer Kit", "tegra264"),  # jetson-thor.md §1
        ("NVIDIA GB10", None),
    ],
    ids=["agx-orin", "orin-nano", "orin-nx", "agx-thor", "not-a-jetson"],
)
def test_soc_from_model(model, soc):
    assert soc_from_model(model) == soc


# ---------------------------------------------------------------- macOS


@pytest.mark.parametrize(
    "text, expected",
    [
        (M4_MAX_SYSCTL, {"hw.ncpu": "16", "hw.memsize": "68719476736", "hw.optional.arm.FEAT_SME2": "1",
                         "hw.optional.arm64": "1", "hw.cputype": "16777228",
                         "machdep.cpu.brand_string": "Apple M4 Max"}),
        # Rosetta: x86 cputype and flags, but the brand string still names the Apple chip
        (M1_ROSETTA_SYSCTL, {"hw.ncpu": "8", "hw.memsize": "17179869184", "hw.optional.x86_64": "1",
                             "hw.optional.arm64": "1", "hw.cputype": "7", "machdep.cpu.brand_string": "Apple M1"}),
    ],
    ids=["m4-max", "m1-rosetta"],
)
def test_parse_sysctl(text, expected):
    values = parse_sysctl(text)
    assert {key: values.get(key) for key in expected} == expected


def test_parse_sysctl_ignores_lines_that_are_not_key_value():
    assert parse_sysctl(DRIVER_MISMATCH) == {}


@pytest.mark.parametrize("text, version", [(SW_VERS, "14.0"), (M3_DISPLAYS, None)], ids=["sw_vers", "not-sw_vers"])
def test_parse_sw_vers(text, version):
    assert parse_sw_vers(text) == version


def test_parse_displays():
    assert parse_displays(M3_DISPLAYS) == ("Apple M3", 10)
    assert parse_displays(SW_VERS) == (None, None)
