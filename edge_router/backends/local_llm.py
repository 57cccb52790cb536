"""The on-device model: llama.cpp through llama-cpp-python."""

from __future__ import annotations

import codecs
import logging
import os
import random
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .. import defaults
from ..errors import CorruptModelError, InvalidInputError, LocalModelError, PromptTooLongError, require
from ..files import model_store
from .batch_sampler import MAX_SEQUENCES, BatchSampler
from .completions import Completion, Sample, Sampling, Usage
from .fifo_lock import FifoLock
from .local_stream import LocalStream
from .messages import Messages, normalize, trim_to_fit
from .prefill_state import PrefillReader, PrefillState
from .token_stats import TokenStats, token_stats

log = logging.getLogger(__name__)


class LocalLLM:
    """A GGUF chat model run by llama.cpp on this machine.

    One call runs at a time (llama.cpp is not re-entrant); calls from other
    threads wait their turn, served in arrival order. A stream holds the model until it is exhausted or
    closed. ``model`` is a registry name, a GGUF path or None (the registry's default).
    ``n_gpu_layers`` offloads layers to a GPU when llama.cpp was built with one;
    ``threads=None`` uses every CPU (llama-cpp-python's own default is half of
    them, which halves decoding speed on a 2-core machine). ``repeat_penalty`` divides the logits of tokens
    seen in the last 64 (llama.cpp's repetition penalty; 1 is none) for answers; sampling for semantic entropy
    never applies it, so that its log-probabilities are the model's own.
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        model_id: str | None = None,
        n_ctx: int = defaults.N_CTX,
        threads: int | None = None,
        n_gpu_layers: int = 0,
        seed: int | None = None,
        verbose: bool = False,
        batched_sampling: bool = True,
        repeat_penalty: float = defaults.REPEAT_PENALTY,
    ):
        if isinstance(repeat_penalty, bool) or not isinstance(repeat_penalty, (int, float)) \
                or not 0 < repeat_penalty <= 2:
            raise InvalidInputError(f"repeat_penalty must be a number in (0, 2] (1 is none), not {repeat_penalty!r}.")
        self.model_path, default_id = model_store.locate("local-llm", model)
        self.id = model_id or default_id
        llama_cpp = require("llama_cpp", "llama-cpp-python")
        try:
            self._llama = llama_cpp.Llama(
                model_path=str(self.model_path),
                n_ctx=n_ctx,
                n_threads=threads or os.cpu_count() or 1,
                n_gpu_layers=n_gpu_layers,
                verbose=verbose,
            )
        except (ValueError, RuntimeError) as exc:
            raise CorruptModelError(
                f"llama.cpp cannot load {self.model_path} ({exc}). The file is corrupted or not a GGUF model; "
                "delete it and pull it again (`edge-router models pull`)."
            ) from exc
        self.n_ctx = self._llama.n_ctx()
        self._n_vocab = self._llama.n_vocab()
        self._vocab = self._llama._model.vocab
        self._is_eog = llama_cpp.llama_vocab_is_eog
        self._formatter = _chat_formatter(self._llama)
        self._rng = random.Random(seed)
        self._lock = FifoLock()
        self._threads = threads or os.cpu_count() or 1
        self._batcher: BatchSampler | None = None
        self._prefill_reader: PrefillReader | None = None
        self.batched_sampling = batched_sampling
        self.repeat_penalty = float(repeat_penalty)

    def __repr__(self) -> str:
        return f"LocalLLM(id={self.id!r}, n_ctx={self.n_ctx})"

    def close(self) -> None:
        """Free the native model and its contexts."""
        with self._lock:
            if self._batcher is not None:
                self._batcher.close()
            if self._prefill_reader is not None:
                self._prefill_reader.close()
            self._llama.close()

    def clear_cache(self) -> None:
        """Forget the cached prompt prefix, so the next call pays the full prefill (for benchmarks)."""
        with self._lock:
            self._llama.reset()

    def prompt_tokens(self, messages: Messages | str) -> list[int]:
        """The chat-formatted prompt of ``messages`` as model tokens."""
        prompt = self._formatter(messages=normalize(messages)).prompt
        return self._llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)

    def fits(self, messages: Messages | str, max_tokens: int) -> bool:
        """True when the prompt plus ``max_tokens`` fit the context window.

        Cheap for prompts well inside the window: every token covers at least one
        byte, so a prompt of fewer bytes than the free space fits without tokenizing.
        """
        prompt = self._formatter(messages=normalize(messages)).prompt.encode("utf-8")
        if len(prompt) + max_tokens <= self.n_ctx:
            return True
        return len(self._llama.tokenize(prompt, add_bos=False, special=True)) + max_tokens <= self.n_ctx

    def reseed(self, seed: int) -> None:
        """Restart the sampling seeds from ``seed`` and forget the cached prompt prefix: what follows no longer
        depends on what this model answered before (a reused prefix is evaluated in other batches, which moves the
        logits by rounding). Labelling reseeds each prompt, so any worker labels it alike."""
        with self._lock:
            self._rng = random.Random(seed)
            self._llama.reset()

    def trimmed(self, messages: Messages | str, max_tokens: int = defaults.MAX_TOKENS) -> Messages:
        """``messages`` with the oldest turns dropped (system messages and the last user message kept) so that the
        prompt and ``max_tokens`` fit the context; ``PromptTooLongError`` when even that does not fit."""
        messages = normalize(messages)
        trimmed = trim_to_fit(messages, lambda m: self.fits(m, max_tokens))
        if trimmed is None:
            raise PromptTooLongError(
                f"The last user message (with the system prompt) and max_tokens={max_tokens} do not fit the local "
                f"context window of {self.n_ctx} tokens, even without the earlier turns. Shorten it, lower "
                "max_tokens, or create LocalLLM with a larger n_ctx.")
        return trimmed[0]

    def _checked_tokens(self, messages: Messages | str, max_tokens: int, prefix: str = "") -> list[int]:
        """The prompt's tokens (then ``prefix``'s, the answer's given start), checked against the context."""
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise InvalidInputError(f"max_tokens must be a positive integer, not {max_tokens!r}.")
        tokens = self.prompt_tokens(messages)
        if prefix:
            tokens += self._llama.tokenize(prefix.encode("utf-8"), add_bos=False, special=False)
        if len(tokens) + max_tokens > self.n_ctx:
            raise PromptTooLongError(
                f"The prompt has {len(tokens)} tokens; with max_tokens={max_tokens} it needs "
                f"{len(tokens) + max_tokens}, more than the local context window of {self.n_ctx}. "
                "Shorten the prompt, lower max_tokens, or create LocalLLM with a larger n_ctx."
            )
        return tokens

    def _generate(
        self, tokens: list[int], *, max_tokens: int, temperature: float, stats: bool,
        sampling: Sampling | None = None, repeat_penalty: float = 1.0,
    ) -> Iterator[tuple[str, TokenStats | None]]:
        """Yield (text piece, the token's log-probability and entropy, or None) until EOG or ``max_tokens``.

        The caller holds the lock. Returns the finish reason ("stop" or "length"). ``sampling`` (top_p,
        seed, penalties) and ``repeat_penalty`` apply to this call; without them sampling is unrestricted
        (exact log-probabilities).
        """
        sampling = sampling or Sampling()
        if sampling.seed is not None:
            # A reused prompt prefix is evaluated in other batches than a fresh one, which moves the logits by
            # rounding; a seeded answer is repeatable only when its prompt is evaluated the same way each time.
            self._llama.reset()
        self._llama.set_seed(sampling.seed if sampling.seed is not None else self._rng.randrange(2**31))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        generator = self._llama.generate(
            tokens, temp=temperature, top_k=0, top_p=sampling.top_p or 1.0, min_p=0.0, repeat_penalty=repeat_penalty,
            presence_penalty=sampling.presence_penalty or 0.0, frequency_penalty=sampling.frequency_penalty or 0.0,
            grammar=_json_grammar(sampling.json_schema()),
        )
        n = 0
        try:
            for token in generator:
                if self._is_eog(self._vocab, token):
                    return "stop"
                token_stat = token_stats(self._last_logits(), token) if stats else None
                piece = decoder.decode(self._llama.detokenize([token]))
                yield piece, token_stat
                n += 1
                if n >= max_tokens:
                    return "length"
            return "stop"
        except (RuntimeError, OSError) as exc:
            raise LocalModelError(f"llama.cpp failed while generating: {exc}") from exc
        finally:
            generator.close()

    def _last_logits(self) -> np.ndarray:
        return np.ctypeslib.as_array(self._llama._ctx.get_logits_ith(-1), shape=(self._n_vocab,))

    def score_answer(self, messages: Messages | str, answer: str, *, max_tokens: int = 32) -> list[TokenStats]:
        """The log-probability and entropy of each of the first ``max_tokens`` tokens of ``answer`` as the model
        would produce it after ``messages`` (teacher forcing: one prefill, no generation). Retokenised text can
        split differently from generated tokens; the statistics are those of this tokenisation."""
        answer_tokens = self._llama.tokenize(answer.encode("utf-8"), add_bos=False, special=False)[:max_tokens]
        tokens = self._checked_tokens(messages, max(len(answer_tokens), 1))
        if not answer_tokens:
            return []
        with self._lock:
            return self._batch_sampler().forced(tokens, answer_tokens)

    def chat(
        self, messages: Messages | str, *, max_tokens: int = defaults.MAX_TOKENS, temperature: float = 0.0,
        sampling: Sampling | None = None, stats: bool = False,
    ) -> Completion:
        """Answer ``messages`` (greedy by default; ``sampling`` sets temperature, top_p, seed, stop, penalties);
        with ``stats`` every generated token's ``TokenStats`` (``Completion.token_stats``)."""
        stream = self.stream(messages, max_tokens=max_tokens, temperature=temperature, sampling=sampling,
                             stats=stats)
        for _ in stream:
            pass
        assert stream.completion is not None
        return stream.completion

    def stream(
        self, messages: Messages | str, *, max_tokens: int = defaults.MAX_TOKENS, temperature: float = 0.0,
        sampling: Sampling | None = None, prefix: str = "", stats: bool = False,
    ) -> LocalStream:
        """A streamed answer. The prompt is checked here, before the first piece. ``prefix`` is the start of
        the assistant's answer, already given (a cut cloud stream): the model continues it. With ``stats`` the
        stream keeps each generated token's log-probability and entropy (``LocalStream.token_stats``)."""
        tokens = self._checked_tokens(messages, max_tokens, prefix)
        if sampling is not None and sampling.temperature is not None:
            temperature = sampling.temperature
        return LocalStream(self, tokens, max_tokens=max_tokens, temperature=temperature, sampling=sampling,
                           stats=stats)

    def sample(
        self, messages: Messages | str, k: int, *, temperature: float = 1.0, max_tokens: int = 64,
        batched: bool | None = None,
    ) -> list[Sample]:
        """``k`` answers sampled at ``temperature`` with per-token log-probabilities.

        Sampling is unrestricted (no top-k/top-p), so log-probabilities are those of the model's full
        distribution, and the answer's ``repeat_penalty`` does not apply. By default the k samples are decoded
        together in one batch (``BatchSampler``: the prompt prefilled once, or copied from the KV cache when the
        last answer was to the same prompt; one token per sample per step); where the batch does not fit the
        context, or with ``batched=False`` (default: the model's ``batched_sampling``), they are drawn one after
        another, sharing the prompt's prefill.
        """
        if not isinstance(k, int) or k < 1:
            raise InvalidInputError(f"k must be a positive integer, not {k!r}.")
        if temperature <= 0:
            raise InvalidInputError(f"temperature must be positive for sampling, not {temperature}.")
        tokens = self._checked_tokens(messages, max_tokens)
        batched = self.batched_sampling if batched is None else batched
        with self._lock:
            if batched and k > 1:
                sampler = self._batch_sampler()
                if sampler.fits(len(tokens), k, max_tokens):
                    seeds = [self._rng.randrange(2**63) for _ in range(k)]
                    cached = self._cached_prefix(tokens)
                    return sampler.sample(tokens, k, temperature=temperature, max_tokens=max_tokens, seeds=seeds,
                                          cached=(self._llama._ctx.ctx, cached) if cached else None)
                log.info("%d samples of %d tokens after a %d-token prompt do not fit one batch of the %d-token "
                         "context; sampling them one after another", k, max_tokens, len(tokens), sampler.n_ctx)
            samples = []
            for _ in range(k):
                text, logprobs = [], []
                for piece, stats in self._generate(
                    tokens, max_tokens=max_tokens, temperature=temperature, stats=True
                ):
                    text.append(piece)
                    logprobs.append(stats.logprob)
                samples.append(Sample(text="".join(text).strip(), token_logprobs=tuple(logprobs)))
        return samples

    def answer_many(self, conversations: Sequence[Messages | str], *, max_tokens: int = defaults.MAX_TOKENS,
                    slots: int = 8, stats: int = 0) -> list[Completion]:
        """Greedy answers to many conversations, ``slots`` decoded together in one batch (continuous batching:
        a finished answer's slot takes the next conversation). For offline jobs: the answers come at once, in
        order, and decoding several per weight read raises throughput; the tokens all conversations start with
        are prefilled once. Every token attends over all slots' cached tokens, so slots pay off for long answers
        (GSM8K: 1.2 to 1.4 times one at a time on two cores) and not for answers of a few tokens, which are all
        prefill (``local_outcomes.SLOTS``). No repetition penalty applies, so the
        model must have ``repeat_penalty=1``; answers equal ``chat``'s up to the rounding of batch shapes.
        Each answer's first ``stats`` tokens come with their ``TokenStats`` (``Completion.token_stats``)."""
        if self.repeat_penalty != 1.0:
            raise InvalidInputError("answer_many decodes without a repetition penalty; create the LocalLLM with "
                                    f"repeat_penalty=1.0 (it has {self.repeat_penalty}) or answer with chat().")
        if not isinstance(slots, int) or not 1 <= slots < MAX_SEQUENCES:
            raise InvalidInputError(f"slots must be an integer from 1 to {MAX_SEQUENCES - 1}, not {slots!r}.")
        prompts = [self._checked_tokens(c, max_tokens) for c in conversations]
        if not prompts:
            return []
        fitting = max(1, self.n_ctx // (max(map(len, prompts)) + max_tokens))  # (shared prefix counted each time)
        if fitting < slots:
            log.info("%d answers of %d tokens do not fit the %d-token context together; decoding %d at a time "
                     "(a larger n_ctx fits more)", slots, max_tokens, self.n_ctx, fitting)
        answers: list[Completion | None] = [None] * len(prompts)
        with self._lock:
            for index, tokens, finish, token_stats in self._batch_sampler().greedy(
                    prompts, max_tokens=max_tokens, slots=min(slots, fitting), stats=stats):
                text = self._llama.detokenize(tokens).decode("utf-8", errors="replace").strip()
                usage = Usage(prompt_tokens=len(prompts[index]), completion_tokens=len(tokens))
                answers[index] = Completion(text=text, finish_reason=finish, model=self.id, usage=usage,
                                            cost_usd=0.0, token_stats=tuple(token_stats))
        return answers  # type: ignore[return-value]

    def prefill_state(self, messages: Messages | str, *, keep: bool = True, up_to_layer: int | None = None,
                      stop_when: Callable[[PrefillState], bool] | None = None) -> PrefillState:
        """The model's per-layer hidden states at the end of the chat-formatted prompt (one prefill in a context
        of its own, created on first use; ``prefill_state.PrefillReader``). With ``keep`` the prompt's KV cache
        is handed to the answering context, so a ``chat`` or ``stream`` of the same messages that follows
        starts decoding at once instead of prefilling again. With ``up_to_layer`` the prefill stops after that
        layer (a fraction of the time; later layers are zeros), always or when ``stop_when`` returns True on the
        states so far; a stopped read hands nothing over."""
        tokens = self._checked_tokens(messages, 1)
        with self._lock:
            if self._prefill_reader is None:
                self._prefill_reader = PrefillReader(self._llama, require("llama_cpp", "llama-cpp-python"),
                                                     n_ctx=self.n_ctx, threads=self._threads)
            state = self._prefill_reader.read(tokens, up_to_layer, stop_when)
            if keep and not self._prefill_reader.partial:
                self._adopt_prefill(tokens)
            return state

    def _adopt_prefill(self, tokens: list[int]) -> None:
        """Make the prefill reader's cache of ``tokens`` the main context's (llama-cpp-python then sees the prompt
        as cached and evaluates only its last token again for the logits)."""
        llama = self._llama
        if self._prefill_reader.hand_over(llama._ctx.ctx):
            llama.input_ids[:len(tokens)] = tokens
            llama.n_tokens = len(tokens)
            llama._requires_eval = True
        else:
            log.info("llama.cpp refused to hand the prefill's KV cache over; the answer prefills the prompt again")
            llama.reset()

    def _cached_prefix(self, tokens: list[int]) -> int:
        """How many of ``tokens`` the main context's KV cache already holds, from the start."""
        held = self._llama._input_ids
        n = min(len(held), len(tokens))
        same = held[:n] == np.asarray(tokens[:n], dtype=held.dtype)
        return n if same.all() else int(same.argmin())

    @property
    def batch_timing(self) -> dict[str, float]:
        """Where the last batched ``sample`` spent its time: steps, llama.cpp decode ms, other ms (benchmarks)."""
        return dict(self._batcher.last_timing) if self._batcher is not None else {}

    def _batch_sampler(self) -> BatchSampler:
        """The batched sampler (a second context on these weights), created on first use."""
        if self._batcher is None:
            self._batcher = BatchSampler(self._llama, require("llama_cpp", "llama-cpp-python"), n_ctx=self.n_ctx,
                                         threads=self._threads)
        return self._batcher


def _chat_formatter(llama: Any) -> Any:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise CorruptModelError(
            f"{llama.model_path} has no chat template in its metadata; use a chat (instruct) GGUF model."
        )
    model = llama._model

    def token_text(token_id: int) -> str:
        return model.token_get_text(token_id) if token_id != -1 else ""

    return Jinja2ChatFormatter(
        template=template, eos_token=token_text(llama.token_eos()), bos_token=token_text(llama.token_bos())
    )


def _json_grammar(schema: dict | None) -> Any:
    """A llama.cpp grammar for JSON (any object for ``{}``, else the schema's), or None for free text."""
    if schema is None:
        return None
    import json

    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar, json_schema_to_gbnf

    try:
        text = json_schema_to_gbnf(json.dumps(schema)) if schema else JSON_GBNF
        return LlamaGrammar.from_string(text, verbose=False)
    except (ValueError, RuntimeError, KeyError, TypeError) as exc:
        raise InvalidInputError(f"The JSON schema cannot be turned into a grammar for the device ({exc}); "
                                "simplify it or send the request to the cloud (force='cloud').") from exc
