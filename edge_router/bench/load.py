"""A bounded load on an ``edge-router serve`` endpoint: N requests, C at a time, half forced to each route."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from .stats import summarize


def _one(base_url: str, i: int, max_tokens: int, timeout: float) -> dict:
    import requests

    route = "local" if i % 2 == 0 else "cloud"
    body = {"model": "edge-router", "max_tokens": max_tokens, "edge_router": {"force": route},
            "messages": [{"role": "user", "content": f"Request {i}: name a colour."}]}
    t0 = time.perf_counter()
    try:
        resp = requests.post(f"{base_url}/v1/chat/completions", json=body, timeout=timeout)
        ok = resp.status_code == 200
        data = resp.json() if ok else {}
        error = None if ok else f"HTTP {resp.status_code}: {resp.text[:200]}"
    except Exception as exc:  # every failure is counted and reported, none is raised
        ok, data, error = False, {}, f"{type(exc).__name__}: {exc}"
    return {"i": i, "wanted": route, "ok": ok, "error": error, "ms": (time.perf_counter() - t0) * 1e3,
            "route": data.get("edge_router", {}).get("route"), "text": (data.get("choices") or [{}])[0]
            .get("message", {}).get("content")}


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
