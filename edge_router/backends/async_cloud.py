"""A cloud endpoint over an async HTTP client (``httpx``, the ``async`` extra): one ``AsyncClient`` per event loop
and endpoint, the request retried on ``CloudLLM``'s schedule (``cloud_retries.Attempts``). A cancelled task
closes its connection."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from ..errors import require
from .cloud_retries import Attempts, error_detail

_CLIENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> {CloudLLM: httpx.AsyncClient}


def _client(httpx: Any, cloud: Any) -> Any:
    clients = _CLIENTS.setdefault(asyncio.get_running_loop(), weakref.WeakKeyDictionary())
    if cloud not in clients:
        clients[cloud] = httpx.AsyncClient()
    return clients[cloud]


async def aclose_clients() -> None:
    """Close the clients this event loop opened."""
    for client in list(_CLIENTS.pop(asyncio.get_running_loop(), {}).values()):
        await client.aclose()


async def async_post(cloud: Any, payload: dict[str, Any]) -> Any:
    """POST ``payload`` to ``cloud``'s chat completions with its retries and deadline: a 2xx ``httpx`` response,
    or the ``CloudError`` the blocking client would raise."""
    httpx = require("httpx", "'edge-router[async]'")
    attempts = Attempts(cloud, stream=False)
    client = _client(httpx, cloud)
    while (timeout := attempts.next_timeout()) is not None:
        try:
            resp = await client.post(attempts.url, json=payload, headers=cloud._headers(),
                                     timeout=httpx.Timeout(timeout[1], connect=timeout[0]))
        except httpx.TimeoutException:
            attempts.timed_out(timeout)
        except httpx.TransportError as exc:
            attempts.unreachable(exc)
        else:
            if resp.status_code < 300:
                return resp
            attempts.http_error(resp.status_code, error_detail(resp.text, resp.reason_phrase),
                                resp.headers.get("Retry-After"))
        delay = attempts.delay()
        if delay is None:
            break
        await asyncio.sleep(delay)
    raise attempts.final_error()
