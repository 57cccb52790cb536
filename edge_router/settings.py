"""Every environment setting edge-router reads, parsed in one place.

Values are read when asked for, not at import, so a process (or a test) can
change the environment before it builds a router.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigurationError

CACHE_ENV = "EDGE_ROUTER_CACHE"
OFFLINE_ENV = "EDGE_ROUTER_OFFLINE"
TRACE_ENV = "EDGE_ROUTER_TRACE"
CLOUD_BASE_URL_ENV = "EDGE_ROUTER_CLOUD_BASE_URL"
CLOUD_API_KEY_ENV = "EDGE_ROUTER_CLOUD_API_KEY"
CLOUD_MODEL_ENV = "EDGE_ROUTER_CLOUD_MODEL"
CLOUD_PRICES_ENV = "EDGE_ROUTER_CLOUD_PRICES"
SERVER_TOKEN_ENV = "EDGE_ROUTER_SERVER_TOKEN"
DATA_ENV = "EDGE_ROUTER_DATA"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def cache_dir() -> Path:
    """Where model files are cached: ``$EDGE_ROUTER_CACHE`` or the platform's user cache."""
    override = os.environ.get(CACHE_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_path("edge-router"))


def offline() -> bool:
    """True when ``EDGE_ROUTER_OFFLINE`` forbids network access."""
    value = os.environ.get(OFFLINE_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{OFFLINE_ENV}={value!r} is not a boolean; set it to 1 or 0.")


def data_dir() -> Path:
    """The shared benchmark data folder: ``$EDGE_ROUTER_DATA`` or ``../shared/data`` from the current directory."""
    value = os.environ.get(DATA_ENV, "").strip()
    return Path(value).expanduser() if value else Path.cwd().parent / "shared" / "data"


def server_token() -> str | None:
    """The bearer token ``edge-router serve`` requires off loopback (``EDGE_ROUTER_SERVER_TOKEN``)."""
    return cloud_setting(SERVER_TOKEN_ENV)


def trace_path() -> Path | None:
    """The JSONL file every decision is appended to, if ``EDGE_ROUTER_TRACE`` is set."""
    value = os.environ.get(TRACE_ENV, "").strip()
    return Path(value).expanduser() if value else None


def cloud_setting(name: str) -> str | None:
    """One of the ``EDGE_ROUTER_CLOUD_*`` settings, or None when unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or None


def cloud_prices() -> tuple[float, float] | None:
    """USD per million input and output tokens from ``EDGE_ROUTER_CLOUD_PRICES`` ("0.15,0.60"), if set."""
    value = cloud_setting(CLOUD_PRICES_ENV)
    return None if value is None else parse_prices(value, CLOUD_PRICES_ENV)


def parse_prices(text: str, where: str) -> tuple[float, float]:
    """"IN,OUT" as two non-negative numbers, or a ``ConfigurationError`` that shows the form."""
    try:
        prices = tuple(float(part) for part in text.split(","))
    except ValueError:
        prices = ()
    if len(prices) != 2 or min(prices) < 0:
        raise ConfigurationError(f"{where}={text!r}: give two prices in USD per million tokens, input and "
                                 "output, for example 0.15,0.60.")
    return prices  # type: ignore[return-value]
