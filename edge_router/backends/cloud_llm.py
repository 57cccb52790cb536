"""The cloud model: any OpenAI-compatible chat-completions API, over ``requests`` (``achat``: over ``httpx``).

Outcomes, by what the server does:

- 2xx with a well-formed body: the answer.
- 408, 409, 429, 5xx, connection failure or timeout: retried up to ``max_retries``
  times with capped exponential backoff (a ``Retry-After`` header, in seconds or
  as an HTTP date, is honoured up to ``max_retry_after``); then ``CloudHTTPError``
  or ``CloudTimeoutError``.
- any other 4xx: ``CloudHTTPError`` at once (retrying would not help).
- a malformed body, or a stream cut before ``[DONE]``: ``CloudResponseError``,
  carrying the text already received in ``partial_text``.

The API key goes only into the Authorization header; it never appears in a
repr, an error message or a log line.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any, Iterator

from .. import defaults, settings
from ..errors import CloudResponseError, ConfigurationError, InvalidInputError
from .cloud_retries import Attempts, error_detail, parse_retry_after
from .completions import Completion, Prices, Sample, Sampling, Usage
from .messages import Messages, normalize


class CloudLLM:
    """Chat completions from an OpenAI-compatible endpoint.

    ``base_url`` (for example ``https://api.openai.com/v1``), ``api_key`` and
    ``model`` fall back to ``EDGE_ROUTER_CLOUD_BASE_URL``,
    ``EDGE_ROUTER_CLOUD_API_KEY`` and ``EDGE_ROUTER_CLOUD_MODEL``. ``prices``
    turns token usage into USD; without it the cost is reported as unknown.
    ``extra_body`` goes into every request as it is (for example a llama.cpp
    server's ``{"top_k": 0, "min_p": 0}`` for unrestricted sampling).
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        deadline_s: float | None = defaults.CLOUD_DEADLINE_S,
        first_byte_s: float | None = defaults.CLOUD_FIRST_BYTE_S,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        max_retry_after: float = 60.0,
        prices: Prices | None = None,
        extra_body: dict[str, Any] | None = None,
        name: str | None = None,
    ):
        import requests

        base_url = base_url or settings.cloud_setting(settings.CLOUD_BASE_URL_ENV)
        model = model or settings.cloud_setting(settings.CLOUD_MODEL_ENV)
        if not base_url:
            raise ConfigurationError(
                f"No cloud endpoint: pass base_url= or set {settings.CLOUD_BASE_URL_ENV} "
                "(for example https://api.openai.com/v1)."
            )
        if not model:
            raise ConfigurationError(
                f"No cloud model: pass model= or set {settings.CLOUD_MODEL_ENV} (for example gpt-4o-mini)."
            )
        if max_retries < 0:
            raise ConfigurationError(f"max_retries must be 0 or more, not {max_retries}.")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"The cloud base URL {base_url!r} has no scheme; write it as http://{base_url} or https://{base_url} "
                f"(base_url= or {settings.CLOUD_BASE_URL_ENV})."
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = name or model  # how a fallback chain, a decision and serve's /v1/models call this endpoint
        self.id = f"cloud:{self.name}"
        self._api_key = api_key or settings.cloud_setting(settings.CLOUD_API_KEY_ENV)
        self.timeout = (connect_timeout, read_timeout)
        self.deadline_s = deadline_s
        self.first_byte_s = first_byte_s
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self.prices = prices
        self.extra_body = dict(extra_body or {})
        self._requests = requests
        self._session = requests.Session()

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"CloudLLM(base_url={self.base_url!r}, model={self.model!r}, api_key={key})"

    def close(self) -> None:
        self._session.close()

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        parsed = parse_retry_after(retry_after)
        if parsed is not None:
            return min(parsed, self.max_retry_after)
        delay = min(self.backoff_cap, self.backoff_base * 2**attempt)
        return delay * random.uniform(0.5, 1.0)

    def _post(self, payload: dict[str, Any], *, stream: bool) -> Any:
        """POST with retries, all within the deadline (``first_byte_s`` for a stream's first byte,
        ``deadline_s`` for a whole answer); returns a 2xx response or raises a ``CloudError``."""
        requests = self._requests
        attempts = Attempts(self, stream=stream)
        while (timeout := attempts.next_timeout()) is not None:
            try:
                resp = self._session.post(attempts.url, json=payload, headers=self._headers(), timeout=timeout,
                                          stream=stream)
            except requests.Timeout:
                attempts.timed_out(timeout)
            except requests.ConnectionError as exc:
                attempts.unreachable(exc)
            else:
                if resp.status_code < 300:
                    return resp
                detail = error_detail(resp.text, resp.reason)
                resp.close()
                attempts.http_error(resp.status_code, detail, resp.headers.get("Retry-After"))
            delay = attempts.delay()
            if delay is None:
                break
            time.sleep(delay)
        raise attempts.final_error()

    async def achat(self, messages: Messages | str, *, max_tokens: int | None = None,
                    sampling: Sampling | None = None) -> Completion:
        """``chat`` over an async HTTP client (``httpx``, the ``async`` extra): the same request, retries,
        deadline and errors, without a thread."""
        from .async_cloud import async_post

        payload = self._payload(messages, {"max_tokens": max_tokens,
                                           **(sampling.request_fields() if sampling else {})})
        return self._completion(await async_post(self, payload))

    def _payload(self, messages: Messages | str, params: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": self.model, "messages": normalize(messages), **self.extra_body}
        payload.update({k: v for k, v in params.items() if v is not None})
        return payload

    def _json(self, resp: Any) -> dict[str, Any]:
        """The response body, with at least one choice, or ``CloudResponseError``."""
        try:
            body = resp.json()
            if not isinstance(body, dict) or not body.get("choices"):
                raise ValueError("no choices")
        except ValueError as exc:
            raise CloudResponseError(
                f"The cloud answer from {self.base_url} is malformed ({exc}); "
                "is the base URL an OpenAI-compatible /v1 endpoint?"
            ) from exc
        return body

    def _cost(self, usage: Usage | None) -> float | None:
        return self.prices.cost(usage) if (self.prices and usage) else None

    def chat(
        self, messages: Messages | str, *, max_tokens: int | None = None, temperature: float | None = None,
        sampling: Sampling | None = None,
    ) -> Completion:
        """One answer, not streamed; ``sampling`` adds temperature, top_p, seed, stop and penalties."""
        payload = self._payload(messages, {"max_tokens": max_tokens, "temperature": temperature,
                                           **(sampling.request_fields() if sampling else {})})
        return self._completion(self._post(payload, stream=False))

    def _completion(self, resp: Any) -> Completion:
        """The answer in a 2xx response, or ``CloudResponseError``."""
        body = self._json(resp)
        try:
            choice = body["choices"][0]
            text = _sample(choice).text
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise CloudResponseError(
                f"The cloud answer from {self.base_url} is malformed ({type(exc).__name__}: {exc}); "
                "is the base URL an OpenAI-compatible /v1 endpoint?"
            ) from exc
        usage = _parse_usage(body.get("usage"))
        return Completion(
            text=text,
            finish_reason=choice.get("finish_reason") or "stop",
            model=body.get("model") or self.model,
            usage=usage,
            cost_usd=self._cost(usage),
        )

    def sample(
        self, messages: Messages | str, k: int, *, temperature: float = 1.0, max_tokens: int = 64
    ) -> list[Sample]:
        """``k`` answers sampled at ``temperature``, asked for as ``n = k`` in one request; an endpoint that
        answers fewer choices (no ``n`` support) is asked again, one sample per request. Token
        log-probabilities are kept where the endpoint returns them."""
        if not isinstance(k, int) or k < 1:
            raise InvalidInputError(f"k must be a positive integer, not {k!r}.")
        if temperature <= 0:
            raise InvalidInputError(f"temperature must be positive for sampling, not {temperature}.")
        samples: list[Sample] = []
        n = k
        while len(samples) < k:
            payload = self._payload(messages, {"max_tokens": max_tokens, "temperature": temperature,
                                               "n": n if n > 1 else None, "logprobs": True, "top_logprobs": 1})
            choices = self._json(self._post(payload, stream=False))["choices"]
            try:
                samples += [_sample(choice) for choice in choices[: k - len(samples)]]
            except (KeyError, TypeError) as exc:
                raise CloudResponseError(f"A sampled answer from {self.base_url} is malformed ({exc}).") from exc
            n = 1
        return samples

    def stream(
        self, messages: Messages | str, *, max_tokens: int | None = None, temperature: float | None = None,
        sampling: Sampling | None = None,
    ) -> CloudStream:
        """A streamed answer. The request is sent (and retried) before this returns."""
        payload = self._payload(
            messages,
            {"max_tokens": max_tokens, "temperature": temperature, "stream": True,
             "stream_options": {"include_usage": True}, **(sampling.request_fields() if sampling else {})},
        )
        return CloudStream(self, self._post(payload, stream=True))


class CloudStream:
    """Iterate for text pieces; afterwards ``completion`` holds the whole answer.

    A stream that ends without ``data: [DONE]`` or breaks mid-way raises
    ``CloudResponseError`` whose ``partial_text`` is everything received.
    """

    def __init__(self, cloud: CloudLLM, response: Any):
        self._cloud = cloud
        self._response = response
        self.completion: Completion | None = None

    def __iter__(self) -> Iterator[str]:
        pieces: list[str] = []
        usage = None
        finish = None
        model = self._cloud.model
        try:
            for line in self._response.iter_lines(decode_unicode=True):
                if not line or not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    text = "".join(pieces)
                    self.completion = Completion(
                        text=text.strip(), finish_reason=finish or "stop", model=model,
                        usage=usage, cost_usd=self._cloud._cost(usage),
                    )
                    return
                chunk = json.loads(data)
                model = chunk.get("model") or model
                usage = _parse_usage(chunk.get("usage")) or usage
                for choice in chunk.get("choices") or []:
                    finish = choice.get("finish_reason") or finish
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        pieces.append(piece)
                        yield piece
            raise CloudResponseError(
                f"The cloud stream from {self._cloud.base_url} ended before [DONE] after "
                f"{len(pieces)} pieces; the partial answer is in partial_text.",
                partial_text="".join(pieces),
            )
        except (ValueError, self._cloud._requests.RequestException) as exc:
            if isinstance(exc, CloudResponseError):
                raise
            raise CloudResponseError(
                f"The cloud stream from {self._cloud.base_url} broke after {len(pieces)} pieces "
                f"({type(exc).__name__}); the partial answer is in partial_text.",
                partial_text="".join(pieces),
            ) from exc
        finally:
            self._response.close()


def _sample(choice: dict) -> Sample:
    text = choice["message"]["content"]
    if not isinstance(text, str):
        raise TypeError("message.content is not a string")
    content = (choice.get("logprobs") or {}).get("content") or []
    return Sample(text=text.strip(), token_logprobs=tuple(float(t["logprob"]) for t in content))


def _parse_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    try:
        return Usage(prompt_tokens=int(raw["prompt_tokens"]), completion_tokens=int(raw["completion_tokens"]))
    except (KeyError, TypeError, ValueError):
        return None
