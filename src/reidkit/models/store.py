"""Find, download and verify model files; no inference here.

Resolution order for a model name: every folder in ``REIDKIT_MODELS`` (os.pathsep-separated), then the
user cache, then a download from the catalog URLs (or ``REIDKIT_MODEL_MIRROR``, a server with the same
layout) with a sha256 check and an atomic rename into the cache.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from reidkit.errors import DownloadError, ModelNotFoundError
from reidkit.models.catalog import FileSpec, ModelSpec, get_spec

PRECISION_PREFERENCE = ("FP32", "FP16", "FP16-INT8")
MODEL_SUFFIXES = (".xml", ".onnx")


@dataclass(frozen=True)
class ResolvedModel:
    """A model file on disk, with its catalog entry (None for a file given by path only)."""

    path: Path
    spec: ModelSpec | None
    precision: str | None

    @property
    def name(self) -> str:
        """The catalog name, or the file stem for a model given by path."""
        return self.spec.name if self.spec else self.path.stem


def default_cache_dir() -> Path:
    """Where downloaded models are kept: $REIDKIT_CACHE/models or the platform's user cache."""
    if os.environ.get("REIDKIT_CACHE"):
        return Path(os.environ["REIDKIT_CACHE"]) / "models"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("reidkit")) / "models"


