# flash-attn: flash_attn_func forward and backward in bf16 checked against torch's attention computed in float32,
# then 20 steps of a 2-layer model whose attention is flash_attn_func. GPU only (its kernels are CUDA).
# Runs after _harness.py (doctor/install/smoke.py build_script): check, run, lr, tiny_lm, train_lm, assert_* come from there.


def main(device):
    require_cuda(device, "flash_attn")
    import torch
    import torch.nn.functional as F

    with check("import flash_attn", kernel="flash_attn_2_cuda"):
        import flash_attn
        from flash_attn import flash_attn_func

        # The compiled extension the real package calls; a look-alike that wraps SDPA would have none.
        backend = getattr(sys.modules.get("flash_attn.flash_attn_interface"), "flash_attn_cuda", None)
        note("flash_attn %s, kernels from %s" % (flash_attn.__version__, getattr(backend, "__name__", backend)))
        if backend is None:
            raise ImportError("flash_attn.flash_attn_interface has no compiled flash_attn_cuda extension")

    with check("flash_attn_func fwd+bwd vs float32 attention", kernel="flash_attn_func"):
        generator = torch.Generator().manual_seed(SEED)
        shape = (2, 256, 4, 64)  # batch, seqlen, heads, head_dim: flash-attn's layout
        q, k, v = (torch.randn(shape, generator=generator).cuda().bfloat16().requires_grad_() for _ in range(3))
        grad_out = torch.randn(shape, generator=generator).cuda().bfloat16()
        out = flash_attn_func(q, k, v, dropout_p=0.0, causal=True)
        out.backward(grad_out)
        q32, k32, v32 = (t.detach().float().transpose(1, 2).requires_grad_() for t in (q, k, v))
        ref = F.scaled_dot_product_attention(q32, k32, v32, is_causal=True)
        ref.backward(grad_out.float().transpose(1, 2))
        # Errors are bounded relative to each tensor's scale (gradients are not O(1)): 1e-2 of its max, plus 1e-2
        # of each value. An emulation of flash-attn's bf16 rounding (P and dS rounded for the matmuls, fp32
        # accumulation) stays under half of this bound at these shapes.
        for name, got, want in (("output", out, ref), ("dq", q.grad, q32.grad), ("dk", k.grad, k32.grad),
                                ("dv", v.grad, v32.grad)):
            want = want.detach().transpose(1, 2)
            assert_close(got, want, atol=1e-2 * float(want.abs().max()), rtol=1e-2, what=name)

    with check("2-layer model on flash_attn_func trains", kernel="flash_attn_func"):
        model = tiny_lm(attention=lambda q, k, v: flash_attn_func(q, k, v, causal=True)).cuda()
        losses = train_lm(model, device, steps=20, autocast=torch.bfloat16)  # flash-attn takes fp16/bf16 only
        assert_learns(losses)


run("flash-attn", main, dist="flash-attn")
