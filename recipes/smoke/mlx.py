# mlx: a matmul checked against numpy, then mlx.optimizers.AdamW trains a tiny MLP (mlx.nn) on the default device
# (Metal on Apple silicon, CUDA with mlx[cuda], the CPU with mlx[cpu]).
# Runs after _harness.py (doctor/install/smoke.py build_script): check, run, lr, assert_* come from there.


def main(device):
    import math

    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim
    import numpy as np
    from mlx.utils import tree_flatten

    with check("matmul vs numpy float64", kernel="matmul"):
        rng = np.random.default_rng(SEED)
        a = rng.standard_normal((128, 128)).astype(np.float32)
        b = rng.standard_normal((128, 128)).astype(np.float32)
        got = mx.array(a) @ mx.array(b)
        mx.eval(got)
        assert_close(np.array(got), a.astype(np.float64) @ b.astype(np.float64), atol=1e-2, rtol=1e-3,
                     what="matmul")

    with check("AdamW trains a tiny MLP", kernel="value_and_grad"):
        class MLP(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = [nn.Linear(16, 64), nn.Linear(64, 64), nn.Linear(64, 4)]

            def __call__(self, x):
                for layer in self.layers[:-1]:
                    x = nn.gelu(layer(x))
                return self.layers[-1](x)

        x = mx.array(rng.standard_normal((128, 16)).astype(np.float32))
        y = mx.array((np.array(x) @ rng.standard_normal((16, 4)).astype(np.float32)).argmax(-1))  # 4 classes
        model = MLP()
        mx.eval(model.parameters())

        def loss_fn(model, x, y):
            return nn.losses.cross_entropy(model(x), y, reduction="mean")

        step = nn.value_and_grad(model, loss_fn)
        opt = optim.AdamW(learning_rate=lr(1e-2))
        losses = []
        for _ in range(30):
            loss, grads = step(model, x, y)
            opt.update(model, grads)
            mx.eval(model.parameters(), opt.state, loss)
            losses.append(loss.item())
        flat = tree_flatten(grads)
        if not flat or not all(bool(mx.all(mx.isfinite(g)).item()) for _, g in flat):
            raise AssertionError("a gradient holds inf or nan")
        note("%d gradients finite, norm %.3g" % (len(flat), math.sqrt(sum((g * g).sum().item() for _, g in flat))))
        assert_learns(losses)


run("mlx", main, framework="mlx")
