# triton: two real kernels compiled and launched on the GPU (a vector add and a tl.dot matmul) checked against
# torch, then one torch.compile train step loop, whose inductor kernels are triton's. GPU only: on another device
# this reports a failure with the cause "no CUDA device", and the runner decides what that means.
# Runs after _harness.py (doctor/install/smoke.py build_script): check, run, lr, tiny_lm, train_lm, assert_* come from there.


def kernels():
    # Module globals, not locals: triton resolves the names a kernel uses through its __globals__ (older releases
    # read nothing else), and @triton.jit needs the source file, which is why this runs from a file, not `-c`.
    global triton, tl
    import triton
    import triton.language as tl

    @triton.jit
    def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < n
        tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=mask) + tl.load(y_ptr + offsets, mask=mask),
                 mask=mask)

    @triton.jit
    def dot_kernel(a_ptr, b_ptr, c_ptr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr):
        rm, rn, rk = tl.arange(0, M), tl.arange(0, N), tl.arange(0, K)
        a = tl.load(a_ptr + rm[:, None] * K + rk[None, :])
        b = tl.load(b_ptr + rk[:, None] * N + rn[None, :])
        tl.store(c_ptr + rm[:, None] * N + rn[None, :], tl.dot(a, b))

    return add_kernel, dot_kernel


def main(device):
    require_cuda(device, "triton")
    import torch

    with check("import triton", kernel="triton"):
        add_kernel, dot_kernel = kernels()
        note("triton %s" % triton.__version__)

    generator = torch.Generator().manual_seed(SEED)
    with check("vector add kernel vs torch", kernel="triton.jit"):
        n = 100_000  # not a multiple of BLOCK: the mask matters
        x = torch.randn(n, generator=generator).cuda()
        y = torch.randn(n, generator=generator).cuda()
        out = torch.empty_like(x)
        add_kernel[(triton.cdiv(n, 1024),)](x, y, out, n, BLOCK=1024)
        assert_close(out, x + y, atol=0, rtol=0, what="vector add")

    with check("tl.dot kernel vs torch matmul", kernel="tl.dot"):
        a = torch.randn(64, 64, generator=generator).half().cuda()
        b = torch.randn(64, 64, generator=generator).half().cuda()
        c = torch.empty(64, 64, device="cuda", dtype=torch.float32)
        dot_kernel[(1,)](a, b, c, M=64, N=64, K=64)
        # fp16 products are exact in fp32; only the order of the fp32 sums differs.
        assert_close(c, a.float() @ b.float(), atol=1e-2, rtol=1e-3, what="tl.dot")

    with check("torch.compile train steps", kernel="inductor"):
        model = torch.compile(tiny_lm().cuda())
        losses = train_lm(model, device, steps=20, autocast=torch.bfloat16 if bf16_ok(device) else None)
        assert_learns(losses)


run("triton", main)
