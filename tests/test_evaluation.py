"""Evaluation: recorded outcomes, router scoring, random/oracle baselines, cost, the judge, the cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_router.backends.cloud_llm import CloudLLM
from edge_router.data import datasets, eval_data
from edge_router.data.embedding_cache import EmbeddingCache
from edge_router.data.local_outcomes import stratified
from edge_router.errors import InvalidInputError
from edge_router.evaluation.judge import judge
from edge_router.evaluation.runner import ORACLE, RANDOM, Tokens, evaluate, score_summary

ROUTELLM = datasets.data_dir() / eval_data.ROUTELLM
needs_data = pytest.mark.skipif(not ROUTELLM.is_dir(), reason="shared data folder with routellm_evals/ is absent")


def _toy_set(strong, weak, texts=True) -> eval_data.EvalSet:
    n = len(strong)
    return eval_data.EvalSet(
        benchmark="toy", pair="gpt4-mixtral", strong_model="s", weak_model="w", keys=[f"toy/{i}" for i in range(n)],
        prompts=[f"question {i}" for i in range(n)], strong=np.array(strong, float), weak=np.array(weak, float),
        strong_texts=[f"strong {i}" if texts else None for i in range(n)],
        weak_texts=[f"weak {i}" if texts else None for i in range(n)], dropped_contaminated=0, outcome="accuracy")


def test_oracle_bounds_every_router_and_random_sits_near_the_diagonal():
    rng = np.random.default_rng(1)
    strong = (rng.random(400) < 0.8).astype(float)
    weak = (rng.random(400) < 0.5).astype(float)
    good = strong - weak + rng.normal(0, 0.5, 400)
    result = evaluate(_toy_set(strong, weak), {"good": good, "reversed": -good}, seeds=12)
    routers = result["routers"]
    assert routers[ORACLE]["apgr"] >= routers["good"]["apgr"] > routers[RANDOM]["apgr"] > routers["reversed"]["apgr"]
    assert routers[RANDOM]["apgr"] == pytest.approx(0.5, abs=0.05)
    assert routers[RANDOM]["seeds"] == 12 and routers[RANDOM]["spread"]["apgr"] > 0
    assert routers["good"]["cpt50"] < routers[RANDOM]["cpt50"]
    assert len(routers["good"]["curve"]["pgr"]) == 101


def test_cost_grows_with_the_share_sent_to_the_strong_model():
    strong, weak = [1, 1, 1, 0], [0, 0, 1, 0]
    tokens = Tokens(np.full(4, 100.0), np.full(4, 10.0), np.full(4, 10.0))
    result = evaluate(_toy_set(strong, weak), {"oracle_like": np.array([1, 1, 0, 0.0])}, tokens=tokens)
    r = result["routers"]["oracle_like"]
    assert r["cpt80"] == pytest.approx(0.4)
    # 2 queries to the strong side at CPT(80%) -> round(0.4 * 4) = 2
    expected = (2 * (100 * 10 + 10 * 30) + 2 * (100 * 0.6 + 10 * 0.6)) / 1e6
    assert r["cost_at_cpt80_usd"] == pytest.approx(expected)


def test_judge_shares_picks_and_skips_calls_when_answers_agree(cloud_server):
    toy = _toy_set([1, 1, 1], [0, 0, 0])
    cloud_server.answer = lambda messages: "2"  # always the second distinct answer
    masks = {"a": np.array([True, False, True]), "b": np.array([False, False, True]), "c": np.array([True] * 3)}
    result = judge(toy, masks, CloudLLM(base_url=cloud_server.base_url, api_key="k", model="judge"))
    # q0: answers strong (a, c) then weak (b): pick 2 -> b. q1: weak (a, b), strong (c): pick -> c.
    # q2: everyone strong: no call, all picked.
    assert result["judge_calls"] == 2
    assert result["scores"] == pytest.approx({"a": 100 / 3, "b": 200 / 3, "c": 200 / 3})
    assert "Best answer number" in cloud_server.requests[0]["body"]["messages"][-1]["content"]


def test_judge_counts_unnumbered_replies_and_refuses_sets_without_texts(cloud_server):
    cloud_server.answer = lambda messages: "the first one"
    masks = {"a": np.array([True]), "b": np.array([False])}
    client = CloudLLM(base_url=cloud_server.base_url, api_key="k", model="judge")
    result = judge(_toy_set([1], [0]), masks, client)
    assert result["unparsed_replies"] == 1 and result["scores"] == {"a": 0.0, "b": 0.0}
    with pytest.raises(InvalidInputError, match="no recorded answer texts"):
        judge(_toy_set([1], [0], texts=False), masks, client)


def test_embedding_cache_embeds_each_prompt_once(embedder, tmp_path):
    cache = EmbeddingCache(embedder, tmp_path)
    first = cache.embed(["alpha", "beta", "alpha"])
    again = EmbeddingCache(embedder, tmp_path)
    second = again.embed(["beta", "gamma"])
    assert (cache.misses, again.hits, again.misses) == (2, 1, 1)
    np.testing.assert_allclose(second[0], first[1], atol=1e-6)
    np.testing.assert_allclose(second[1], embedder.embed(["gamma"])[0], atol=1e-5)


def test_stratified_sample_keeps_the_share_of_every_group():
    prompts = [datasets.Prompt("mmlu", i, f"q{i}", ("A",), "choice", "x" if i < 30 else "y") for i in range(40)]
    picked = stratified(prompts, 0.25, seed=3)
    assert sum(p.group == "x" for p in picked) == 8 and sum(p.group == "y" for p in picked) == 3
    assert picked == stratified(prompts, 0.25, seed=3)


@needs_data
def test_recorded_pairs_match_the_published_accuracies_and_drop_contaminated_prompts():
    gsm8k, mmlu, mt = (eval_data.load(b) for b in eval_data.BENCHMARKS)
    assert (len(gsm8k), gsm8k.dropped_contaminated) == (1307, 12)
    assert (len(mmlu), mmlu.dropped_contaminated) == (14037, 5)
    assert (len(mt), mt.dropped_contaminated) == (72, 8)
    assert gsm8k.strong.mean() == pytest.approx(0.858, abs=0.005)
    assert gsm8k.weak.mean() == pytest.approx(0.637, abs=0.005)
    assert mt.strong.mean() > mt.weak.mean() > 1
    assert all(t for t in mt.strong_texts + mt.weak_texts)
    with pytest.raises(InvalidInputError, match="no MT-Bench"):
        eval_data.load("mt-bench", "local-gpt4")


@needs_data
def test_mmlu_keys_line_up_with_the_gold_answers():
    by_index = {p.index: p for p in datasets.load("mmlu")}
    mmlu = eval_data.load("mmlu")
    for key, prompt in list(zip(mmlu.keys, mmlu.prompts))[::997]:
        assert by_index[int(key.split("/")[1])].question == prompt
    aux = {p.question for p in datasets.load("mmlu-aux")}
    assert not aux & set(mmlu.prompts)


def test_local_outcomes_are_paired_scored_appended_and_resumed(local_llm, tmp_path, monkeypatch):
    from edge_router.data import local_outcomes

    monkeypatch.setattr(local_outcomes, "MAX_TOKENS", {"math": 8, "choice": 4})
    monkeypatch.setattr(local_llm, "repeat_penalty", 1.0)  # answer_many decodes without one
    prompts = [datasets.Prompt("gsm8k", 7, "What is 2 + 2?", ("4",), "math"),
               datasets.Prompt("mmlu", 3, "2 + 2 =\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:", ("B",), "choice", "math")]
    work = {local_llm.id: tmp_path / "outcomes.jsonl"}
    first = local_outcomes.answer_paired(prompts[:1], [local_llm], work)
    again = local_outcomes.answer_paired(prompts, [local_llm], work, chunk=1)
    rows = local_outcomes.read_outcomes(work[local_llm.id])
    assert (first, again) == (1, 1)
    assert set(rows) == {"gsm8k/7", "mmlu/3"} and rows["mmlu/3"]["subject"] == "math"
    assert rows["gsm8k/7"]["correct"] == datasets.is_correct(rows["gsm8k/7"]["answer"], prompts[0])
    assert rows["mmlu/3"]["completion_tokens"] <= 4 and rows["gsm8k/7"]["model"] == local_llm.id
    assert rows["mmlu/3"]["slots"] == local_outcomes.SLOTS["choice"] and rows["mmlu/3"]["ms"] > 0
    gsm8k = rows["gsm8k/7"]
    assert len(gsm8k["logprobs"]) == len(gsm8k["entropies"]) == min(gsm8k["completion_tokens"], 32)


@needs_data
def test_eval_command_end_to_end_on_mt_bench(embedder, tmp_path, capsys):
    from edge_router.cli import main
    from edge_router.training.onnx_export import linear_router

    rng = np.random.default_rng(0)
    router = linear_router(tmp_path / "r.onnx", rng.normal(size=embedder.dim).astype(np.float32), 0.0,
                           embedder_id=embedder.id)
    out = tmp_path / "eval.json"
    assert main(["eval", "--benchmark", "mt-bench", "--router", str(router), "--json", str(out), "--seeds", "3"]) == 0
    printed = capsys.readouterr().out
    assert "mt-bench (gpt4-mixtral, 72 questions, 8 contaminated dropped)" in printed
    result = json.loads(out.read_text())[0]
    assert set(result["routers"]) == {"r", "oracle", "random"} and result["routers"]["random"]["seeds"] == 3
    assert result["routers"]["r"]["cost_at_cpt80_usd"] > 0
    assert main(["eval", "--benchmark", "mt-bench", "--pair", "local-gpt4", "--router", str(router)]) == 2


@pytest.mark.skipif(not (datasets.data_dir() / "gsm8k").is_dir(), reason="shared data folder with gsm8k/ is absent")
def test_eval_evaluates_the_default_decision_with_its_prefill_probe_unless_told_not_to(tmp_path, capsys):
    from edge_router.cli import main
    from edge_router.files.shipped import shipped_policy

    if shipped_policy() is None:
        pytest.skip("no prefill probe ships in this checkout")
    results = {}
    for flags in ([], ["--no-prefill-probe"]):
        out = tmp_path / f"eval{len(flags)}.json"
        assert main(["eval", "--benchmark", "gsm8k", "--pair", "on-device", "--seeds", "3", "--json", str(out),
                     *flags]) == 0
        results[bool(flags)] = json.loads(out.read_text())[0]
    assert results[False]["default_policy"] == "router+prefill-probe" and "default_policy" not in results[True]
    for result in results.values():
        assert {"cpt50", "apgr"} <= set(result["routers"]["default"]) and "random" in result["routers"]
    assert results[False]["routers"]["default"]["apgr"] != results[True]["routers"]["default"]["apgr"]
    assert "default policy: router+prefill-probe" in capsys.readouterr().out


def test_each_router_is_scored_against_where_the_strong_model_was_better():
    strong, weak = np.array([1, 1, 0, 1, 0, 1.0]), np.array([0, 1, 1, 0, 0, 1.0])
    ranked = np.array([0.9, 0.5, 0.1, 0.8, 0.5, 0.5])  # high exactly where strong beat weak
    result = evaluate(_toy_set(strong, weak), {"ranked": ranked, "reversed": -ranked})
    assert result["routers"]["ranked"]["auroc_strong_better"] == 1.0
    assert result["routers"]["reversed"]["auroc_strong_better"] == 0.0
    one_way = evaluate(_toy_set([1, 1, 0], [0, 1, 0]), {"any": np.array([0.2, 0.7, 0.1])})
    assert one_way["routers"]["any"]["auroc_strong_better"] is None  # strong is never the worse one


def test_a_reference_score_is_summarised_like_a_router_and_ranks_the_weak_answer_wrong_on_accuracy_sets():
    strong, weak = np.array([1, 1, 0, 1, 0, 1.0]), np.array([0, 1, 1, 0, 0, 1.0])
    summary = score_summary(1.0 - weak, _toy_set(strong, weak))
    assert summary["auroc_weak_wrong"] == 1.0
    assert summary["cpt50"] == evaluate(_toy_set(strong, weak), {"r": 1.0 - weak})["routers"]["r"]["cpt50"]
    judged = eval_data.EvalSet(**{**vars(_toy_set(strong, weak)), "outcome": "judge score (1-10)"})
    assert score_summary(1.0 - weak, judged)["auroc_weak_wrong"] is None


@pytest.mark.skipif(not (datasets.data_dir() / "routerbench").is_dir(), reason="shared routerbench/ is absent")
def test_routerbench_outcomes_become_zero_shot_preference_rows_outside_the_evaluation():
    from edge_router.training.labels import STRONG, TIE, WEAK, outcome_rows

    records = datasets.routerbench_outcomes("gpt-4-1106-preview", "mistralai/mixtral-8x7b-chat")
    assert {r["dataset"] for r in records} == {"arc-challenge", "winogrande", "mbpp"}
    assert not any("Answer: A\n\n" in r["question"] for r in records)  # solved examples dropped
    rows = outcome_rows(records, strong_model="gpt-4", weak_model="mixtral")
    by_label = {label: [r for r in rows if r["label"] == label] for label in (STRONG, TIE, WEAK)}
    assert all(r["strong"]["correct"] and not r["weak"]["correct"] for r in by_label[STRONG])
    assert all(r["weak"]["correct"] and not r["strong"]["correct"] for r in by_label[WEAK])
    assert all(r["weak"]["correct"] == r["strong"]["correct"] for r in by_label[TIE])
    assert min(len(v) for v in by_label.values()) > 50
    assert {r["split"] for r in rows} == {"train", "calibration", "test"}
    with pytest.raises(InvalidInputError, match="no scores for"):
        datasets.routerbench_outcomes("gpt-5", "mistralai/mixtral-8x7b-chat")


@needs_data
def test_mt_bench_second_turns_are_scored_alone_and_routed_on_their_conversation():
    alone = eval_data.load("mt-bench", turn=2)
    joined = eval_data.load("mt-bench", turn=2, routing_turns=2)
    both = eval_data.load("mt-bench")
    assert len(alone) == len(joined) == len(both) and alone.keys[0].endswith("/turn2")
    assert joined.prompts[0].startswith(alone.prompts[0] + "\n\n") and joined.prompts[0].endswith(both.prompts[0])
    assert not np.allclose(alone.strong, both.strong), "turn 2's scores, not both turns' mean"
    with pytest.raises(InvalidInputError, match="only MT-Bench has turns"):
        eval_data.load("gsm8k", turn=2)
