# unsloth: a tiny Llama built from a LlamaConfig is saved to a local folder (no hub), loaded back through
# FastLanguageModel.from_pretrained in 4-bit (unsloth's default QLoRA path), given LoRA adapters with
# FastLanguageModel.get_peft_model, and trained 20 steps through unsloth's patched forward and kernels; the loss
# must fall, only the adapter may get gradients. CUDA only: unsloth's own kernels are triton kernels for NVIDIA
# GPUs (its CPU fallback, stock transformers + peft, is turned off here rather than tested silently).
# Runs after _harness.py (doctor/install/smoke.py build_script): check, run, lr, tiny_*, assert_* come from there.


def main(device):
    require_cuda(device, "unsloth")
    import tempfile

    os.environ["UNSLOTH_DISABLE_CPU_FALLBACK"] = "1"

    with check("import unsloth", kernel="unsloth"):
        import unsloth  # before transformers and peft: it patches them on import
        from unsloth import FastLanguageModel

        note("unsloth %s" % unsloth.__version__)

    import torch
    from transformers import LlamaForCausalLM

    with check("FastLanguageModel loads a local tiny Llama in 4-bit", kernel="FastLanguageModel.from_pretrained"):
        words = ["w%d" % i for i in range(60)]
        tokenizer = tiny_tokenizer([" ".join(words)])
        # head_dim 32 (not the 8 of the other scripts): unsloth's RoPE and attention kernels want real head sizes.
        config = tiny_llama_config(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256,
                                   pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                                   eos_token_id=tokenizer.eos_token_id)
        folder = tempfile.mkdtemp(dir=WORKDIR)
        LlamaForCausalLM(config).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        model, tokenizer = FastLanguageModel.from_pretrained(model_name=folder, max_seq_length=64, dtype=None,
                                                             load_in_4bit=True, fix_tokenizer=False)
        note("%s, %s" % (type(model).__name__, next(model.parameters()).device))

    with check("get_peft_model LoRA trains", kernel="get_peft_model"):
        model = FastLanguageModel.get_peft_model(
            model, r=16, lora_alpha=16, lora_dropout=0.0, bias="none", random_state=SEED,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
            use_gradient_checkpointing="unsloth")
        trainable = {name for name, param in model.named_parameters() if param.requires_grad}
        if not trainable or any("lora_" not in name for name in trainable):
            raise AssertionError("trainable parameters other than the adapter: %s"
                                 % sorted(n for n in trainable if "lora_" not in n)[:5])
        first = tokenizer.convert_tokens_to_ids(words[0])
        tokens = (first + counting_batch(vocab=len(words), batch=8, seq=48)).cuda()  # word ids that count up
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr(1e-2))
        model.train()
        losses = []
        for step in range(20):
            opt.zero_grad(set_to_none=True)
            loss = model(input_ids=tokens, labels=tokens).loss
            loss.backward()
            with_grad = {name for name, param in model.named_parameters() if param.grad is not None}
            if not with_grad or not with_grad <= trainable:
                raise AssertionError("gradients outside the adapter: %s" % sorted(with_grad - trainable)[:5])
            opt.step()
            losses.append(loss.item())
        assert_finite_grads(model.parameters())
        assert_learns(losses)


run("unsloth", main)
