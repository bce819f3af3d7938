# xformers: memory_efficient_attention forward and backward checked against float32 attention, then 20 steps of a
# 2-layer model whose attention it is. No fallback: a NotImplementedError (no kernel for this GPU, dtype or shape)
# is the failure it is. GPU only here, as aidoctor installs it for CUDA training.
# Runs after _harness.py (doctor/install/smoke.py build_script): check, run, lr, tiny_lm, train_lm, assert_* come from there.


def main(device):
    require_cuda(device, "xformers")
    import torch

    with check("import xformers.ops", kernel="xformers.ops"):
        import xformers
        import xformers.ops as xops

        note("xformers %s" % xformers.__version__)

    with check("memory_efficient_attention fwd+bwd vs float32 attention", kernel="memory_efficient_attention"):
        generator = torch.Generator().manual_seed(SEED)
        shape = (2, 256, 4, 64)  # batch, seqlen, heads, head_dim: xformers' [B, M, H, K] layout
        q, k, v = (torch.randn(shape, generator=generator).cuda().half().requires_grad_() for _ in range(3))
        grad_out = torch.randn(shape, generator=generator).cuda().half()
        out = xops.memory_efficient_attention(q, k, v, attn_bias=xops.LowerTriangularMask())
        out.backward(grad_out)
        q32, k32, v32 = (t.detach().float().transpose(1, 2).requires_grad_() for t in (q, k, v))
        ref = torch.nn.functional.scaled_dot_product_attention(q32, k32, v32, is_causal=True)
        ref.backward(grad_out.float().transpose(1, 2))
        # Errors are bounded relative to each tensor's scale (gradients are not O(1)): 1e-2 of its max, plus 1e-2
        # of each value.
        for name, got, want in (("output", out, ref), ("dq", q.grad, q32.grad), ("dk", k.grad, k32.grad),
                                ("dv", v.grad, v32.grad)):
            want = want.detach().transpose(1, 2)
            assert_close(got, want, atol=1e-2 * float(want.abs().max()), rtol=1e-2, what=name)

    with check("2-layer model on memory_efficient_attention trains", kernel="memory_efficient_attention"):
        causal = xops.LowerTriangularMask()

        def attention(q, k, v):
            return xops.memory_efficient_attention(q.contiguous(), k.contiguous(), v.contiguous(), attn_bias=causal)

        model = tiny_lm(attention=attention).cuda()
        losses = train_lm(model, device, steps=20, autocast=torch.bfloat16 if bf16_ok(device) else torch.float16)
        assert_learns(losses)


run("xformers", main)
