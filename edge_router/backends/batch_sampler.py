"""k samples of one prompt decoded together in one llama.cpp batch.

On a CPU a small model's decode step is bound by reading the weights, so k sequences that advance one token
each in the same batch cost little more than one. The prompt is prefilled once as sequence 0, its KV cells are
shared with sequences 1..k-1 (``llama_memory_seq_cp`` in a unified KV cache), and each step decodes one token
per unfinished sequence. Tokens are drawn from the full softmax of the logits at ``temperature`` (no top-k or
top-p), each sequence with its own random stream; the log-probability kept is that of the untempered
distribution, as ``LocalLLM.sample`` keeps.

The sampler owns a second llama.cpp context on the model's weights (its own KV cache, a few tens of MB for a
0.5B model), created on first use. When the model's main context already holds the start of the prompt (it just
answered it greedily, as labelling does), that part of the KV cache is copied over instead of prefilled again.
The same context scores a given answer by teacher forcing (``forced``), and answers many prompts greedily
with continuous batching (``greedy``): each prompt gets a sequence slot, and a finished answer's slot takes the
next prompt, so that offline jobs (benchmark answers) decode several answers per weight read; the tokens all
prompts start with are prefilled once.
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from ..errors import LocalModelError
from .completions import Sample
from .token_stats import TokenStats, token_stats

MAX_SEQUENCES = 16
log = logging.getLogger(__name__)


class BatchSampler:
    """Draws up to ``MAX_SEQUENCES`` samples of a prompt at once; ``close()`` frees its context."""

    def __init__(self, llama: Any, llama_cpp: Any, *, n_ctx: int, threads: int):
        self._llama = llama
        self._lib = llama_cpp
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = params.n_ubatch = 512
        params.n_seq_max = MAX_SEQUENCES
        params.kv_unified = True
        params.n_threads = params.n_threads_batch = threads
        main = llama.context_params  # the same KV layout as the main context, so that its cache can be copied
        params.flash_attn_type, params.type_k, params.type_v = main.flash_attn_type, main.type_k, main.type_v
        self._ctx = llama_cpp.llama_init_from_model(llama._model.model, params)
        if not self._ctx:
            raise LocalModelError("llama.cpp could not create the batched sampling context.")
        self._batch = llama_cpp.llama_batch_init(512, 0, MAX_SEQUENCES)
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._vocab = llama._model.vocab
        self._n_vocab = llama.n_vocab()
        self.n_ctx = n_ctx
        self.last_timing: dict[str, float] = {}  # where the last ``sample`` spent its time (for benchmarks)

    def close(self) -> None:
        if self._ctx:
            self._lib.llama_batch_free(self._batch)
            self._lib.llama_free(self._ctx)
            self._ctx = None

    def fits(self, n_prompt: int, k: int, max_tokens: int) -> bool:
        """True when the prompt and k answers of ``max_tokens`` fit the sampler's KV cache."""
        return 1 <= k <= MAX_SEQUENCES and n_prompt + k * max_tokens <= self.n_ctx

    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        """Decode (token, position, sequence, wants logits) entries as one batch."""
        batch = self._batch
        batch.n_tokens = len(entries)
        for i, (token, pos, seq, logits) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = logits
        if self._lib.llama_decode(self._ctx, batch) != 0:
            raise LocalModelError("llama.cpp failed to decode a batch while sampling.")

    def _prefill(self, tokens: list[int], *, seq: int, start: int = 0, last_logits: bool = True) -> None:
        """Decode ``tokens[start:]`` at their positions into sequence ``seq``, 512 a batch; with ``last_logits``
        the last token's logits are kept (``_logits(-1)``)."""
        for begin in range(start, len(tokens), 512):
            chunk = tokens[begin:begin + 512]
            last = last_logits and begin + len(chunk) == len(tokens)
            self._decode([(t, begin + j, seq, last and j == len(chunk) - 1) for j, t in enumerate(chunk)])

    def _logits(self, i: int) -> np.ndarray:
        ptr = self._lib.llama_get_logits_ith(self._ctx, i)
        return np.ctypeslib.as_array(ptr, shape=(self._n_vocab,)).copy()

    def _copy_prefix(self, source_ctx: Any, n_cached: int, n_prompt: int) -> int:
        """Copy sequence 0 of ``source_ctx`` (whose first ``n_cached`` cells hold the prompt's first tokens) into
        sequence 0 here, keep at most ``n_prompt - 1`` of them (the last prompt token is decoded again for its
        logits) and return how many are kept; 0 when llama.cpp refuses the copy."""
        lib, keep = self._lib, min(n_cached, n_prompt - 1)
        if keep < 1:
            return 0
        if not copy_sequence(lib, source_ctx, self._ctx):
            lib.llama_memory_clear(self._memory, True)
            log.info("llama.cpp refused to copy the prompt's KV cache into the batch context; prefilling it again")
            return 0
        lib.llama_memory_seq_rm(self._memory, 0, keep, -1)
        return keep

    def sample(self, tokens: list[int], k: int, *, temperature: float, max_tokens: int,
               seeds: list[int], cached: tuple[Any, int] | None = None) -> list[Sample]:
        """``k`` samples of the prompt ``tokens``; sequence i draws with ``seeds[i]``. ``cached`` is (a llama.cpp
        context, n): that context's sequence 0 starts with ``tokens[:n]``, which are copied, not prefilled."""
        lib = self._lib
        lib.llama_memory_clear(self._memory, True)
        reused = self._copy_prefix(*cached, len(tokens)) if cached is not None else 0
        self._prefill(tokens, seq=0, start=reused)
        for seq in range(1, k):
            lib.llama_memory_seq_cp(self._memory, 0, seq, -1, -1)
        rngs = [np.random.default_rng(seed) for seed in seeds]
        decoders = [codecs.getincrementaldecoder("utf-8")(errors="replace") for _ in range(k)]
        texts: list[list[str]] = [[] for _ in range(k)]
        logprobs: list[list[float]] = [[] for _ in range(k)]
        rows = {seq: self._logits(-1) for seq in range(k)}  # every sequence starts from the prompt's logits
        pos = len(tokens)
        decode_s, steps, started = 0.0, 0, time.perf_counter()
        while rows:
            step = []
            for seq, logits in rows.items():
                token, logprob = _draw(logits, temperature, rngs[seq])
                if lib.llama_vocab_is_eog(self._vocab, token):
                    continue
                logprobs[seq].append(logprob)
                texts[seq].append(decoders[seq].decode(self._llama.detokenize([token])))
                if len(logprobs[seq]) < max_tokens:
                    step.append((token, pos, seq, True))
            if not step:
                break
            t0 = time.perf_counter()
            self._decode(step)
            decode_s, steps = decode_s + time.perf_counter() - t0, steps + 1
            rows = {seq: self._logits(i) for i, (_, _, seq, _) in enumerate(step)}
            pos += 1
        self.last_timing = {"steps": steps, "decode_ms": decode_s * 1e3, "reused_prompt_tokens": reused,
                            "other_ms": (time.perf_counter() - started - decode_s) * 1e3}
        return [Sample(text="".join(t).strip(), token_logprobs=tuple(lp)) for t, lp in zip(texts, logprobs)]

    def greedy(self, prompts: Sequence[list[int]], *, max_tokens: int, slots: int, stats: int = 0
               ) -> Iterator[tuple[int, list[int], str, list[TokenStats]]]:
        """Greedy answers (no penalties) to the token lists ``prompts``, at most ``slots`` decoding together; yields
        (prompt index, answer tokens, "stop" or "length", the ``TokenStats`` of the first ``stats`` tokens) as each
        answer ends. The caller checks that ``slots`` prompts and their answers fit the KV cache (``n_ctx``)."""
        lib = self._lib
        lib.llama_memory_clear(self._memory, True)
        # The tokens every prompt starts with (the chat template, a shared system prompt) are prefilled once, into
        # a sequence of their own, and shared with each slot's sequence when it takes a prompt.
        shared, holder = _common_prefix(prompts) if len(prompts) > 1 else 0, MAX_SEQUENCES - 1
        self._prefill(prompts[0][:shared], seq=holder, last_logits=False)
        queue = deque(enumerate(prompts))
        free = list(range(min(slots, holder)))
        active: dict[int, _Answer] = {}
        while queue or active:
            while free and queue:
                index, tokens = queue.popleft()
                seq = free.pop()
                if shared:
                    lib.llama_memory_seq_cp(self._memory, holder, seq, 0, shared)
                active[seq] = _Answer(index, tokens, fed=shared)
            entries, owners = [], []
            for seq, answer in active.items():  # one token for every answering sequence first
                if answer.fed == len(answer.prompt):
                    entries.append((answer.tokens[-1], len(answer.prompt) + len(answer.tokens) - 1, seq, True))
                    owners.append(seq)
            for seq, answer in active.items():  # then as much prompt as the batch holds
                room = 512 - len(entries)
                if answer.fed < len(answer.prompt) and room > 0:
                    chunk = answer.prompt[answer.fed:answer.fed + room]
                    answer.fed += len(chunk)
                    done = answer.fed == len(answer.prompt)
                    entries += [(t, answer.fed - len(chunk) + j, seq, done and j == len(chunk) - 1)
                                for j, t in enumerate(chunk)]
                    owners += [seq] if done else []
            self._decode(entries)
            outputs = [i for i, entry in enumerate(entries) if entry[3]]
            for i, seq in zip(outputs, owners):
                answer = active[seq]
                logits = np.ctypeslib.as_array(lib.llama_get_logits_ith(self._ctx, i), shape=(self._n_vocab,))
                token = int(logits.argmax())
                finish = "stop" if lib.llama_vocab_is_eog(self._vocab, token) else None
                if finish is None:
                    if len(answer.tokens) < stats:
                        answer.stats.append(token_stats(logits, token))
                    answer.tokens.append(token)
                    finish = "length" if len(answer.tokens) >= max_tokens else None
                if finish is not None:
                    yield answer.index, answer.tokens, finish, answer.stats
                    lib.llama_memory_seq_rm(self._memory, seq, -1, -1)
                    del active[seq]
                    free.append(seq)

    def forced(self, tokens: list[int], answer: list[int]) -> list[TokenStats]:
        """The statistics of each ``answer`` token after the prompt ``tokens``, from one prefill of both."""
        self._lib.llama_memory_clear(self._memory, True)
        full = tokens + answer
        first = len(tokens) - 1  # the position whose logits predict the answer's first token
        stats: list[TokenStats] = []
        for start in range(0, len(full) - 1, 512):
            chunk = full[start:min(start + 512, len(full) - 1)]
            wanted = [start + j >= first for j in range(len(chunk))]
            self._decode([(t, start + j, 0, w) for j, (t, w) in enumerate(zip(chunk, wanted))])
            stats += [token_stats(self._logits(j), full[start + j + 1]) for j, w in enumerate(wanted) if w]
        return stats