def env_roots() -> list[Path]:
    """Folders listed in REIDKIT_MODELS, in order."""
    raw = os.environ.get("REIDKIT_MODELS", "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def looks_like_path(model: str | os.PathLike) -> bool:
    """True when `model` names a file rather than a catalog entry."""
    text = os.fspath(model)
    return text.endswith(MODEL_SUFFIXES) or os.sep in text or (os.altsep or os.sep) in text


class ModelStore:
    """Locates model files by name in local roots and the cache, downloading when allowed."""

    def __init__(
        self,
        roots: list[Path] | None = None,
        cache_dir: Path | None = None,
        mirror: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.roots = list(roots) if roots is not None else env_roots()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.mirror = mirror if mirror is not None else os.environ.get("REIDKIT_MODEL_MIRROR")
        self.timeout = timeout

    # -- lookup ---------------------------------------------------------------------------------
    def search_roots(self) -> list[Path]:
        """Local folders searched, in order: REIDKIT_MODELS entries, then the cache."""
        return [*self.roots, self.cache_dir]

    def find_local(self, spec: ModelSpec, precision: str) -> Path | None:
        """The main file of `precision` in the first root holding all its parts, else None."""
        rel = spec.relative_path(precision)
        for root in self.search_roots():
            main = root / rel
            if main.is_file() and (spec.format != "ir" or main.with_suffix(".bin").is_file()):
                return main
        return None

    def local_precisions(self, spec: ModelSpec) -> list[str]:
        """Precisions of `spec` present on disk."""
        return [p for p in spec.precisions if self.find_local(spec, p) is not None]

    def resolve(self, model: str | os.PathLike, precision: str | None = None, download: bool = True) -> ResolvedModel:
        """Turn a catalog name or a file path into a model file on disk."""
        if isinstance(model, os.PathLike) or looks_like_path(model):
            return self._resolve_path(Path(model), precision)
        spec = get_spec(str(model))
        if precision is not None and precision not in spec.precisions:
            raise ModelNotFoundError(
                f"{spec.name} has no precision {precision!r}; it comes in {', '.join(spec.precisions)}"
            )
        candidates = [precision] if precision else self._preference(spec)
        for prec in candidates:
            found = self.find_local(spec, prec)
            if found is not None:
                return ResolvedModel(found, spec, prec)
        if not download:
            raise ModelNotFoundError(self._missing_message(spec, candidates))
        for prec in candidates:
            if spec.files_for(prec):
                return ResolvedModel(self.pull(spec.name, prec), spec, prec)
        raise ModelNotFoundError(self._missing_message(spec, candidates))

    def _resolve_path(self, path: Path, precision: str | None) -> ResolvedModel:
        if not path.is_file():
            raise ModelNotFoundError(f"model file not found: {path}")
        if path.suffix not in MODEL_SUFFIXES:
            raise ModelNotFoundError(f"{path}: expected an OpenVINO .xml or an .onnx file")
        if path.suffix == ".xml" and not path.with_suffix(".bin").is_file():
            raise ModelNotFoundError(f"{path}: the weights file {path.with_suffix('.bin').name} is missing")
        from reidkit.models.catalog import load_catalog

        spec = load_catalog().get(path.stem)
        if spec is None:
            spec = next((s for s in load_catalog().values() if path.name == Path(s.path).name), None)
        prec = precision or (path.parent.name if path.parent.name in PRECISION_PREFERENCE else None)
        return ResolvedModel(path, spec, prec)

    @staticmethod
    def _preference(spec: ModelSpec) -> list[str]:
        ordered = [p for p in PRECISION_PREFERENCE if p in spec.precisions]
        return ordered + [p for p in spec.precisions if p not in ordered]

    def _missing_message(self, spec: ModelSpec, precisions: list[str]) -> str:
        where = ", ".join(str(r) for r in self.search_roots()) or "(no folders)"
        layout = spec.relative_path(precisions[0]) if precisions else spec.path
        downloadable = [p for p in precisions if spec.files_for(p)]
        extra = (
            ""
            if downloadable
            else " No download source with a known checksum is catalogued for it:"
            " place the file under a folder in REIDKIT_MODELS."
        )
        return f"{spec.name} ({'/'.join(precisions)}) not found in {where}; expected {layout}.{extra}"

    # -- download -------------------------------------------------------------------------------
    def url_for(self, file: FileSpec) -> str | None:
        """The URL a file is fetched from: the mirror when one is set, else the catalog URL."""
        if self.mirror:
            return self.mirror.rstrip("/") + "/" + file.path
        return file.url

    def pull(self, name: str, precision: str | None = None, progress: bool = True) -> Path:
        """Download (if needed) and verify every file of a model precision into the cache."""
        spec = get_spec(name)
        prec = precision or next((p for p in self._preference(spec) if spec.files_for(p)), None)
        files = spec.files_for(prec) if prec else ()
        if not files:
            raise ModelNotFoundError(
                f"no download source with a checksum is catalogued for {name} {precision or ''}".rstrip()
                + f"; available: {', '.join(p for p in spec.precisions if spec.files_for(p)) or 'none'}"
            )
        for file in files:
            target = self.cache_dir / file.path
            if target.is_file() and sha256_file(target) == file.sha256:
                continue
            url = self.url_for(file)
            if not url:
                raise ModelNotFoundError(
                    f"{name}: {file.path} has no download URL; place it under a folder in REIDKIT_MODELS"
                )
            download(url, target, file.sha256, file.size, timeout=self.timeout, progress=progress)
        return self.cache_dir / spec.relative_path(prec)


def download(
    url: str,
    target: Path,
    sha256: str,
    size: int | None = None,
    timeout: float = 30.0,
    progress: bool = True,
) -> Path:
    """Fetch `url` to `target` via a temporary file, check its sha256, then rename atomically."""
    from tqdm import tqdm

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        try:
            response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - catalog/mirror URL
        except urllib.error.HTTPError as exc:
            raise DownloadError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(
                f"cannot reach {url} ({reason}); offline? Put the model files under a folder in "
                "REIDKIT_MODELS or set REIDKIT_MODEL_MIRROR to a reachable server"
            ) from None
        total = int(response.headers.get("Content-Length") or size or 0) or None
        with (
            response,
            os.fdopen(fd, "wb") as out,
            tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=target.name,
                disable=not progress or None,
                leave=False,
            ) as bar,
        ):
            fd = -1
            while True:
                try:
                    block = response.read(1 << 16)
                except OSError as exc:
                    raise DownloadError(f"download of {url} broke off: {exc}") from None
                if not block:
                    break
                out.write(block)
                digest.update(block)
                bar.update(len(block))
        if digest.hexdigest() != sha256:
            raise DownloadError(
                f"checksum mismatch for {url}: got sha256 {digest.hexdigest()}, expected {sha256}; "
                "the file was rejected"
            )
        os.replace(tmp, target)
        return target
    finally:
        if fd != -1:
            os.close(fd)
        tmp.unlink(missing_ok=True)
