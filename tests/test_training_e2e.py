"""A small real run: label prompts with the real local model, train every kind, export, route with it."""

from __future__ import annotations

import json

import pytest

from edge_router import CloudLLM, EdgeRouter, ExactMatchClusterer, RouterModel
from edge_router.data.datasets import Prompt, load_jsonl
from edge_router.training.labels import LabelConfig, label_messages, label_prompts, read_rows
from edge_router.training.trainer import calibrate, train

QUESTIONS = [
    ("What is 2 + 3?", ["5"]), ("What is 10 - 4?", ["6"]), ("What is 3 times 3?", ["9"]),
    ("What is the capital of France?", ["Paris"]), ("What colour is grass?", ["green"]),
    ("How many days are in a week?", ["7"]), ("What is 8 + 8?", ["16"]), ("Who wrote Hamlet?", ["Shakespeare"]),
    ("What is the largest planet?", ["Jupiter"]), ("What is 100 / 4?", ["25"]), ("Name a primary colour.", []),
    ("What is frozen water called?", ["ice"]), ("How many legs does a cat have?", ["4"]),
    ("What is 7 - 2?", ["5"]), ("What gas do plants breathe in?", ["carbon dioxide"]),
    ("What is the opposite of hot?", ["cold"]),
]


@pytest.fixture(scope="module")
def label_file(tmp_path_factory, local_llm):
    folder = tmp_path_factory.mktemp("labels")
    prompts_file = folder / "prompts.jsonl"
    prompts_file.write_text("".join(json.dumps({"prompt": q, "answers": a}) + "\n" for q, a in QUESTIONS))
    out = folder / "labels.jsonl"
    config = LabelConfig(k=3, max_tokens=8)
    summary = label_prompts(load_jsonl(prompts_file), out, weak=local_llm, strong=None,
                            clusterer=ExactMatchClusterer(), config=config, progress=False)
    assert summary["labelled"] == len(QUESTIONS) and not summary["strong_sampled"]
    again = label_prompts(load_jsonl(prompts_file), out, weak=local_llm, strong=None,
                          clusterer=ExactMatchClusterer(), config=config, progress=False)
    assert again["labelled"] == 0 and again["already_done"] == len(QUESTIONS), "a second run resumes, not redoes"
    return out


def test_label_rows_hold_what_training_needs(label_file):
    rows = read_rows(label_file)
    assert len(rows) == len(QUESTIONS)
    for row in rows:
        assert len(row["weak"]["samples"]) == 3 and len(row["weak"]["cluster_ids"]) == 3
        assert row["strong"] == {"model": None, "sampled": False, "se": 0.0}
        assert row["label"] in ("strong", "tie") and row["split"] in ("train", "calibration", "test")
    assert any(r["weak"]["correct"] is not None for r in rows)


def test_the_local_greedy_answer_keeps_its_token_statistics(label_file, local_llm):
    """Kept while decoding, they are what teacher forcing the answer gives (up to batch-shape rounding)."""
    rows = [r for r in read_rows(label_file) if r["weak"]["greedy"]]
    assert rows
    for row in rows:
        kept, entropies = row["weak"]["greedy_logprobs"], row["weak"]["greedy_entropies"]
        assert 1 <= len(kept) == len(entropies) <= 8
        assert all(x <= 0 for x in kept) and all(h >= 0 for h in entropies)
    row = rows[0]
    prompt = Prompt(row["dataset"], row["index"], row["prompt"], tuple(row["answers"]), row["kind"])
    forced = local_llm.score_answer(label_messages(prompt), row["weak"]["greedy"], max_tokens=8)
    n = min(len(forced), len(row["weak"]["greedy_logprobs"]))
    assert n >= 1
    assert [s.logprob for s in forced[:n]] == pytest.approx(row["weak"]["greedy_logprobs"][:n], abs=0.35)


UNUSED_CLOUD = CloudLLM(base_url="http://127.0.0.1:9/v1", model="never-called")  # route() answers nothing


def test_train_export_and_route(label_file, tmp_path, embedder, local_llm):
    cards = train(label_file, tmp_path, embedder=embedder)
    assert set(cards) == {"knn", "sw", "mf", "mlp"}
    for kind, card in cards.items():
        assert card["embedder_id"] == embedder.id and card["onnx_parity_max_abs_diff"] <= 1e-5
        assert (tmp_path / f"{kind}.json").is_file()
        router = RouterModel(tmp_path / f"{kind}.onnx", embedder_id=embedder.id, dim=embedder.dim)
        decision = EdgeRouter(local=local_llm, cloud=UNUSED_CLOUD, embedder=embedder,
                              router=router).route("What is 4 + 4?")
        assert decision.models["router"].endswith(f":{kind}") and 0.0 <= decision.score <= 1.0
    table = calibrate(tmp_path / "mlp.onnx", label_file, embedder=embedder, split="train")
    assert len(table) == 9
    router = RouterModel(tmp_path / "mlp.onnx", embedder_id=embedder.id, dim=embedder.dim)
    assert router.card["thresholds"] == table
    edge = EdgeRouter(local=local_llm, embedder=embedder, router=router, cloud_share=0.5)
    assert edge.threshold == pytest.approx(router.threshold_for_share(0.5))


def test_train_and_calibrate_commands(label_file, tmp_path):
    import subprocess
    import sys

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "edge_router", *args], capture_output=True, text=True,
                              timeout=300)

    out = cli("train", "--labels", str(label_file), "--out", str(tmp_path), "--kind", "sw", "mlp")
    assert out.returncode == 0, out.stderr
    assert "sw" in out.stdout and "mlp" in out.stdout and (tmp_path / "mlp.onnx").is_file()
    assert not (tmp_path / "knn.onnx").exists()
    out = cli("calibrate", str(tmp_path / "mlp.onnx"), "--labels", str(label_file), "--split", "train")
    assert out.returncode == 0, out.stderr
    assert "cloud share 30%" in out.stdout and "holds only for prompts like the calibration ones" in out.stdout
    card = json.loads((tmp_path / "mlp.json").read_text())
    assert len(card["thresholds"]) == 9 and card["calibrated_on"]["split"] == "train"
    out = cli("train", "--labels", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path))
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_label_command_samples_every_strong_endpoint(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import TINY_LLM

    from edge_router.testing import CloudServer

    servers = [CloudServer().start(), CloudServer().start()]
    try:
        prompts = tmp_path / "prompts.jsonl"
        prompts.write_text(json.dumps({"prompt": "What is 2 + 3?", "answers": ["5"]}) + "\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_ROUTER_")}
        base = [sys.executable, "-m", "edge_router", "label", "--prompts", str(prompts), "--out",
                str(tmp_path / "l.jsonl"), "--local-model", TINY_LLM, "--k", "2", "--max-tokens", "4",
                "--strong-base-url", servers[0].base_url, servers[1].base_url]
        done = subprocess.run([*base, "--strong-model", "a", "b"], capture_output=True, text=True, env=env,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        row = read_rows(tmp_path / "l.jsonl")[0]
        assert row["strong"]["model"] == "cloud:a" and row["others"][0]["model"] == "cloud:b"
        assert row["label_source"] in ("gold", "se (both answers wrong)") and len(servers[1].requests) >= 1
        mismatched = subprocess.run([*base, "--strong-model", "a"], capture_output=True, text=True, env=env,
                                    timeout=600)
        assert mismatched.returncode == 2 and "one --strong-model per --strong-base-url" in mismatched.stderr
    finally:
        for server in servers:
            server.stop()
