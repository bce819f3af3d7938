# causal-conv1d: causal_conv1d_fn forward and backward checked against the same causal depthwise convolution
# computed by torch (F.conv1d, the README's equivalent) in float64, then 30 steps of a small model built on it.
# GPU only (its kernels are CUDA); no fallback: a missing causal_conv1d_cuda is the failure it is.
# Runs after _harness.py (doctor/install/smoke.py build_script): check, run, lr, train_lm, assert_* come from there.


def causal_conv_reference(x, weight, bias, silu):
    """The causal depthwise conv1d as torch computes it: pad width - 1 on the left, keep seqlen outputs."""
    import torch.nn.functional as F

    width, seqlen = weight.shape[1], x.shape[-1]
    out = F.conv1d(x, weight.unsqueeze(1), bias, padding=width - 1, groups=x.shape[1])[..., :seqlen]
    return F.silu(out) if silu else out


def conv_lm(conv, vocab=64, dim=64, width=4, layers=2):
    """Embedding, then `layers` residual blocks of LayerNorm, Linear, causal conv + SiLU, Linear; then logits.
    `conv(x, weight, bias)` takes [batch, dim, seq] and must be causal with SiLU applied."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm, self.inp, self.out = nn.LayerNorm(dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
            self.weight = nn.Parameter(torch.randn(dim, width) / width)
            self.bias = nn.Parameter(torch.zeros(dim))

        def forward(self, x):
            h = self.inp(self.norm(x)).transpose(1, 2).contiguous()
            return x + self.out(conv(h, self.weight, self.bias).transpose(1, 2))

    class ConvLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, dim)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.head = nn.Linear(dim, vocab)

        def forward(self, tokens):
            x = self.embed(tokens)
            for block in self.blocks:
                x = block(x)
            return self.head(x)

    return ConvLM()


def main(device):
    require_cuda(device, "causal_conv1d")
    import torch

    with check("import causal_conv1d", kernel="causal_conv1d_cuda"):
        import causal_conv1d
        from causal_conv1d import causal_conv1d_fn

        import causal_conv1d_cuda  # the compiled kernels the package calls; a pure-Python look-alike has none

        note("causal_conv1d %s, kernels from %s" % (causal_conv1d.__version__, causal_conv1d_cuda.__file__))

    with check("causal_conv1d_fn fwd+bwd vs float64 F.conv1d", kernel="causal_conv1d_fn"):
        generator = torch.Generator().manual_seed(SEED)
        batch, dim, seqlen, width = 2, 64, 512, 4
        x = torch.randn(batch, dim, seqlen, generator=generator).cuda().requires_grad_()
        weight = torch.randn(dim, width, generator=generator).cuda().requires_grad_()
        bias = torch.randn(dim, generator=generator).cuda().requires_grad_()
        grad_out = torch.randn(batch, dim, seqlen, generator=generator).cuda()
        out = causal_conv1d_fn(x, weight, bias, activation="silu")
        out.backward(grad_out)
        x64, w64, b64 = (t.detach().double().requires_grad_() for t in (x, weight, bias))
        ref = causal_conv_reference(x64, w64, b64, silu=True)
        ref.backward(grad_out.double())
        # float32 kernels: 1e-4 of each tensor's scale (weight and bias gradients sum over batch x seqlen) and
        # 1e-3 of each value; causal-conv1d's own tests hold float32 to rtol 3e-4, atol 1e-3 at O(1) scale.
        for name, got, want in (("output", out, ref), ("dx", x.grad, x64.grad), ("dweight", weight.grad, w64.grad),
                                ("dbias", bias.grad, b64.grad)):
            assert_close(got, want, atol=1e-4 * max(1.0, float(want.abs().max())), rtol=1e-3, what=name)

    with check("causal_conv1d_fn in bfloat16 vs float64 F.conv1d", kernel="causal_conv1d_fn"):
        x16 = x.detach().bfloat16()
        out16 = causal_conv1d_fn(x16, weight.detach().bfloat16(), bias.detach().bfloat16(), activation="silu")
        ref = causal_conv_reference(x16.double(), weight.detach().bfloat16().double(),
                                    bias.detach().bfloat16().double(), silu=True)
        assert_close(out16, ref, atol=2e-2 * float(ref.abs().max()), rtol=2e-2, what="bf16 output")

    with check("2-layer model on causal_conv1d_fn trains", kernel="causal_conv1d_fn"):
        model = conv_lm(lambda h, w, b: causal_conv1d_fn(h, w, b, activation="silu")).cuda()
        losses = train_lm(model, device, steps=30)
        assert_learns(losses)


run("causal-conv1d", main, dist="causal-conv1d")
