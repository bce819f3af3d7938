# mamba-ssm: selective_scan_fn (the selective_scan_cuda kernel) forward and backward checked against the
# selective-scan recurrence written out in torch and run in float64, then 30 steps of a 2-layer Mamba LM (its fused
# mamba_inner_fn path when causal-conv1d is installed). GPU only (its kernels are CUDA).
# Runs after _harness.py (doctor/install/smoke.py build_script): check, run, lr, train_lm, assert_* come from there.


def selective_scan_reference(u, delta, A, B, C, D, z, delta_bias):
    """The selective scan, step by step: h_t = exp(dt_t A) h_{t-1} + dt_t B_t u_t, y_t = C_t h_t + D u_t, gated
    by silu(z); dt = softplus(delta + delta_bias). Shapes: u, delta, z [b, d, l]; A [d, n]; B, C [b, n, l]; D [d]."""
    import torch
    import torch.nn.functional as F

    dt = F.softplus(delta + delta_bias[:, None])
    state = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for t in range(u.shape[2]):
        decay = torch.exp(dt[:, :, t, None] * A)  # [b, d, n]
        state = decay * state + (dt[:, :, t] * u[:, :, t])[:, :, None] * B[:, None, :, t]
        ys.append((state * C[:, None, :, t]).sum(-1))
    y = torch.stack(ys, dim=2) + u * D[:, None]
    return y * F.silu(z)


def mamba_lm(vocab=64, dim=64, layers=2):
    """Embedding, `layers` pre-norm residual Mamba blocks, a final norm and the logits."""
    import torch
    from mamba_ssm.modules.mamba_simple import Mamba
    from torch import nn

    class MambaLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, dim)
            self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(layers))
            self.mixers = nn.ModuleList(Mamba(d_model=dim, d_state=16, d_conv=4, expand=2, layer_idx=i)
                                        for i in range(layers))
            self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, vocab)

        def forward(self, tokens):
            x = self.embed(tokens)
            for norm, mixer in zip(self.norms, self.mixers):
                x = x + mixer(norm(x))
            return self.head(self.norm(x))

    torch.manual_seed(SEED)
    return MambaLM()


def main(device):
    require_cuda(device, "mamba_ssm")
    import torch

    with check("import mamba_ssm", kernel="selective_scan_cuda"):
        import mamba_ssm
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn

        import selective_scan_cuda  # the compiled kernel; `import mamba_ssm` already needs it
        from mamba_ssm.modules import mamba_simple

        fused = mamba_simple.causal_conv1d_fn is not None  # what Mamba.forward tests to take mamba_inner_fn
        note("mamba_ssm %s, kernels from %s; causal-conv1d %s" % (
            mamba_ssm.__version__, selective_scan_cuda.__file__,
            "found: the fused mamba_inner_fn path" if fused else "missing: Mamba layers run torch's conv1d"))

    with check("selective_scan_fn fwd+bwd vs float64 recurrence", kernel="selective_scan_fn"):
        generator = torch.Generator().manual_seed(SEED)
        batch, dim, dstate, seqlen = 2, 32, 16, 128

        def make(*shape):
            return torch.randn(*shape, generator=generator).cuda().requires_grad_()

        u, z = make(batch, dim, seqlen), make(batch, dim, seqlen)
        delta = (0.5 * torch.rand(batch, dim, seqlen, generator=generator)).cuda().requires_grad_()
        A = (-0.5 * torch.rand(dim, dstate, generator=generator)).cuda().requires_grad_()
        B, C = make(batch, dstate, seqlen), make(batch, dstate, seqlen)
        D = make(dim)
        delta_bias = (0.5 * torch.rand(dim, generator=generator)).cuda().requires_grad_()
        grad_out = torch.randn(batch, dim, seqlen, generator=generator).cuda()
        inputs = (u, delta, A, B, C, D, z, delta_bias)
        out = selective_scan_fn(u, delta, A, B, C, D, z=z, delta_bias=delta_bias, delta_softplus=True)
        out.backward(grad_out)
        ref_inputs = tuple(t.detach().double().requires_grad_() for t in inputs)
        ref = selective_scan_reference(*ref_inputs)
        ref.backward(grad_out.double())
        # float32 kernels: 2e-3 of each tensor's scale (the A, B, C and D gradients sum over the sequence) and 2e-3
        # of each value; mamba's own tests hold float32 outputs to rtol 6e-4, atol 2e-3 and gradients up to 10x that.
        assert_close(out, ref, atol=2e-3 * max(1.0, float(ref.abs().max())), rtol=2e-3, what="output")
        for name, got, want in zip(("du", "ddelta", "dA", "dB", "dC", "dD", "dz", "ddelta_bias"), inputs, ref_inputs):
            assert_close(got.grad, want.grad, atol=2e-3 * max(1.0, float(want.grad.abs().max())), rtol=2e-3,
                         what=name)

    with check("2-layer Mamba LM trains", kernel="mamba_inner_fn" if fused else "selective_scan_fn"):
        model = mamba_lm().cuda()
        losses = train_lm(model, device, steps=30)
        assert_learns(losses)


run("mamba-ssm", main, dist="mamba-ssm")
