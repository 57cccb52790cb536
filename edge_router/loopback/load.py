"""A bounded load on an ``edge-router serve`` endpoint: N requests, C at a time, half forced to each route."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

from ..bench.stats import summarize


def _one(base_url: str, i: int, max_tokens: int, timeout: float) -> dict:
    """Request ``i``: even ones forced local, odd ones forced to the cloud; every fourth one streamed."""
    import requests

    route = "local" if i % 2 == 0 else "cloud"
    stream = i % 4 == 1
    body = {"model": "edge-router", "max_tokens": max_tokens, "edge_router": {"force": route}, "stream": stream,
            "messages": [{"role": "user", "content": f"Request {i}: name a colour."}]}
    t0 = time.perf_counter()
    info, text = {}, None
    try:
        resp = requests.post(f"{base_url}/v1/chat/completions", json=body, timeout=timeout, stream=stream)
        ok = resp.status_code == 200
        error = None if ok else f"HTTP {resp.status_code}: {resp.text[:200]}"
        if ok and stream:
            text, info, error = _read_events(resp)
            ok = error is None
        elif ok:
            data = resp.json()
            info, text = data.get("edge_router", {}), data["choices"][0]["message"]["content"]
    except Exception as exc:  # every failure is counted and reported, none is raised
        ok, error = False, f"{type(exc).__name__}: {exc}"
    return {"i": i, "wanted": route, "stream": stream, "ok": ok, "error": error,
            "ms": (time.perf_counter() - t0) * 1e3, "route": info.get("route"),
            "degraded": info.get("degraded"), "text": text}


def _read_events(resp) -> tuple[str, dict, str | None]:
    """The text, the ``edge_router`` object of the last chunk, and an error event's message (or None)."""
    pieces, info, error = [], {}, None
    for line in resp.iter_lines(decode_unicode=True):
        if not line or not line.startswith("data:") or line == "data: [DONE]":
            continue
        chunk = json.loads(line[5:])
        if "error" in chunk:
            error = chunk["error"]["message"]
            continue
        info = chunk.get("edge_router", info)
        for choice in chunk.get("choices") or []:
            pieces.append((choice.get("delta") or {}).get("content") or "")
    return "".join(pieces), info, error


def run_load(base_url: str, *, requests_total: int = 200, concurrency: int = 8, max_tokens: int = 8,
             timeout: float = 120.0) -> dict:
    """Send the load; return per-request rows and a summary (errors, latency by route, throughput)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        rows = list(pool.map(lambda i: _one(base_url, i, max_tokens, timeout), range(requests_total)))
    elapsed = time.perf_counter() - started
    summary = {"requests": requests_total, "concurrency": concurrency, "seconds": elapsed,
               "throughput_rps": requests_total / elapsed, "errors": sum(not r["ok"] for r in rows),
               "error_samples": [r["error"] for r in rows if not r["ok"]][:5]}
    for route in ("local", "cloud"):
        ms = [r["ms"] for r in rows if r["ok"] and r["wanted"] == route]
        summary[f"{route}_ms"] = summarize(ms) if ms else None
    return {"rows": rows, "summary": summary}
