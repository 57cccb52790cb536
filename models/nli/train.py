"""Fine-tune all-MiniLM-L6-v2 as a 3-way NLI cross-encoder on the CPU (the ``train-nli`` extra: torch).

Input ``[CLS] premise [SEP] hypothesis [SEP]``, mean pooling over the tokens, a linear head to
(entailment, neutral, contradiction). Trains on a seeded sample of the training splits of
``edge_router.data.nli_data`` with AdamW, linear warm-up and decay, batches of similar length. Resumable:
a checkpoint (weights, optimizer, step) is written every ``--checkpoint-every`` steps and on Ctrl-C,
and a rerun with the same arguments continues from it. The final float32 weights go to
``--out`` (``nli-minilm-fp32.pt``) for ``models/nli/build.py``. Run from the repository root:

    python models/nli/train.py --pairs 40000 --epochs 1 --threads 2
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load
from tokenizers import Tokenizer

from edge_router.data.nli_data import LABELS, TRAIN_SPLITS, load_split
from edge_router.files import model_store, registry
from edge_router.progress import ProgressBar
from edge_router.settings import cache_dir

BASE_MODEL = "all-minilm-l6-v2-sentence-transformers"
WORK = cache_dir() / "nli-training"


class Layer(torch.nn.Module):
    def __init__(self, hidden: int, heads: int, inner: int):
        super().__init__()
        self.heads = heads
        self.qkv = torch.nn.Linear(hidden, 3 * hidden)
        self.attn_out = torch.nn.Linear(hidden, hidden)
        self.attn_norm = torch.nn.LayerNorm(hidden, eps=1e-12)
        self.up = torch.nn.Linear(hidden, inner)
        self.down = torch.nn.Linear(inner, hidden)
        self.out_norm = torch.nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = torch.nn.Dropout(0.1)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(h // self.heads) + bias
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, h)
        x = self.attn_norm(x + self.dropout(self.attn_out(context)))
        return self.out_norm(x + self.dropout(self.down(torch.nn.functional.gelu(self.up(x)))))


class CrossEncoder(torch.nn.Module):
    """BERT encoder (MiniLM-L6 sizes), mean pooling, linear head. Inputs as the shipped ONNX model takes them."""

    def __init__(self, vocab: int = 30522, hidden: int = 384, layers: int = 6, heads: int = 12, inner: int = 1536):
        super().__init__()
        self.words = torch.nn.Embedding(vocab, hidden)
        self.positions = torch.nn.Embedding(512, hidden)
        self.types = torch.nn.Embedding(2, hidden)
        self.embed_norm = torch.nn.LayerNorm(hidden, eps=1e-12)
        self.layers = torch.nn.ModuleList(Layer(hidden, heads, inner) for _ in range(layers))
        self.head = torch.nn.Linear(hidden, len(LABELS))
        self.dropout = torch.nn.Dropout(0.1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor):
        positions = torch.arange(input_ids.shape[1]).unsqueeze(0)
        x = self.embed_norm(self.words(input_ids) + self.positions(positions) + self.types(token_type_ids))
        x = self.dropout(x)
        mask = attention_mask.to(x.dtype)
        bias = ((1.0 - mask) * -10000.0)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, bias)
        pooled = (x * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
        return self.head(self.dropout(pooled))


def load_base(model: CrossEncoder, weights: dict[str, np.ndarray]) -> None:
    """Copy the sentence-transformers BERT weights into ``model`` (the head stays freshly initialised)."""
    t = {k: torch.from_numpy(v) for k, v in weights.items()}
    with torch.no_grad():
        model.words.weight.copy_(t["embeddings.word_embeddings.weight"])
        model.positions.weight.copy_(t["embeddings.position_embeddings.weight"])
        model.types.weight.copy_(t["embeddings.token_type_embeddings.weight"])
        model.embed_norm.weight.copy_(t["embeddings.LayerNorm.weight"])
        model.embed_norm.bias.copy_(t["embeddings.LayerNorm.bias"])
        for i, layer in enumerate(model.layers):
            p = f"encoder.layer.{i}."
            qkv = ("query", "key", "value")
            layer.qkv.weight.copy_(torch.cat([t[f"{p}attention.self.{n}.weight"] for n in qkv]))
            layer.qkv.bias.copy_(torch.cat([t[f"{p}attention.self.{n}.bias"] for n in qkv]))
            layer.attn_out.weight.copy_(t[f"{p}attention.output.dense.weight"])
            layer.attn_out.bias.copy_(t[f"{p}attention.output.dense.bias"])
            layer.attn_norm.weight.copy_(t[f"{p}attention.output.LayerNorm.weight"])
            layer.attn_norm.bias.copy_(t[f"{p}attention.output.LayerNorm.bias"])
            layer.up.weight.copy_(t[f"{p}intermediate.dense.weight"])
            layer.up.bias.copy_(t[f"{p}intermediate.dense.bias"])
            layer.down.weight.copy_(t[f"{p}output.dense.weight"])
            layer.down.bias.copy_(t[f"{p}output.dense.bias"])
            layer.out_norm.weight.copy_(t[f"{p}output.LayerNorm.weight"])
            layer.out_norm.bias.copy_(t[f"{p}output.LayerNorm.bias"])


def base_files() -> tuple[dict[str, np.ndarray], Tokenizer]:
    archive = model_store.resolve(registry.get_spec(BASE_MODEL), progress=True)
    with zipfile.ZipFile(archive) as zf:
        weights = load(zf.read("model.safetensors"))
        tokenizer = Tokenizer.from_str(zf.read("tokenizer.json").decode())
    return weights, tokenizer


def pair_tokenizer(tokenizer: Tokenizer, max_tokens: int) -> Tokenizer:
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_tokens, strategy="longest_first")
    return tokenizer


def encode(tokenizer: Tokenizer, pairs) -> list[tuple[list[int], list[int], int]]:
    encodings = tokenizer.encode_batch([(p.premise, p.hypothesis) for p in pairs])
    return [(e.ids, e.type_ids, LABELS.index(p.label)) for e, p in zip(encodings, pairs)]


def batches(rows, batch_size: int, seed: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (less padding), batch order shuffled."""
    rng = random.Random(seed)
    order = list(range(len(rows)))
    rng.shuffle(order)
    chunks = [order[i:i + batch_size * 50] for i in range(0, len(order), batch_size * 50)]
    out = []
    for chunk in chunks:
        chunk.sort(key=lambda i: len(rows[i][0]))
        out += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(out)
    return out


