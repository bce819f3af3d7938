# torch: a matmul on the device checked against float64 on the CPU, then AdamW trains a tiny transformer.
# Runs after _harness.py (doctor/install/smoke.py build_script): check, run, lr, tiny_lm, train_lm, assert_* come from there.


def arch_covered(capability, arch_list):
    """The entry of torch.cuda.get_arch_list() that runs on this GPU, or None.

    SASS (sm_XY) runs on the same major with an equal or higher minor (sm_120 runs on GB10's 12.1), an
    arch-specific sm_XYa only on exactly XY; PTX (compute_XY) is compiled by the driver for any newer GPU."""
    for arch in arch_list:
        kind, _, name = arch.partition("_")
        digits = name.rstrip("af")
        if len(digits) < 2 or not digits.isdigit():
            continue
        built = (int(digits[:-1]), int(digits[-1]))
        suffix = name[len(digits):]
        if kind == "sm" and suffix == "a" and built == capability:
            return arch
        if kind == "sm" and suffix in ("", "f") and built[0] == capability[0] and built[1] <= capability[1]:
            return arch
        if kind == "compute" and built <= capability:
            return arch + " (PTX, compiled by the driver at first use)"
    return None


def main(device):
    import torch

    if device == "cuda":
        with check("cuda arch in this build", kernel="torch"):
            capability = torch.cuda.get_device_capability(0)
            arch_list = torch.cuda.get_arch_list()
            covered = arch_covered(capability, arch_list)
            if covered is None:
                raise RuntimeError("no kernel image is available for sm_%d%d: this torch was built for %s"
                                   % (capability + (" ".join(arch_list),)))
            note("sm_%d%d runs %s" % (capability + (covered,)))

    with check("matmul vs float64", kernel="matmul"):
        generator = torch.Generator().manual_seed(SEED)
        a = torch.randn(256, 256, generator=generator)
        b = torch.randn(256, 256, generator=generator)
        got = a.to(device) @ b.to(device)
        # TF32 (allowed by default for some cuda matmuls) keeps 10 mantissa bits: 5e-2 on sums of 256 products.
        assert_close(got, a.double() @ b.double(), atol=5e-2, rtol=1e-2, what="matmul")

    with check("AdamW trains a tiny transformer", kernel="adamw"):
        bf16 = bf16_ok(device)
        model = tiny_lm().to(device)
        losses = train_lm(model, device, steps=30, autocast=torch.bfloat16 if bf16 else None)
        note("bf16 autocast" if bf16 else "float32")
        assert_learns(losses, min_drop=0.3)


run("torch", main)
