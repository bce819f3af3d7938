# mlx-lm: a tiny Llama built from mlx_lm's ModelArgs trains a few AdamW steps; then mlx_lm.tuner's LoRA layers
# leave its output unchanged until trained, and training only the adapter teaches it a new task.
# Runs after _harness.py (doctor/install/smoke.py build_script): check, run, lr, assert_* come from there.


def main(device):
    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim
    import numpy as np
    from mlx.utils import tree_flatten
    from mlx_lm.models import llama
    from mlx_lm.tuner.utils import linear_to_lora_layers

    vocab = 32
    starts = mx.random.randint(0, vocab, (8, 1))

    def loss_fn(model, tokens):
        logits = model(tokens[:, :-1])
        return nn.losses.cross_entropy(logits, tokens[:, 1:], reduction="mean")

    def train(model, tokens, base_lr, steps=20):
        step = nn.value_and_grad(model, loss_fn)
        opt = optim.AdamW(learning_rate=lr(base_lr))
        losses = []
        for _ in range(steps):
            loss, grads = step(model, tokens)
            opt.update(model, grads)
            mx.eval(model.parameters(), opt.state, loss)
            losses.append(loss.item())
        flat = tree_flatten(grads)
        if not flat or not all(bool(mx.all(mx.isfinite(g)).item()) for _, g in flat):
            raise AssertionError("a gradient holds inf or nan")
        note("%d gradients finite" % len(flat))
        return losses

    with check("tiny mlx_lm Llama trains", kernel="llama.Model"):
        args = llama.ModelArgs(model_type="llama", hidden_size=64, num_hidden_layers=2, intermediate_size=128,
                               num_attention_heads=4, rms_norm_eps=1e-5, vocab_size=vocab, num_key_value_heads=4)
        model = llama.Model(args)
        count_by_one = (starts + mx.arange(33)) % vocab  # t+1 follows t
        assert_learns(train(model, count_by_one, 3e-3))

    with check("LoRA adapter from mlx_lm.tuner trains alone", kernel="linear_to_lora_layers"):
        before = model(count_by_one[:, :-1])
        model.freeze()
        linear_to_lora_layers(model, args.num_hidden_layers, {"rank": 8, "scale": 10.0, "dropout": 0.0})
        trainable = [name for name, _ in tree_flatten(model.trainable_parameters())]
        if not trainable or any("lora_" not in name for name in trainable):
            raise AssertionError("trainable parameters other than the adapter: %s"
                                 % [n for n in trainable if "lora_" not in n][:5])
        assert_close(np.array(model(count_by_one[:, :-1])), np.array(before), atol=1e-5, what="untrained LoRA output")
        frozen = {name: np.array(value) for name, value in tree_flatten(model.parameters()) if "lora_" not in name}
        count_by_two = (starts + 2 * mx.arange(33)) % vocab  # a new task: t+2 follows t
        assert_learns(train(model, count_by_two, 1e-2))
        moved = [name for name, value in tree_flatten(model.parameters())
                 if name in frozen and not np.array_equal(np.array(value), frozen[name])]
        if moved:
            raise AssertionError("frozen base weights changed: %s" % moved[:5])
        note("%d adapter tensors trained, base unchanged" % len(trainable))


run("mlx-lm", main, dist="mlx-lm", framework="mlx")