def collate(rows, indices):
    width = max(len(rows[i][0]) for i in indices)
    ids = torch.zeros(len(indices), width, dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for r, i in enumerate(indices):
        n = len(rows[i][0])
        ids[r, :n] = torch.tensor(rows[i][0])
        types[r, :n] = torch.tensor(rows[i][1])
        mask[r, :n] = 1
    return ids, mask, types, torch.tensor([rows[i][2] for i in indices])


def accuracy(model: CrossEncoder, rows, batch_size: int = 64) -> float:
    model.eval()
    right = 0
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            ids, mask, types, gold = collate(rows, list(range(start, min(start + batch_size, len(rows)))))
            right += int((model(ids, mask, types).argmax(-1) == gold).sum())
    model.train()
    return right / len(rows)


def training_pairs(count: int, seed: int):
    pool = [pair for split in TRAIN_SPLITS for pair in load_split(split)]
    random.Random(seed).shuffle(pool)
    return pool[:count], len(pool)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=40000, help="training pairs sampled from the pool")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--work", type=Path, default=WORK, help="checkpoint folder")
    parser.add_argument("--out", type=Path, default=None,
                        help="final float32 weights (default: WORK/nli-minilm-fp32.pt)")
    parser.add_argument("--init", type=Path, default=None, help="start from these weights (a further epoch)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.work.mkdir(parents=True, exist_ok=True)
    out = args.out or args.work / "nli-minilm-fp32.pt"

    weights, tokenizer = base_files()
    tokenizer = pair_tokenizer(tokenizer, args.max_tokens)
    pairs, pool_size = training_pairs(args.pairs, args.seed)
    rows = encode(tokenizer, pairs)
    held_out = encode(tokenizer, load_split("mnli-dev-mismatched")[:1000])
    plan = [b for epoch in range(math.ceil(args.epochs)) for b in batches(rows, args.batch_size, args.seed + epoch)]
    plan = plan[: int(len(plan) * args.epochs / math.ceil(args.epochs))]

    model = CrossEncoder()
    load_base(model, weights)
    if args.init is not None:
        model.load_state_dict(torch.load(args.init))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = max(1, len(plan) // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (len(plan) - s) / (len(plan) - warmup))))
    checkpoint = args.work / "checkpoint.pt"
    step, seconds = 0, 0.0
    if checkpoint.exists():
        state = torch.load(checkpoint)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        step, seconds = state["step"], state["seconds"]
        print(f"resuming at step {step}/{len(plan)}", file=sys.stderr)

    def save() -> None:
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "schedule": schedule.state_dict(), "step": step, "seconds": seconds + time.monotonic() - started}
        torch.save(state, checkpoint.with_suffix(".tmp"))
        checkpoint.with_suffix(".tmp").replace(checkpoint)

    print(f"{len(rows)} training pairs from a pool of {pool_size}, {len(plan)} steps of {args.batch_size}, "
          f"max {args.max_tokens} tokens, {args.threads} threads", file=sys.stderr)
    bar = ProgressBar(len(plan), label="nli training", unit="steps", min_interval=5.0)
    bar.update(step)
    started = time.monotonic()
    model.train()
    loss_avg = None
    try:
        while step < len(plan):
            ids, mask, types, gold = collate(rows, plan[step])
            loss = torch.nn.functional.cross_entropy(model(ids, mask, types), gold)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            loss_avg = float(loss) if loss_avg is None else 0.98 * loss_avg + 0.02 * float(loss)
            bar.label = f"nli training loss {loss_avg:.3f}"
            bar.update(1)
            if step % args.checkpoint_every == 0:
                save()
    except KeyboardInterrupt:
        save()
        print(f"\ninterrupted; checkpoint at step {step}", file=sys.stderr)
        return 130
    save()
    bar.close()
    total = seconds + time.monotonic() - started
    acc = accuracy(model, held_out)
    torch.save(model.state_dict(), out)
    summary = {"init": str(args.init) if args.init else BASE_MODEL, "pairs": len(rows), "pool": pool_size,
               "epochs": args.epochs, "steps": len(plan),
               "batch_size": args.batch_size, "lr": args.lr, "max_tokens": args.max_tokens, "seed": args.seed,
               "threads": args.threads, "train_seconds": round(total, 1),
               "mnli_mismatched_first_1000_accuracy": round(acc, 4), "train_splits": list(TRAIN_SPLITS)}
    (args.work / "training.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
