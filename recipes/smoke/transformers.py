# transformers: a tiny Llama built from a config trains a few AdamW steps (forward, loss and backward are its own).
# Runs after _harness.py (doctor/install/smoke.py build_script): check, run, lr, tiny_llama_config, assert_* come from there.


def main(device):
    import torch
    from transformers import LlamaForCausalLM

    config = tiny_llama_config()
    tokens = counting_batch(vocab=config.vocab_size).to(device)

    with check("tiny Llama trains", kernel="LlamaForCausalLM"):
        model = LlamaForCausalLM(config).to(device)
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=lr(3e-3))
        losses = []
        for step in range(15):
            opt.zero_grad(set_to_none=True)
            loss = model(input_ids=tokens, labels=tokens).loss
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert_finite_grads(model.parameters())
        assert_learns(losses)

    with check("loss matches a reference cross-entropy", kernel="cross_entropy"):
        model.eval()
        with torch.no_grad():
            out = model(input_ids=tokens, labels=tokens)
            logits = out.logits[:, :-1].float().reshape(-1, config.vocab_size)
            reference = torch.nn.functional.cross_entropy(logits, tokens[:, 1:].reshape(-1))
        assert_close(out.loss, reference, atol=1e-4, rtol=1e-4, what="loss")


run("transformers", main)
