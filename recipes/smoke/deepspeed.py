# deepspeed: one process, no launcher. On CPU the cpu_adam op must be compatible and load (prebuilt, or JIT-built
# now), and one DeepSpeedCPUAdam step must match torch.optim.AdamW; then deepspeed.initialize with ZeRO stage 2
# trains a tiny model 10 steps (DeepSpeedCPUAdam over gloo on CPU, FusedAdam over NCCL on CUDA) and the loss falls.
# Runs after _harness.py (doctor/install/smoke.py build_script): check, run, lr, tiny_lm, assert_* come from there.


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(device):
    import torch
    import torch.nn.functional as F

    # DeepSpeed picks its accelerator at import: make it the smoke device (MPS is not a DeepSpeed training target,
    # so a Mac runs the CPU path), and give torch.distributed a world of one without a launcher.
    ds_device = "cuda" if device == "cuda" else "cpu"
    os.environ["DS_ACCELERATOR"] = ds_device
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), RANK="0", WORLD_SIZE="1",
                      LOCAL_RANK="0", LOCAL_WORLD_SIZE="1")

    with check("import deepspeed", kernel="deepspeed"):
        import deepspeed
        from deepspeed.accelerator import get_accelerator

        if get_accelerator().device_name() != ds_device:
            raise RuntimeError("DeepSpeed chose the %s accelerator, not %s" % (get_accelerator().device_name(),
                                                                                ds_device))
        note("deepspeed %s on its %s accelerator" % (deepspeed.__version__, ds_device))

    if ds_device == "cpu":
        with check("cpu_adam op is compatible and loads", kernel="cpu_adam"):
            from deepspeed.ops.op_builder import CPUAdamBuilder

            builder = CPUAdamBuilder()
            if not builder.is_compatible(verbose=True):
                raise RuntimeError("CPUAdamBuilder().is_compatible() is False: the cpu_adam op can be neither "
                                   "built nor loaded here")
            builder.load()  # the prebuilt op, or a JIT build (a C++ compiler and torch's headers)
            note("cpu_adam op loaded")

        with check("DeepSpeedCPUAdam step vs torch.optim.AdamW", kernel="cpu_adam"):
            from deepspeed.ops.adam import DeepSpeedCPUAdam

            generator = torch.Generator().manual_seed(SEED)
            start = torch.randn(4096, generator=generator)
            ours, theirs = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
            settings = dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
            ds_opt = DeepSpeedCPUAdam([ours], adamw_mode=True, **settings)
            torch_opt = torch.optim.AdamW([theirs], **settings)
            for _ in range(3):
                grad = torch.randn(4096, generator=generator)
                ours.grad, theirs.grad = grad.clone(), grad.clone()
                ds_opt.step()
                torch_opt.step()
            moved = float((theirs.detach() - start).abs().max())
            if moved < 1e-3:
                raise AssertionError("torch's AdamW moved the parameters by only %.3g" % moved)
            assert_close(ours, theirs, atol=1e-5, rtol=1e-5, what="parameters after 3 steps")

    with check("deepspeed.initialize ZeRO-2 trains", kernel="cpu_adam" if ds_device == "cpu" else "FusedAdam"):
        deepspeed.init_distributed(dist_backend="gloo" if ds_device == "cpu" else "nccl")
        model = tiny_lm()
        if ds_device == "cpu":
            from deepspeed.ops.adam import DeepSpeedCPUAdam as Optimizer
        else:
            from deepspeed.ops.adam import FusedAdam as Optimizer
        optimizer = Optimizer(model.parameters(), lr=lr(3e-3), weight_decay=0.0)
        bf16 = bf16_ok(ds_device)
        config = {"train_batch_size": 8, "train_micro_batch_size_per_gpu": 8, "gradient_accumulation_steps": 1,
                  "zero_optimization": {"stage": 2}, "bf16": {"enabled": bf16}, "steps_per_print": 10 ** 6}
        engine, _, _, _ = deepspeed.initialize(model=model, optimizer=optimizer, config=config)
        note("ZeRO stage %d, %s, %s" % (engine.zero_optimization_stage(), type(optimizer).__name__,
                                        "bf16" if bf16 else "fp32"))
        tokens = counting_batch(vocab=64, batch=8, seq=33).to(engine.device)
        losses = []
        for _ in range(10):
            logits = engine(tokens[:, :-1])
            loss = F.cross_entropy(logits.float().reshape(-1, 64), tokens[:, 1:].reshape(-1))
            engine.backward(loss)
            engine.step()
            norm = engine.get_global_grad_norm()
            if norm is None or not math.isfinite(float(norm)):
                raise AssertionError("the global gradient norm is %s" % norm)
            losses.append(loss.item())
        note("last gradient norm %.3g" % float(norm))
        assert_learns(losses)


run("deepspeed", main)
