# bitsandbytes: the first real kernel (quantize_4bit, where the SBSA build fails on Jetson, bitsandbytes#1930)
# checked against a plain NF4 reference, then an NF4 Linear4bit frozen base with a LoRA adapter trains 20 steps
# (bnb's AdamW8bit on CUDA, torch's AdamW on CPU and MPS, where bnb has no 8-bit optimizer).
# Runs after _harness.py (doctor/install/smoke.py build_script): check, run, lr, assert_* come from there.

# The 16 NF4 levels, from the QLoRA paper (arXiv:2305.14314, appendix E).
NF4 = (-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
       -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
       0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0)


def main(device):
    import torch
    import bitsandbytes as bnb
    from bitsandbytes.functional import dequantize_4bit, quantize_4bit

    dtype = torch.float32 if device == "cpu" else torch.float16
    generator = torch.Generator().manual_seed(SEED)

    with check("quantize_4bit / dequantize_4bit NF4 roundtrip", kernel="quantize_4bit"):
        a = torch.randn(128, 256, generator=generator).to(dtype)
        packed, state = quantize_4bit(a.to(device), blocksize=64, quant_type="nf4")
        if packed.dtype != torch.uint8 or packed.numel() * 2 != a.numel():
            raise AssertionError("quantize_4bit gave %s x %d, not 4-bit packed uint8 for %d values"
                                 % (packed.dtype, packed.numel(), a.numel()))
        got = dequantize_4bit(packed, state).float().cpu().reshape(-1, 64)
        blocks = a.float().reshape(-1, 64)
        absmax = blocks.abs().amax(1, keepdim=True)
        levels = torch.tensor(NF4)
        reference = levels[((blocks / absmax).unsqueeze(-1) - levels).abs().argmin(-1)] * absmax
        # Rounding to the nearest level errs by at most half the widest gap (-1 to -0.6962) of the block's absmax.
        bound = max(high - low for low, high in zip(NF4, NF4[1:])) / 2
        worst = float(((got - blocks).abs() / absmax).max())
        note("max roundtrip error %.4f of the block absmax (NF4 bound %.4f)" % (worst, bound))
        if worst > bound + 2e-3:
            raise AssertionError("roundtrip error %.4f of the block absmax exceeds NF4's bound %.4f" % (worst, bound))
        # Values sitting on a midpoint between two levels may round either way; anything more is a wrong kernel.
        differs = float(((got - reference).abs() > 1e-2 * absmax).float().mean())
        note("%.3f%% of values differ from the reference NF4 rounding" % (100 * differs))
        if differs > 1e-3:
            raise AssertionError("%.2f%% of dequantized values differ from plain NF4 rounding" % (100 * differs))

    with check("NF4 Linear4bit base + LoRA adapter trains", kernel="matmul_4bit"):
        dim, rank = 256, 16
        base = torch.nn.Linear(dim, dim, bias=False)
        layer = bnb.nn.Linear4bit(dim, dim, bias=False, quant_type="nf4", compute_dtype=torch.float32)
        layer.load_state_dict(base.state_dict())
        layer = layer.to(device)  # bitsandbytes quantizes the weight here
        if layer.weight.dtype != torch.uint8 or layer.weight.requires_grad:
            raise AssertionError("Linear4bit's weight is %s (requires_grad=%s), not frozen packed 4-bit"
                                 % (layer.weight.dtype, layer.weight.requires_grad))
        # The target: the full-precision base plus a rank-4 change that only the adapter can learn.
        delta = (torch.randn(dim, 4, generator=generator) @ torch.randn(4, dim, generator=generator)) / dim
        x = torch.randn(64, dim, generator=generator)
        target = (x @ (base.weight.detach() + delta).T).to(device)
        x = x.to(device)
        weight = dequantize_4bit(layer.weight.data, layer.weight.quant_state).float()
        with torch.no_grad():
            assert_close(layer(x).float(), x @ weight.T, atol=1e-3, rtol=1e-2, what="matmul_4bit")
        lora_a = torch.nn.Parameter((torch.randn(rank, dim, generator=generator) / dim ** 0.5).to(device))
        lora_b = torch.nn.Parameter(torch.zeros(dim, rank, device=device))
        if device == "cuda":
            # 16 x 256 = 4096 values each: at bnb's min_8bit_size, so the optimizer state really is 8-bit.
            opt = bnb.optim.AdamW8bit([lora_a, lora_b], lr=lr(1e-2))
        else:
            opt = torch.optim.AdamW([lora_a, lora_b], lr=lr(1e-2))
        note("optimizer %s" % type(opt).__name__)
        losses = []
        for step in range(20):
            opt.zero_grad(set_to_none=True)
            out = layer(x).float() + (x @ lora_a.T) @ lora_b.T
            loss = torch.nn.functional.mse_loss(out, target)
            loss.backward()
            if layer.weight.grad is not None:
                raise AssertionError("the frozen 4-bit base weight received a gradient")
            opt.step()
            losses.append(loss.item())
        if device == "cuda" and opt.state[lora_a]["state1"].dtype != torch.uint8:
            raise AssertionError("AdamW8bit kept its state in %s, not 8-bit" % opt.state[lora_a]["state1"].dtype)
        assert_finite_grads([lora_a, lora_b])
        assert_learns(losses, min_drop=0.3)


run("bitsandbytes", main)
