# peft: LoRA on a tiny Llama built from a config; only the adapter learns, and it saves and reloads.
# Runs after _harness.py (doctor/install/smoke.py build_script): check, run, lr, tiny_llama_config, assert_* come from there.


def main(device):
    import tempfile

    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import LlamaForCausalLM

    config = tiny_llama_config()
    tokens = counting_batch(vocab=config.vocab_size).to(device)

    with check("LoRA trains a tiny Llama", kernel="lora"):
        base = LlamaForCausalLM(config)
        base_state = {name: value.detach().clone() for name, value in base.state_dict().items()}
        lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, task_type="CAUSAL_LM",
                          target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
        model = get_peft_model(base, lora).to(device)
        trainable = {name for name, param in model.named_parameters() if param.requires_grad}
        if not trainable or any("lora_" not in name for name in trainable):
            raise AssertionError("trainable parameters other than the adapter: %s"
                                 % sorted(n for n in trainable if "lora_" not in n)[:5])
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr(1e-2))
        losses = []
        for step in range(20):
            opt.zero_grad(set_to_none=True)
            loss = model(input_ids=tokens, labels=tokens).loss
            loss.backward()
            with_grad = {name for name, param in model.named_parameters() if param.grad is not None}
            if with_grad != trainable:
                raise AssertionError("gradients on %s, expected exactly the %d adapter parameters"
                                     % (sorted(with_grad ^ trainable)[:5], len(trainable)))
            opt.step()
            losses.append(loss.item())
        note("%d adapter tensors, %d of %d parameters trainable" % (
            len(trainable), sum(p.numel() for p in model.parameters() if p.requires_grad),
            sum(p.numel() for p in model.parameters())))
        assert_finite_grads(model.parameters())
        assert_learns(losses)

    with check("adapter saves and reloads", kernel="save_pretrained"):
        model.eval()
        with torch.no_grad():
            trained = model(input_ids=tokens).logits
            with model.disable_adapter():
                plain = model(input_ids=tokens).logits
        folder = tempfile.mkdtemp(dir=WORKDIR)
        model.save_pretrained(folder)
        fresh = LlamaForCausalLM(config)
        fresh.load_state_dict(base_state)
        reloaded = PeftModel.from_pretrained(fresh, folder).to(device).eval()
        with torch.no_grad():
            again = reloaded(input_ids=tokens).logits
        moved = float((trained - plain).abs().max())
        if moved < 1e-3:
            raise AssertionError("the trained adapter leaves the output unchanged (max change %.3g)" % moved)
        assert_close(again, trained, atol=1e-4, rtol=1e-4, what="reloaded logits")


run("peft", main)
