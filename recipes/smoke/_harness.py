"""aidoctor's smoke-test harness, prepended to each recipes/smoke/<tool>.py before it runs.

The combined script runs in the TARGET Python (the training environment, which
has the tool and torch but not aidoctor), as a file in an empty temporary
folder. This part imports only the standard library; torch, numpy and mlx are
imported inside the functions that need them, so a missing or broken torch
shows up as a failed check, never as a harness crash.

Protocol: every line the runner reads starts with `AIDOCTOR-SMOKE ` and holds
one JSON object, flushed at once so a crash keeps what came before:

    {"begin": NAME, "kernel": K}                      a check starts
    {"check": NAME, "ok": true, "seconds": S, "detail": D, "kernel": K}   (the "device" check adds "device")
    {"check": NAME, "ok": false, ..., "error": "Type: message", "trace": "..."}
    {"result": "pass"|"fail", "tool": T, "device": DEV, "failed": NAME|null, "kernel": K|null,
     "error": E|null, "versions": {dist: version}, "seconds": S}

The first failed check ends the run (later checks build on earlier ones); the
exit status is 0 on pass and 1 on fail. Environment:
AIDOCTOR_SMOKE_DEVICE=cpu|cuda|mps forces the device, AIDOCTOR_SMOKE_LR_SCALE
multiplies every learning rate (0 proves that a run which learns nothing fails).
Models are built from configs: nothing is downloaded.
"""

import contextlib
import json
import math
import os
import random
import sys
import time
import traceback

PREFIX = "AIDOCTOR-SMOKE "
SEED = 0
LR_SCALE = float(os.environ.get("AIDOCTOR_SMOKE_LR_SCALE") or 1.0)
# Tempdirs, caches and output folders land next to the script, never in a source tree.
WORKDIR = os.path.dirname(os.path.abspath(__file__))
os.chdir(WORKDIR)

# Never a hub download or a telemetry call: every model here is built from a config.
os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1",
                  UNSLOTH_DISABLE_STATISTICS="1", TOKENIZERS_PARALLELISM="false")

_state = {"device": None, "current": None}


class CheckFailed(Exception):
    """Raised by `check` after it has recorded a failure; `run` turns it into the final line."""

    def __init__(self, name, kernel, error):
        super().__init__(error)
        self.name, self.kernel, self.error = name, kernel, error


def emit(record):
    sys.stdout.write(PREFIX + json.dumps(record, default=str) + "\n")
    sys.stdout.flush()


def describe(exc):
    """`Type: first line of the message`, the one line a person reads first."""
    lines = str(exc).strip().splitlines()
    return ("%s: %s" % (type(exc).__name__, lines[0]) if lines else type(exc).__name__)[:500]


def note(text):
    """Add to the running check's detail (the helpers below call this)."""
    record = _state["current"]
    if record is not None:
        record["detail"] = "%s; %s" % (record["detail"], text) if record["detail"] else text


def lr(base):
    """A learning rate, scaled by AIDOCTOR_SMOKE_LR_SCALE."""
    return base * LR_SCALE


def _sync():
    # Asynchronous CUDA errors surface at the next sync: make them belong to the check that caused them.
    if _state["device"] == "cuda" and "torch" in sys.modules:
        sys.modules["torch"].cuda.synchronize()
    elif _state["device"] == "mps" and "torch" in sys.modules:
        sys.modules["torch"].mps.synchronize()


@contextlib.contextmanager
def check(name, kernel=None):
    """Record one named check: ok, seconds, detail, and on an exception its type and message."""
    if _state["current"] is not None:
        raise RuntimeError("checks do not nest: %r is inside %r" % (name, _state["current"]["check"]))
    record = {"check": name, "ok": False, "seconds": 0.0, "detail": None, "kernel": kernel}
    emit({"begin": name, "kernel": kernel})
    _state["current"] = record
    started = time.perf_counter()
    try:
        yield record
        _sync()
    except Exception as exc:
        record["seconds"] = round(time.perf_counter() - started, 3)
        record["error"] = describe(exc)
        record["trace"] = traceback.format_exc()[-4000:]
        _state["current"] = None
        emit(record)
        raise CheckFailed(name, kernel, record["error"]) from exc
    record["ok"] = True
    record["seconds"] = round(time.perf_counter() - started, 3)
    _state["current"] = None
    emit(record)


# ------------------------------------------------------------------ assertions


def assert_learns(losses, min_drop=0.3):
    """The last loss is at least `min_drop` (a fraction) below the first, and every loss is finite."""
    losses = [float(x) for x in losses]
    if len(losses) < 2:
        raise AssertionError("need at least two losses to tell whether it learns, got %d" % len(losses))
    for step, value in enumerate(losses):
        if not math.isfinite(value):
            raise AssertionError("loss is %s at step %d of %d" % (value, step, len(losses)))
    first, last = losses[0], losses[-1]
    drop = (first - last) / abs(first) if first else 0.0
    note("loss %.4g -> %.4g (%+.0f%%) over %d steps" % (first, last, -100 * drop, len(losses)))
    if drop < min_drop:
        raise AssertionError("loss fell %.0f%% (%.4g -> %.4g) over %d steps; a working install falls >= %.0f%%"
                             % (100 * drop, first, last, len(losses), 100 * min_drop))


