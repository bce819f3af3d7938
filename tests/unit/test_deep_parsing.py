"""The deep check's pure half: parsing and judging what the kernel launch printed."""

from __future__ import annotations

from aidoctor.doctor.probes.deep import kernel_failure, parse_deep_output

# What the script printed on a machine whose first CUDA kernel failed: the shape of
# bitsandbytes#1930 / pytorch-cpu-feedstock#303 (is_available() True, launch fails).
FAILED_LAUNCH = ('{"torch_import": true, "torch": "2.5.0", "cuda_build": "12.6", "cuda_available": true, '
                 '"kernel": {"device": "cuda", "ok": false, "error": "RuntimeError: CUDA error: no kernel image is '
                 'available for execution on the device"}}')


def test_parse_and_judge_a_failed_launch():
    deep = parse_deep_output("a warning printed first\n" + FAILED_LAUNCH)
    assert deep["cuda_available"] is True
    assert "no kernel image" in kernel_failure(deep)


def test_garbage_is_a_failure_not_a_crash():
    deep = parse_deep_output("Segmentation fault (core dumped)")
    assert deep["torch_import"] is False and kernel_failure(deep)
