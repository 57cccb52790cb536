"""The local model's hidden state at the end of a prompt, read during its prefill.

llama.cpp names each transformer layer's output ``l_out-<layer>`` in its compute graph and hands every
named tensor to a context's evaluation callback (``cb_eval``) once computed. ``PrefillReader`` owns a
llama.cpp context on the model's weights with that callback set: it prefills a prompt and keeps, for each
layer, the residual stream at the prompt's last token (``last``) and, for every layer but the last, its
mean over the prompt (``mean``), before the output norm (llama.cpp computes the last layer for the rows
whose logits are asked for only: here the last token). Probes on these states predict whether the model's own
answer will be right (Kossen et al. 2024, arXiv 2406.15927), from the prefill an answer needs anyway.

A read may stop after a given layer (``up_to_layer``), always or when ``stop_when`` says so on the states read
so far: the callback raises a flag once that layer's output is stored and the context's abort callback ends the
decode there, so a probe on layer 7 of 24 pays about a third of the prefill for a prompt it sends away, while a
prompt it keeps is prefilled whole and its cache handed over. llama.cpp drops a stopped decode's positions
from the KV cache, and a stopped read is not handed over.

The callback reads ``struct ggml_tensor`` (ggml.h) through ctypes; the layout is checked on the first
tensor (its name and shape must match the model's layers and width), so a llama.cpp whose layout moved
fails with a clear error instead of reading garbage.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..errors import LocalModelError
from .batch_sampler import copy_sequence

_MAX_DIMS, _MAX_OP_PARAMS, _MAX_SRC, _MAX_NAME = 4, 64, 10, 64
_LAYER_PREFIX = b"l_out-"
_F32 = 0  # GGML_TYPE_F32
_ABORTED = 2  # llama_decode: aborted by the abort callback
N_UBATCH = 512


@contextlib.contextmanager
def _quiet(on: bool) -> Iterator[None]:
    """llama.cpp logs an error when it drops an aborted decode's positions; a stop on purpose is not one (its
    real failures still raise here). llama-cpp-python prints its log by the level of this logger."""
    logger = logging.getLogger("llama-cpp-python")
    level = logger.level
    if on:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


class _GgmlTensor(ctypes.Structure):
    """The head of ``struct ggml_tensor`` up to its name (ggml.h)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("buffer", ctypes.c_void_p),
        ("ne", ctypes.c_int64 * _MAX_DIMS),
        ("nb", ctypes.c_size_t * _MAX_DIMS),
        ("op", ctypes.c_int),
        ("op_params", ctypes.c_int32 * (_MAX_OP_PARAMS // 4)),
        ("flags", ctypes.c_int32),
        ("src", ctypes.c_void_p * _MAX_SRC),
        ("view_src", ctypes.c_void_p),
        ("view_offs", ctypes.c_size_t),
        ("data", ctypes.c_void_p),
        ("name", ctypes.c_char * _MAX_NAME),
    ]


@dataclass(frozen=True)
class PrefillState:
    """Per-layer states of one prompt: ``last`` is float32 (n_layers, n_embd); ``mean`` (n_layers - 1, n_embd)."""

    last: np.ndarray
    mean: np.ndarray
    n_tokens: int


class PrefillReader:
    """Prefills prompts in a context of its own and returns their per-layer states; ``close()`` frees it.

    Not thread-safe: the owner (``LocalLLM``) serialises calls with its model lock.
    """

    def __init__(self, llama: Any, llama_cpp: Any, *, n_ctx: int, threads: int):
        self._llama = llama
        self._lib = llama_cpp
        self.n_layers = int(llama_cpp.llama_model_n_layer(llama._model.model))
        self.n_embd = int(llama_cpp.llama_model_n_embd(llama._model.model))
        self._stop_after: int | None = None
        self._stop_when: Callable[[PrefillState], bool] | None = None
        self._stop = False
        self._n_tokens = 0
        self.partial = False  # the last read stopped early: its cache is not whole
        self._callback = llama_cpp.ggml_backend_sched_eval_callback(self._on_tensor)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = params.n_ubatch = N_UBATCH
        params.n_seq_max = 1
        params.n_threads = params.n_threads_batch = threads
        main = llama.context_params  # the main context's KV layout, so that a prompt's cache can be handed over
        params.flash_attn_type, params.type_k, params.type_v = main.flash_attn_type, main.type_k, main.type_v
        params.cb_eval = self._callback
        params.cb_eval_user_data = None
        self._abort = llama_cpp.ggml_abort_callback(lambda _data: self._stop)
        params.abort_callback = self._abort
        params.abort_callback_data = None
        self._ctx = llama_cpp.llama_init_from_model(llama._model.model, params)
        if not self._ctx:
            raise LocalModelError("llama.cpp could not create the prefill-state context.")
        self._batch = llama_cpp.llama_batch_init(N_UBATCH, 0, 1)
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self.n_ctx = n_ctx
        self._last = np.zeros((self.n_layers, self.n_embd), dtype=np.float32)
        self._sum = np.zeros((self.n_layers, self.n_embd), dtype=np.float64)
        self._seen: set[int] = set()
        self._error: str | None = None

    def close(self) -> None:
        if self._ctx:
            self._lib.llama_batch_free(self._batch)
            self._lib.llama_free(self._ctx)
            self._ctx = None

    def _on_tensor(self, pointer: int, ask: bool, _user: Any) -> bool:
        tensor = _GgmlTensor.from_address(pointer)
        name = tensor.name
        if not name.startswith(_LAYER_PREFIX):
            return False if ask else True
        if ask:
            return True
        try:
            layer = int(name[len(_LAYER_PREFIX):])
            width, rows = tensor.ne[0], tensor.ne[1]
            if rows == 0:  # the last layer in a chunk that asks for no logits
                return True
            if tensor.type != _F32 or width != self.n_embd or not 0 <= layer < self.n_layers or rows < 0:
                raise ValueError(f"{name!r}: type {tensor.type}, shape ({width}, {rows})")
            values = np.ctypeslib.as_array(ctypes.cast(tensor.data, ctypes.POINTER(ctypes.c_float)),
                                           shape=(rows * tensor.nb[1] // 4,))
            matrix = np.lib.stride_tricks.as_strided(values, shape=(rows, width), strides=(tensor.nb[1], 4))
            self._last[layer] = matrix[-1]
            if layer < self.n_layers - 1:
                self._sum[layer] += matrix.sum(axis=0, dtype=np.float64)
            self._seen.add(layer)
        except (ValueError, OverflowError) as exc:
            self._error = f"llama.cpp's tensor layout is not the one this reader knows ({exc})"
            return True
        if layer == self._stop_after and self._seen >= set(range(layer + 1)):
            try:
                self._stop = self._stop_when is None or bool(self._stop_when(self._state()))
            except Exception as exc:  # raised inside llama.cpp's callback: reported after the decode
                self._error = f"stop_when failed ({type(exc).__name__}: {exc})"
        return True

    def _state(self) -> PrefillState:
        mean = (self._sum[:-1] / self._n_tokens).astype(np.float32)
        return PrefillState(last=self._last.copy(), mean=mean, n_tokens=self._n_tokens)

    def read(self, tokens: Sequence[int], up_to_layer: int | None = None,
             stop_when: Callable[[PrefillState], bool] | None = None) -> PrefillState:
        """Prefill ``tokens`` (a fresh KV cache each call) and return their per-layer states. With
        ``up_to_layer`` the prefill stops once that layer is read (the layers after it are zeros; ``partial``),
        or, given ``stop_when``, only when it returns True on the states read so far (called once, inside the
        decode, so keep it quick; if it raises, the read fails with ``LocalModelError``)."""
        if not tokens:
            raise LocalModelError("A prefill state needs at least one prompt token.")
        if len(tokens) > self.n_ctx:
            raise LocalModelError(f"The prompt has {len(tokens)} tokens, more than the {self.n_ctx}-token context.")
        self._last[:] = 0.0
        self._sum[:] = 0.0
        self._seen.clear()
        self._error = None
        if up_to_layer is not None and not 0 <= up_to_layer < self.n_layers:
            raise LocalModelError(f"up_to_layer must be 0 to {self.n_layers - 1}, not {up_to_layer}.")
        if stop_when is not None and up_to_layer is None:
            raise LocalModelError("stop_when needs up_to_layer: the layer at which it is asked.")
        self._stop, self._stop_when, self._n_tokens = False, stop_when, len(tokens)
        self._lib.llama_memory_clear(self._memory, True)
        batch = self._batch
        for begin in range(0, len(tokens), N_UBATCH):
            chunk = tokens[begin:begin + N_UBATCH]
            last_chunk = begin + N_UBATCH >= len(tokens)
            self._stop_after = up_to_layer if last_chunk else None  # earlier chunks fill the cache whole
            batch.n_tokens = len(chunk)
            for i, token in enumerate(chunk):
                batch.token[i] = token
                batch.pos[i] = begin + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = begin + i == len(tokens) - 1
            with _quiet(up_to_layer is not None and last_chunk):
                status = self._lib.llama_decode(self._ctx, batch)
            if status == _ABORTED and self._stop and last_chunk:
                break  # stopped on purpose, in the chunk holding the last token
            if status != 0:
                raise LocalModelError("llama.cpp failed to decode a prompt while reading its prefill state.")
        self.partial = self._stop
        if self._error is not None:
            raise LocalModelError(self._error + "; pin llama-cpp-python to a version this SDK supports.")
        if not self.partial and len(self._seen) != self.n_layers:
            raise LocalModelError(f"llama.cpp reported {len(self._seen)} of {self.n_layers} layer outputs "
                                  "(l_out-N); this model's graph does not name them as expected.")
        return self._state()

    def hand_over(self, target_ctx: Any) -> bool:
        """Copy the last prompt's KV cache into ``target_ctx``'s sequence 0 (replacing what it held), so that
        answering the same prompt there needs no second prefill; False when llama.cpp refuses the copy or the
        last read stopped early."""
        if self.partial:
            return False
        self._lib.llama_memory_clear(self._lib.llama_get_memory(target_ctx), True)
        return copy_sequence(self._lib, self._ctx, target_ctx)