def assert_finite_grads(parameters):
    """Every gradient that exists is finite, and at least one exists. Returns how many there are."""
    count, total = 0, 0.0
    for param in parameters:
        grad = getattr(param, "grad", None)
        if grad is None:
            continue
        count += 1
        grad = grad.detach().float()
        if not bool(grad.isfinite().all()):
            raise AssertionError("a gradient of shape %s holds inf or nan" % (tuple(grad.shape),))
        total += float(grad.pow(2).sum())
    if count == 0:
        raise AssertionError("no parameter has a gradient")
    note("%d gradients finite, norm %.3g" % (count, math.sqrt(total)))
    return count


def assert_close(actual, reference, atol, rtol=0.0, what="result"):
    """|actual - reference| <= atol + rtol * |reference| everywhere; notes the max error."""
    if hasattr(actual, "detach"):  # torch
        a = actual.detach().float().cpu()
        r = reference.detach().float().cpu().to(a.device)
        if tuple(a.shape) != tuple(r.shape):
            raise AssertionError("%s has shape %s, the reference %s" % (what, tuple(a.shape), tuple(r.shape)))
        err = (a - r).abs()
        bad = ~(err <= atol + rtol * r.abs())  # nan compares false: counted as bad
        max_err, n_bad, n = float(err.max()) if err.numel() else 0.0, int(bad.sum()), err.numel()
    else:  # numpy, or anything numpy can read (mlx arrays)
        import numpy as np

        a = np.asarray(actual, dtype=np.float64)
        r = np.asarray(reference, dtype=np.float64)
        if a.shape != r.shape:
            raise AssertionError("%s has shape %s, the reference %s" % (what, a.shape, r.shape))
        err = np.abs(a - r)
        bad = ~(err <= atol + rtol * np.abs(r))
        max_err, n_bad, n = float(err.max()) if err.size else 0.0, int(bad.sum()), err.size
    note("%s max abs error %.3g (atol %.3g, rtol %.3g)" % (what, max_err, atol, rtol))
    if n_bad:
        raise AssertionError("%s differs from the reference at %d of %d elements, max abs error %.3g "
                             "(atol %.3g, rtol %.3g)" % (what, n_bad, n, max_err, atol, rtol))
    return max_err


def bf16_ok(device):
    """Whether to train in bf16: CUDA compute capability 8.0+ (torch.cuda.is_bf16_supported() also says yes on
    older GPUs, where bf16 is emulated and many tools' kernels refuse it)."""
    if device != "cuda":
        return False
    import torch

    return torch.cuda.get_device_capability()[0] >= 8


def require_cuda(device, kernel):
    """For tools whose kernels exist only for NVIDIA GPUs: fail here, saying so, on any other device."""
    with check("cuda device", kernel=kernel):
        if device != "cuda":
            raise RuntimeError("no CUDA device: %s's kernels need an NVIDIA GPU, and the device here is %s"
                               % (kernel, device))


# ------------------------------------------------------------------ device, seed, run


def pick_device(framework="torch"):
    forced = (os.environ.get("AIDOCTOR_SMOKE_DEVICE") or "").strip().lower() or None
    if forced not in (None, "cpu", "cuda", "mps"):
        raise ValueError("AIDOCTOR_SMOKE_DEVICE=%s: expected cpu, cuda or mps" % forced)
    if framework == "mlx":
        import mlx.core as mx

        backend = {"cuda": getattr(mx, "cuda", None), "mps": getattr(mx, "metal", None)}
        gpu = {name: bool(module is not None and module.is_available()) for name, module in backend.items()}
        if forced in ("cuda", "mps") and not gpu[forced]:
            raise RuntimeError("AIDOCTOR_SMOKE_DEVICE=%s but this mlx has no %s backend"
                               % (forced, "CUDA" if forced == "cuda" else "Metal"))
        device = forced or next((name for name in ("cuda", "mps") if gpu[name]), "cpu")
        mx.set_default_device(mx.cpu if device == "cpu" else mx.gpu)
        note("mlx %s" % mx.default_device())
        return device
    import torch

    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if forced == "cuda" and not cuda:
        raise RuntimeError("AIDOCTOR_SMOKE_DEVICE=cuda but torch.cuda.is_available() is False (torch %s, built "
                           "for CUDA %s)" % (torch.__version__, torch.version.cuda))
    if forced == "mps" and not mps:
        raise RuntimeError("AIDOCTOR_SMOKE_DEVICE=mps but torch.backends.mps.is_available() is False")
    device = forced or ("cuda" if cuda else "mps" if mps else "cpu")
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        note("cuda: %s (compute capability %d.%d), torch %s built for CUDA %s"
             % (props.name, props.major, props.minor, torch.__version__, torch.version.cuda))
    else:
        note("%s, torch %s" % (device, torch.__version__))
    return device


