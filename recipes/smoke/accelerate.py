# accelerate: Accelerator().prepare puts a tiny model, its optimizer and a DataLoader on the device; a few steps
# through accelerator.backward must lower the loss.
# Runs after _harness.py (doctor/install/smoke.py build_script): check, run, lr, tiny_lm, assert_* come from there.


def main(device):
    import torch
    import torch.nn.functional as F
    from accelerate import Accelerator

    with check("Accelerator().prepare", kernel="prepare"):
        bf16 = bf16_ok(device)
        accelerator = Accelerator(cpu=device == "cpu", mixed_precision="bf16" if bf16 else "no")
        if accelerator.device.type != device:
            raise AssertionError("Accelerator chose %s, the device here is %s" % (accelerator.device, device))
        rows = counting_batch(vocab=64, batch=8, seq=33)
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(rows), batch_size=8)
        model = tiny_lm(vocab=64)
        opt = torch.optim.AdamW(model.parameters(), lr=lr(3e-3))
        model, opt, loader = accelerator.prepare(model, opt, loader)
        note("%s, mixed precision %s, %d process(es)" % (accelerator.device, accelerator.mixed_precision,
                                                         accelerator.num_processes))

    with check("training steps through accelerator.backward", kernel="backward"):
        losses = []
        for _ in range(20):
            for (batch,) in loader:
                opt.zero_grad(set_to_none=True)
                logits = model(batch[:, :-1])
                loss = F.cross_entropy(logits.float().reshape(-1, 64), batch[:, 1:].reshape(-1))
                accelerator.backward(loss)
                opt.step()
                losses.append(float(accelerator.gather(loss.detach()).mean()))
        assert_finite_grads(model.parameters())
        assert_learns(losses)


run("accelerate", main)
