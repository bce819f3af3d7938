"""Binary compatibility of CUDA code across compute capabilities, driver floors, JetPack from L4T."""

from __future__ import annotations

import pytest

from aidoctor.doctor.core.nvidia import code_for, driver_floor, jetpack_for_l4t, parse_arch

TORCH_215_AARCH64 = ("sm_80", "sm_90", "sm_100", "sm_110", "sm_120")  # compat-facts §2, read from the wheel


@pytest.mark.parametrize("arch_list, cc, expected", [
    (TORCH_215_AARCH64, (12, 1), "sm_120"),  # 12.0 code runs on 12.1 (GB10)
    (TORCH_215_AARCH64, (9, 0), "sm_90"),
    (TORCH_215_AARCH64, (8, 7), "sm_80"),  # same major, lower minor: the cubin loads (L4T is a separate matter)
    (TORCH_215_AARCH64, (8, 6), "sm_80"),
    (TORCH_215_AARCH64, (7, 5), None),
    (("sm_90a",), (9, 0), "sm_90a"),
    (("sm_90a",), (10, 0), None),  # arch-specific code runs only on that exact capability
    (("sm_120a",), (12, 1), None),
    (("sm_80", "compute_90"), (12, 1), "compute_90"),  # PTX JIT-compiles forward
    (("8.0", "9.0+PTX"), (10, 0), "compute_90"),
    (("sm_100",), (11, 0), None),  # never across majors
])
def test_code_for(arch_list, cc, expected):
    assert code_for(arch_list, cc) == expected


def test_parse_arch_rejects_noise():
    assert parse_arch("gfx90a") is None
    assert str(parse_arch("sm_121a")) == "sm_121a"


@pytest.mark.parametrize("cuda, floor", [("13.0", "580"), ("12.4", "525"), ("11.8", "450"), ("10.2", None), (None, None)])
def test_driver_floor(cuda, floor):
    result = driver_floor(cuda)
    assert (str(result) if result else None) == floor


@pytest.mark.parametrize("l4t, jetpack", [("36.4.4", "6.2.1"), ("35.3.1", "5.1.1"), ("38.2.0", "7.0"),
                                          ("39.2.0", "7.2"), ("36.9.9", "6"), ("38.4.0", "7"), ("99.1", None), (None, None)])
def test_jetpack_from_l4t_never_goes_missing_for_a_known_major(l4t, jetpack):
    assert jetpack_for_l4t(l4t) == jetpack