def seed_everything(framework="torch"):
    random.seed(SEED)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(SEED)
    if framework == "mlx":
        import mlx.core as mx

        mx.random.seed(SEED)
    else:
        import torch

        torch.manual_seed(SEED)  # every device too


def versions(dists):
    from importlib import metadata

    out = {}
    for dist in dists:
        try:
            out[dist] = metadata.version(dist)
        except Exception:
            out[dist] = None
    return out


def run(tool, body, dist=None, framework="torch"):
    """Pick the device, seed, run `body(device)`, print the final line and exit 0 (pass) or 1 (fail)."""
    started = time.perf_counter()
    final = {"result": "fail", "tool": tool, "device": None, "failed": None, "kernel": None, "error": None}
    try:
        with check("device") as record:
            device = _state["device"] = record["device"] = final["device"] = pick_device(framework)
        seed_everything(framework)
        body(device)
        final["result"] = "pass"
    except CheckFailed as exc:
        final.update(failed=exc.name, kernel=exc.kernel, error=exc.error)
    except Exception as exc:  # outside any check: a bug in the script itself, reported as such
        final["error"] = describe(exc)
        traceback.print_exc()
    dists = ["mlx" if framework == "mlx" else "torch", dist or tool]
    final["versions"] = versions(dict.fromkeys(dists))
    final["seconds"] = round(time.perf_counter() - started, 3)
    emit(final)
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit: some tools leave threads or process groups (deepspeed, torch.compile workers) that hang a
    # normal interpreter exit; the result is already out.
    os._exit(0 if final["result"] == "pass" else 1)


# ------------------------------------------------------------------ a tiny model shared by the scripts


def tiny_lm(vocab=64, dim=64, heads=4, layers=2, attention=None):
    """A tiny causal transformer LM (torch). `attention(q, k, v)` takes and returns [batch, seq, heads, head_dim]
    tensors and must be causal; the default is torch's scaled_dot_product_attention."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    def sdpa(q, k, v):
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
        return out.transpose(1, 2)

    attend = attention or sdpa

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
            self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
            self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

        def forward(self, x):
            b, s, _ = x.shape
            q, k, v = self.qkv(self.norm1(x)).view(b, s, 3, heads, dim // heads).unbind(2)
            x = x + self.proj(attend(q, k, v).reshape(b, s, dim))
            return x + self.mlp(self.norm2(x))

    class TinyLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, dim)
            self.pos = nn.Parameter(torch.randn(1, 256, dim) * 0.02)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, vocab)

        def forward(self, tokens):
            x = self.embed(tokens) + self.pos[:, : tokens.shape[1]]
            for block in self.blocks:
                x = block(x)
            return self.head(self.norm(x))

    return TinyLM()


def train_lm(model, device, steps=20, base_lr=3e-3, vocab=64, batch=8, seq=32, autocast=None, step_fn=None):
    """AdamW on one fixed batch of random next-token data; returns the losses (gradients checked each step).
    `autocast` is a dtype (e.g. torch.bfloat16) to run the forward in; `step_fn(model, opt, tokens)` replaces
    the default step (torch.compile passes one)."""
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(SEED)
    tokens = torch.randint(0, vocab, (batch, seq + 1), generator=generator).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr(base_lr))

    def default_step(model, opt, tokens):
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device, dtype=autocast, enabled=autocast is not None):
            logits = model(tokens[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, vocab), tokens[:, 1:].reshape(-1))
        loss.backward()
        return loss

    losses = []
    for step in range(steps):
        loss = (step_fn or default_step)(model, opt, tokens)
        if step == steps - 1:
            assert_finite_grads(model.parameters())
        elif not all(bool(p.grad.isfinite().all()) for p in model.parameters() if p.grad is not None):
            raise AssertionError("a gradient holds inf or nan at step %d" % step)
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def counting_batch(vocab=128, batch=8, seq=32):
    """Token rows that count up from random starts (t+1 follows t, mod vocab): learnable in a few steps."""
    import torch

    generator = torch.Generator().manual_seed(SEED)
    starts = torch.randint(0, vocab, (batch, 1), generator=generator)
    return (starts + torch.arange(seq)) % vocab


def tiny_llama_config(**overrides):
    """A Llama config small enough to train on a CPU in seconds (transformers; nothing downloaded)."""
    from transformers import LlamaConfig

    # initializer_range 0.2, not 0.02: with a frozen base (LoRA) the logits of a 32-wide model initialised at
    # 0.02 stay within about +-0.6, and the loss cannot fall far below ln(vocab) whatever the adapter learns.
    values = dict(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=4, max_position_embeddings=128, tie_word_embeddings=False,
                  initializer_range=0.2)
    values.update(overrides)
    return LlamaConfig(**values)


def tiny_tokenizer(texts):
    """A word-level tokenizer over `texts`, built locally (tokenizers + transformers; nothing downloaded)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    special = ["<pad>", "<unk>", "<s>", "</s>"]
    words = sorted({word for text in texts for word in text.split()})
    vocab = {token: i for i, token in enumerate(special + words)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>",
                                   bos_token="<s>", eos_token="</s>")
