# trl: SFTTrainer fine-tunes a tiny Llama on 16 synthetic examples, with a tokenizer built locally; the losses
# it logs must fall.
# Runs after _harness.py (doctor/install/smoke.py build_script): check, run, lr, tiny_*, assert_* come from there.


def main(device):
    import tempfile

    from datasets import Dataset
    from transformers import LlamaForCausalLM
    from trl import SFTConfig, SFTTrainer

    colours = ["red", "green", "blue", "white"]
    animals = ["cat", "dog", "fox", "owl"]
    texts = ["the %s %s sat on the %s mat and the %s %s slept" % (c, a, c, c, a) for c in colours for a in animals]

    with check("SFTTrainer trains a tiny Llama", kernel="SFTTrainer"):
        tokenizer = tiny_tokenizer(texts)
        config = tiny_llama_config(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                                   bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
        model = LlamaForCausalLM(config)
        bf16 = bf16_ok(device)
        args = SFTConfig(output_dir=tempfile.mkdtemp(dir=WORKDIR), max_steps=10, per_device_train_batch_size=8,
                         learning_rate=lr(3e-3), lr_scheduler_type="constant", warmup_steps=0, logging_steps=1,
                         report_to="none", save_strategy="no", max_length=32, packing=False, bf16=bf16, fp16=False,
                         use_cpu=device == "cpu", seed=SEED, disable_tqdm=True, dataloader_num_workers=0)
        trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_dict({"text": texts}),
                             processing_class=tokenizer)
        trainer.train()
        losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
        note("%d logged losses on %s%s" % (len(losses), trainer.args.device, ", bf16" if bf16 else ""))
        if trainer.args.device.type != device:
            raise AssertionError("SFTTrainer trained on %s, the device here is %s" % (trainer.args.device, device))
        if len(losses) < 5:
            raise AssertionError("SFTTrainer logged %d losses over max_steps=10" % len(losses))
        assert_learns(losses)


run("trl", main)
