"""The model cache with real files, real `pip download` of a local wheel, and a real loopback HTTP source."""

from __future__ import annotations

import hashlib
import http.server
import logging
import threading
import zipfile
from functools import partial
from pathlib import Path

import pytest

from edge_router.errors import ChecksumMismatchError, ModelDownloadError, ModelNotFoundError, OfflineModeError
from edge_router.files import model_store, registry
from edge_router.files.registry import ModelSpec, PackageSource, Part, UrlSource, WheelPartsSource, WheelSource

PAYLOAD = b"edge-router test model bytes\n" * 1000
MEMBER = "fakemodelpkg/data/model.bin"


def _make_wheel(folder: Path, name: str = "fakemodelpkg", member: str = MEMBER, payload: bytes = PAYLOAD) -> Path:
    """A real wheel file holding ``payload`` as ``member`` (a data-only package, like the model part wheels)."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-1.0.0-py3-none-any.whl"
    dist = f"{name}-1.0.0.dist-info"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(f"{name}/__init__.py", "")
        zf.writestr(member, payload)
        zf.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0.0\n")
        zf.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{dist}/RECORD", "")
    return wheel


def _spec(*sources, sha256: str | None = None, size: int | None = None) -> ModelSpec:
    return ModelSpec(
        name="test-model", role="test", filename="model.bin",
        sha256=sha256 or hashlib.sha256(PAYLOAD).hexdigest(), size=size or len(PAYLOAD),
        license="MIT", description="", sources=tuple(sources),
    )


@pytest.fixture
def wheel_index(tmp_path, monkeypatch):
    """pip resolves packages from a local folder only (real pip, no network)."""
    links = tmp_path / "links"
    _make_wheel(links)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.setenv("EDGE_ROUTER_CACHE", str(tmp_path / "cache"))
    return links


WHEEL = WheelSource(package="fakemodelpkg", version="1.0.0", member=MEMBER)


def test_wheel_member_is_fetched_verified_and_cached(wheel_index, tmp_path, monkeypatch):
    spec = _spec(WHEEL)
    path = model_store.resolve(spec)
    assert path == tmp_path / "cache" / "models" / "test-model" / "model.bin"
    assert path.read_bytes() == PAYLOAD
    assert model_store.is_cached(spec)
    assert not list(path.parent.glob("*.incomplete"))

    # A second resolve is a cache hit: with the wheel gone, a fetch would fail.
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "empty"))
    assert model_store.resolve(spec) == path


def test_corrupted_cache_file_is_detected_and_refetched(wheel_index, caplog):
    spec = _spec(WHEEL)
    path = model_store.resolve(spec)
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))  # same size, new mtime
    assert not model_store.is_cached(spec)
    with caplog.at_level(logging.WARNING):
        again = model_store.resolve(spec)
    assert again.read_bytes() == PAYLOAD
    assert "corrupted" in caplog.text


def test_checksum_mismatch_keeps_nothing(wheel_index, tmp_path):
    spec = _spec(WHEEL, sha256="0" * 64)
    with pytest.raises(ChecksumMismatchError) as info:
        model_store.resolve(spec)
    assert "not kept" in str(info.value)
    folder = tmp_path / "cache" / "models" / "test-model"
    assert list(folder.iterdir()) == []


def test_offline_mode_names_the_file_and_the_fix(wheel_index, monkeypatch):
    monkeypatch.setenv("EDGE_ROUTER_OFFLINE", "1")
    with pytest.raises(OfflineModeError) as info:
        model_store.resolve(_spec(WHEEL))
    message = str(info.value)
    assert "model.bin" in message and "edge-router models pull test-model" in message
    assert isinstance(info.value, ConnectionError)


def test_offline_mode_with_corrupted_cache_says_how_to_fix(wheel_index, monkeypatch):
    spec = _spec(WHEEL)
    path = model_store.resolve(spec)
    path.write_bytes(b"x" * len(PAYLOAD))
    monkeypatch.setenv("EDGE_ROUTER_OFFLINE", "1")
    with pytest.raises(ChecksumMismatchError, match="models pull test-model"):
        model_store.resolve(spec)


def test_missing_package_is_a_download_error(wheel_index):
    spec = _spec(WheelSource(package="nosuchpkg", version="9.9", member="x"))
    with pytest.raises(ModelDownloadError, match="nosuchpkg"):
        model_store.resolve(spec)


def test_explicit_path_wins_and_missing_path_is_clear(tmp_path):
    own = tmp_path / "mine.bin"
    own.write_bytes(b"my own model")
    assert model_store.resolve(_spec(WHEEL), own) == own
    with pytest.raises(ModelNotFoundError) as info:
        model_store.resolve(_spec(WHEEL), tmp_path / "nope.bin")
    assert isinstance(info.value, FileNotFoundError)


def test_url_source_over_loopback_http(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    (served / "model.bin").write_bytes(PAYLOAD)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("EDGE_ROUTER_CACHE", str(tmp_path / "cache"))
    try:
        bad = UrlSource(url=f"http://127.0.0.1:{server.server_address[1]}/missing.bin")
        good = UrlSource(url=f"http://127.0.0.1:{server.server_address[1]}/model.bin")
        path = model_store.resolve(_spec(bad, good))  # the first source 404s, the second works
        assert path.read_bytes() == PAYLOAD
    finally:
        server.shutdown()
        server.server_close()


def test_registry_defaults_are_complete():
    for role in ("local-llm", "embedder", "tokenizer"):
        spec = registry.default_spec(role)
        assert len(spec.sha256) == 64 and spec.size > 0 and spec.sources
    with pytest.raises(ModelNotFoundError, match="Known models"):
        registry.get_spec("gpt-17")


def test_package_source_copies_a_shipped_model_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_ROUTER_CACHE", str(tmp_path / "cache"))
    spec = registry.get_spec("all-minilm-l6-v2-onnx-dynint8")
    path = model_store.resolve(spec)
    assert path.is_file() and path.stat().st_size == spec.size
    assert model_store.sha256_of(path) == spec.sha256
    missing = _spec(registry.PackageSource(package="edge_router_models", member="embedders/nope.onnx"))
    with pytest.raises(ModelDownloadError, match="nope.onnx"):
        model_store.resolve(missing)


# A model split across three part wheels, as the Qwen models are on the package index.
PART_PAYLOADS = [bytes([i]) * (3000 + i) for i in range(1, 4)]
WHOLE = b"".join(PART_PAYLOADS)


def _part(i: int, payload: bytes = b"") -> Part:
    payload = payload or PART_PAYLOADS[i - 1]
    return Part(package=f"modelpart{i}", version="1.0.0", member=f"modelpart{i}/data/part{i:02d}.bin",
                sha256=hashlib.sha256(payload).hexdigest(), size=len(payload))


PARTS = WheelPartsSource(parts=tuple(_part(i) for i in (1, 2, 3)))


def _parts_spec() -> ModelSpec:
    return ModelSpec(name="split-model", role="test", filename="split.gguf", sha256=hashlib.sha256(WHOLE).hexdigest(),
                     size=len(WHOLE), license="MIT", description="", sources=(PARTS,))


@pytest.fixture
def parts_index(tmp_path, monkeypatch):
    links = tmp_path / "links"
    for i, payload in enumerate(PART_PAYLOADS, 1):
        _make_wheel(links, f"modelpart{i}", f"modelpart{i}/data/part{i:02d}.bin", payload)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.setenv("EDGE_ROUTER_CACHE", str(tmp_path / "cache"))
    return links


def test_a_split_model_is_fetched_part_by_part_verified_and_assembled(parts_index, capsys):
    spec = _parts_spec()
    path = model_store.resolve(spec, progress=True)
    assert path.read_bytes() == WHOLE and model_store.is_cached(spec)
    assert not model_store.parts_dir(spec).exists(), "parts are removed once the whole file is in place"
    assert "fetching split.gguf" in capsys.readouterr().err  # one bar over the whole model


def test_a_corrupted_part_is_named_and_nothing_is_cached(parts_index):
    _make_wheel(parts_index, "modelpart2", "modelpart2/data/part02.bin", b"\x00" * len(PART_PAYLOADS[1]))
    spec = _parts_spec()
    with pytest.raises(ChecksumMismatchError, match="Part 2 of 3") as info:
        model_store.resolve(spec)
    assert "modelpart2==1.0.0" in str(info.value)
    assert not model_store.cached_path(spec).exists()
    assert sorted(p.name for p in model_store.parts_dir(spec).iterdir()) == ["part001"]  # only verified parts


def test_a_missing_part_fails_clearly_and_the_next_pull_resumes_from_the_verified_parts(parts_index):
    (parts_index / "modelpart3-1.0.0-py3-none-any.whl").unlink()
    spec = _parts_spec()
    with pytest.raises(ModelDownloadError, match="modelpart3==1.0.0"):
        model_store.resolve(spec)
    assert not model_store.cached_path(spec).exists()
    # Resume: parts 1 and 2 are not fetched again (their wheels are gone now), part 3 is.
    for i in (1, 2):
        (parts_index / f"modelpart{i}-1.0.0-py3-none-any.whl").unlink()
    _make_wheel(parts_index, "modelpart3", "modelpart3/data/part03.bin", PART_PAYLOADS[2])
    assert model_store.resolve(spec).read_bytes() == WHOLE


def test_an_interrupted_part_is_fetched_again(parts_index, caplog):
    spec = _parts_spec()
    folder = model_store.parts_dir(spec)
    folder.mkdir(parents=True)
    (folder / "part001").write_bytes(PART_PAYLOADS[0][:100])  # a pull stopped mid-way through part 1
    with caplog.at_level(logging.WARNING):
        assert model_store.resolve(spec).read_bytes() == WHOLE
    assert "part 1 of split-model" in caplog.text


def test_offline_mode_names_the_missing_split_model(parts_index, monkeypatch):
    monkeypatch.setenv("EDGE_ROUTER_OFFLINE", "1")
    with pytest.raises(OfflineModeError, match="edge-router models pull split-model"):
        model_store.resolve(_parts_spec())


def test_the_registry_describes_both_qwen_models_part_by_part():
    for name, n_parts in (("qwen2.5-coder-0.5b-instruct-q4_k_m", 6), ("qwen2.5-coder-1.5b-instruct-q4_k_m", 22)):
        spec = registry.get_spec(name)
        (source,) = spec.sources
        assert isinstance(source, WheelPartsSource) and len(source.parts) == n_parts
        assert sum(p.size for p in source.parts) == spec.size
        assert [int(p.member.rsplit("part", 1)[1][:2]) for p in source.parts] == list(range(1, n_parts + 1))
        assert spec.license == "Apache-2.0" and "anonymous" in spec.provenance
    assert registry.default_spec("local-llm").name == "qwen2.5-coder-0.5b-instruct-q4_k_m"


def _spec_from_package(name: str, package: str, install: str | None) -> ModelSpec:
    return ModelSpec(name=name, role="nli", filename=f"{name}.bin", sha256="0" * 64, size=1, license="MIT",
                     description="d", sources=(PackageSource(package, "x.bin", install),))


def test_a_file_of_an_optional_package_that_is_absent_says_which_extra_installs_it(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_ROUTER_CACHE", str(tmp_path))
    spec = _spec_from_package("optional-model", "edge_router_no_such_package", "pip install 'edge-router[x]'")
    with pytest.raises(ModelDownloadError, match=r"not installed: pip install 'edge-router\[x\]'"):
        model_store.resolve(spec)


@pytest.mark.real_models
def test_the_default_decision_loads_nothing_from_the_extra_models_distribution(monkeypatch, cloud_server):
    """The core wheel carries what the default decision loads: no file of ``edge-router-extra-models`` is
    resolved to build the default router and answer through it."""
    from edge_router import CloudLLM, EdgeRouter

    resolved, real = [], model_store.resolve
    monkeypatch.setattr(model_store, "resolve", lambda spec, *a, **k: resolved.append(spec.name) or real(spec, *a, **k))
    router = EdgeRouter.from_defaults(cloud=CloudLLM(base_url=cloud_server.base_url, model="m"),
                                      local_model="smollm2-135m-instruct-q4_1")
    assert router.chat("What is the capital of France?", max_tokens=8).text
    extra = {spec.name for spec in registry.all_specs() for s in spec.sources
             if isinstance(s, PackageSource) and s.package == "edge_router_extra_models"}
    assert {"nli-minilm-l6-int8", "minilm-l6-v2-static"} <= extra
    assert resolved and not extra & set(resolved)
