"""The real default on-device model (SmolLM2-135M-Instruct Q4_1) through llama.cpp."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
from conftest import TINY_LLM

from edge_router import LocalLLM
from edge_router.errors import (
    CorruptModelError,
    InvalidInputError,
    LocalModelError,
    ModelNotFoundError,
    PromptTooLongError,
)

pytestmark = pytest.mark.real_models  # every test here loads a real model file


def test_chat_answers_with_usage(local_llm):
    completion = local_llm.chat("What is the capital of France?", max_tokens=24)
    assert completion.text
    assert completion.usage.prompt_tokens > 5
    assert 0 < completion.usage.completion_tokens <= 24
    assert completion.finish_reason in ("stop", "length")
    assert completion.model == local_llm.id


def test_stream_gives_the_same_greedy_answer(local_llm):
    messages = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Name a fruit."}]
    stream = local_llm.stream(messages, max_tokens=16)
    pieces = list(stream)
    assert len(pieces) == stream.completion.usage.completion_tokens
    assert "".join(pieces).strip() == local_llm.chat(messages, max_tokens=16).text


def test_samples_at_temperature_one_differ_and_carry_logprobs(local_llm):
    samples = local_llm.sample("Write one word that comes to mind.", 5, temperature=1.0, max_tokens=12)
    assert len(samples) == 5
    assert len({s.text for s in samples}) >= 2, "k samples at temperature 1 must not all be identical"
    for sample in samples:
        assert sample.token_logprobs, "every sample has at least one token"
        assert all(lp <= 0.0 for lp in sample.token_logprobs)
        assert sample.mean_logprob < 0.0


def test_prompt_longer_than_the_context_is_a_clear_error():
    small = LocalLLM(TINY_LLM, n_ctx=128, threads=2)
    with pytest.raises(PromptTooLongError) as info:
        small.chat("tell me about cats " * 60, max_tokens=16)
    assert f"context window of {small.n_ctx}" in str(info.value) and "n_ctx" in str(info.value)
    assert not small.fits("tell me about cats " * 60, 16)
    assert small.chat("Hi", max_tokens=4).text is not None  # still usable afterwards
    small.close()


def test_a_gguf_the_registry_does_not_know_works_by_path(local_llm, tmp_path):
    own = tmp_path / "my-model.gguf"
    own.symlink_to(local_llm.model_path)
    llm = LocalLLM(own, threads=2)
    assert llm.id == "my-model" and llm.chat("Say hi.", max_tokens=4).text is not None
    llm.close()
    with pytest.raises(ModelNotFoundError, match="neither a registered local-llm model"):
        LocalLLM("no-such-model", threads=2)


def test_bad_arguments_are_refused(local_llm):
    with pytest.raises(InvalidInputError):
        local_llm.chat("hi", max_tokens=0)
    with pytest.raises(InvalidInputError):
        local_llm.sample("hi", 0)
    with pytest.raises(InvalidInputError):
        local_llm.sample("hi", 2, temperature=0.0)
    with pytest.raises(InvalidInputError):
        local_llm.chat("   ")


def test_repeat_penalty_changes_answers_but_never_the_samples_for_entropy(local_llm):
    with pytest.raises(InvalidInputError, match="repeat_penalty"):
        LocalLLM(TINY_LLM, repeat_penalty=0)
    prompt = "List the numbers from one to thirty in words, separated by commas."
    before = local_llm.repeat_penalty
    try:
        local_llm.repeat_penalty = 1.0
        plain = local_llm.chat(prompt, max_tokens=48).text
        local_llm.repeat_penalty = 1.5
        penalised = local_llm.chat(prompt, max_tokens=48).text
        near_greedy = [local_llm.sample(prompt, 1, temperature=1e-4, max_tokens=48, batched=batched)[0].text
                       for batched in (False, True)]
    finally:
        local_llm.repeat_penalty = before
    assert penalised != plain, "a strong repetition penalty changes a long list's greedy answer"
    assert near_greedy == [plain, plain], "samples for semantic entropy are the model's own, without the penalty"


def test_calls_from_several_threads_are_serialised(local_llm):
    prompts = ["Count to three.", "Name a colour.", "Say yes."]
    expected = [local_llm.chat(p, max_tokens=12).text for p in prompts]
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            results[i] = local_llm.chat(prompts[i], max_tokens=12).text
        except BaseException as exc:  # collected and re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [results[i] for i in range(len(prompts))] == expected


def test_corrupted_gguf_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 1000)
    with pytest.raises(CorruptModelError, match="cannot load"):
        LocalLLM(bad)


def test_fifo_lock_serves_waiters_in_arrival_order():
    import time

    from edge_router.backends.fifo_lock import FifoLock

    lock = FifoLock()
    order: list[int] = []
    lock.acquire()
    threads = []
    for i in range(5):
        t = threading.Thread(target=lambda i=i: (lock.acquire(), order.append(i), lock.release()))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 5
        while lock._next_ticket < i + 2:  # this thread holds its ticket before the next one arrives
            assert time.monotonic() < deadline
            time.sleep(0.001)
    lock.release()
    for t in threads:
        t.join(timeout=5)
    assert order == [0, 1, 2, 3, 4]


def test_sampling_settings_apply_on_the_device(local_llm):
    from edge_router.backends.completions import Sampling

    seeded = Sampling(temperature=1.0, seed=7)
    first = local_llm.chat("Tell me a short story.", max_tokens=12, sampling=seeded)
    assert first.text == local_llm.chat("Tell me a short story.", max_tokens=12, sampling=seeded).text
    stopped = local_llm.stream("Count: one, two, three, four, five.", max_tokens=40,
                               sampling=Sampling(stop=(",",)))
    text = "".join(stopped)
    assert "," not in text and stopped.completion.finish_reason == "stop" and text.strip() == stopped.completion.text
    with pytest.raises(InvalidInputError, match="top_p"):
        Sampling(top_p=0)


def test_batched_samples_match_greedy_at_a_vanishing_temperature(local_llm):
    greedy = local_llm.chat("Name three fruits.", max_tokens=10).text
    batched = local_llm.sample("Name three fruits.", 3, temperature=1e-6, max_tokens=10)
    assert [s.text for s in batched] == [greedy] * 3
    prompt_tokens = len(local_llm.prompt_tokens("Name three fruits."))
    assert local_llm.batch_timing["reused_prompt_tokens"] == prompt_tokens - 1, "the answer's KV cache is copied"
    local_llm.clear_cache()
    fresh = local_llm.sample("Name three fruits.", 3, temperature=1e-6, max_tokens=10)
    assert local_llm.batch_timing["reused_prompt_tokens"] == 0
    assert [s.text for s in fresh] == [greedy] * 3
    assert fresh[0].token_logprobs == pytest.approx(batched[0].token_logprobs, abs=0.15)  # batch-shape rounding


def test_batched_and_sequential_samples_come_from_the_same_distribution(local_llm):
    """Both estimate the same mean per-token log-likelihood; they agree within four standard errors."""
    prompt = "Write one short sentence about rain."
    means = {}
    for batched in (True, False):
        values = [s.mean_logprob for _ in range(4)
                  for s in local_llm.sample(prompt, 8, temperature=1.0, max_tokens=12, batched=batched)]
        means[batched] = (float(np.mean(values)), float(np.std(values, ddof=1) / np.sqrt(len(values))))
    (a, sa), (b, sb) = means[True], means[False]
    assert abs(a - b) < 4 * np.hypot(sa, sb), means


def test_samples_that_do_not_fit_one_batch_are_drawn_one_after_another(caplog):
    small = LocalLLM(TINY_LLM, n_ctx=256, threads=2)
    with caplog.at_level(logging.INFO, logger="edge_router.backends.local_llm"):
        samples = small.sample("Say hi.", 5, max_tokens=60)
    assert len(samples) == 5 and "one after another" in caplog.text
    small.close()


def test_answers_decoded_together_come_back_in_order_and_one_slot_is_the_plain_greedy_answer(local_llm, monkeypatch):
    monkeypatch.setattr(local_llm, "repeat_penalty", 1.0)
    prompts = ["Name three fruits.", "What is 2 + 2?", "Who wrote Hamlet?", "Say hi.", "List the planets."]
    local_llm.clear_cache()
    stream = local_llm.stream(prompts[0], max_tokens=24, stats=True)
    "".join(stream)
    alone = local_llm.answer_many(prompts[:1], max_tokens=24, slots=1, stats=5)[0]
    assert alone.text == stream.completion.text and len(alone.token_stats) == 5
    assert [t.entropy for t in alone.token_stats] == pytest.approx([t.entropy for t in stream.token_stats[:5]],
                                                                   abs=1e-3)
    together = local_llm.answer_many(prompts, max_tokens=24, slots=4)
    assert [c.usage.prompt_tokens for c in together] == [len(local_llm.prompt_tokens(p)) for p in prompts]
    for c in together:
        assert c.text and (c.finish_reason == "length") == (c.usage.completion_tokens == 24)
    # each answer is likelier after its own prompt than after any other: the answers are not shuffled
    for i, answer in enumerate(together):
        fit = [np.mean([s.logprob for s in local_llm.score_answer(p, answer.text)]) for p in prompts]
        assert int(np.argmax(fit)) == i, (answer.text, fit)


def test_answering_many_refuses_a_repetition_penalty_and_bad_slots_and_fits_the_context(local_llm, caplog):
    with pytest.raises(InvalidInputError, match="repeat_penalty=1.0"):
        LocalLLM(TINY_LLM, threads=2, n_ctx=256, repeat_penalty=1.1).answer_many(["Say hi."])
    small = LocalLLM(TINY_LLM, threads=2, n_ctx=256, repeat_penalty=1.0)
    with pytest.raises(InvalidInputError, match="slots"):
        small.answer_many(["Say hi."], slots=0)
    assert small.answer_many([], max_tokens=8) == []
    with caplog.at_level(logging.INFO, logger="edge_router.backends.local_llm"):
        answers = small.answer_many(["Say hi.", "Say bye.", "Say yes."], max_tokens=100, slots=3)
    assert len(answers) == 3 and all(a.text for a in answers) and "1 at a time" in caplog.text
    small.close()


def test_the_shared_prompt_prefix_leaves_every_prompt_a_token_of_its_own():
    from edge_router.backends.batch_sampler import _common_prefix

    assert _common_prefix([[1, 2, 3, 4], [1, 2, 5]]) == 2
    assert _common_prefix([[1, 2], [1, 2, 3]]) == 1
    assert _common_prefix([[9, 1], [8, 1]]) == 0
    assert _common_prefix([[5], [5, 6]]) == 0


def test_the_prefill_state_reads_every_layer_and_hands_its_cache_to_the_answer(local_llm):
    messages = "What is the capital of France? Explain briefly."
    local_llm.clear_cache()
    plain = local_llm.chat(messages, max_tokens=12).text
    state = local_llm.prefill_state(messages)
    n_prompt = len(local_llm.prompt_tokens(messages))
    assert state.n_tokens == n_prompt and state.last.shape[0] == state.mean.shape[0] + 1
    assert np.isfinite(state.last).all() and np.abs(state.last).sum() > 0
    assert local_llm._llama.n_tokens == n_prompt, "the answering context holds the prompt's cache"
    assert local_llm.chat(messages, max_tokens=12).text == plain
    again = local_llm.prefill_state(messages, keep=False)
    assert np.allclose(again.last, state.last, atol=1e-3), "the same prompt gives the same state"
    other = local_llm.prefill_state("Write a haiku about the sea.", keep=False)
    assert not np.allclose(other.last[-1], state.last[-1])


def test_a_prefill_read_can_stop_at_a_layer_and_the_answer_then_prefills_whole(local_llm, capfd):
    messages = "What is the capital of France? Explain briefly."
    local_llm.clear_cache()
    plain = local_llm.chat(messages, max_tokens=12).text
    whole = local_llm.prefill_state(messages, keep=False)
    early = local_llm.prefill_state(messages, up_to_layer=5)
    assert np.allclose(early.last[:6], whole.last[:6], atol=1e-3) and np.allclose(early.mean[:6], whole.mean[:6],
                                                                                   atol=1e-3)
    assert not early.last[6:].any(), "the layers after the stop are never computed"
    assert local_llm._llama.n_tokens != len(local_llm.prompt_tokens(messages)), "a stopped read hands nothing over"
    assert local_llm.chat(messages, max_tokens=12).text == plain
    assert "removing memory module" not in capfd.readouterr().err, "a stop on purpose is not logged as an error"
    with pytest.raises(LocalModelError, match="up_to_layer"):
        local_llm.prefill_state(messages, up_to_layer=whole.last.shape[0])
    asked = []
    kept = local_llm.prefill_state(messages, up_to_layer=5, stop_when=lambda s: asked.append(s.last[5].copy()))
    assert np.allclose(asked[0], whole.last[5], atol=1e-3) and kept.last[6:].any(), "not stopped: read whole"
    assert local_llm._llama.n_tokens == len(local_llm.prompt_tokens(messages)), "and its cache handed over"
    with pytest.raises(LocalModelError, match="stop_when failed"):
        local_llm.prefill_state(messages, up_to_layer=5, stop_when=lambda s: 1 / 0)