def copy_sequence(lib: Any, source_ctx: Any, target_ctx: Any) -> bool:
    """Copy sequence 0's KV cells of one llama.cpp context into another's sequence 0 (same model and KV layout);
    False when llama.cpp refuses."""
    size = lib.llama_state_seq_get_size(source_ctx, 0)
    buffer = (ctypes.c_uint8 * size)()
    return (lib.llama_state_seq_get_data(source_ctx, buffer, size, 0) == size
            and lib.llama_state_seq_set_data(target_ctx, buffer, size, 0) != 0)


def _common_prefix(prompts: Sequence[list[int]]) -> int:
    """How many tokens all ``prompts`` start with, leaving each at least its last token of its own."""
    n = min(len(p) for p in prompts) - 1
    for i in range(max(n, 0)):
        if any(p[i] != prompts[0][i] for p in prompts):
            return i
    return max(n, 0)


@dataclass
class _Answer:
    """One prompt's place in ``greedy``: its tokens, how many are in the KV cache, the answer so far and the
    statistics of its first tokens."""

    index: int
    prompt: list[int]
    fed: int = 0
    tokens: list[int] = field(default_factory=list)
    stats: list[TokenStats] = field(default_factory=list)


def _draw(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> tuple[int, float]:
    """One token from softmax(logits / temperature), and its log-probability under the untempered softmax."""
    shifted = logits - logits.max()
    untempered = np.exp(shifted)
    weights = untempered if temperature == 1.0 else np.exp(shifted / temperature)
    cumulative = np.cumsum(weights, dtype=np.float64)
    token = min(int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")), len(logits) - 1)
    return token, float(shifted[token] - np.log(untempered.sum(dtype=np.float64)))
