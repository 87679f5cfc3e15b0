"""Catalog contents against the real files, and the store's lookup and download paths."""

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from reidkit.errors import DownloadError, ModelNotFoundError
from reidkit.models.catalog import TASKS, Calibration, get_spec, list_specs, load_catalog, write_calibration
from reidkit.models.store import ModelStore, sha256_file


def test_catalog_covers_every_shared_model(models_root):
    held = {p.parent.parent.name for p in models_root.glob("intel/*/*/*.xml")}
    names = {s.name for s in list_specs()}
    assert held <= names
    for spec in list_specs():
        assert spec.task in TASKS
        assert spec.input.color in ("bgr", "rgb")


def test_catalog_checksums_match_the_real_files(models_root):
    checked = 0
    for spec in list_specs():
        for f in spec.files:
            path = models_root / f.path
            if path.is_file():
                assert sha256_file(path) == f.sha256, f.path
                assert path.stat().st_size == f.size
                checked += 1
    assert checked >= 60


def test_unknown_model_suggests_names():
    with pytest.raises(ModelNotFoundError, match="Did you mean: .*person-reidentification-retail-0287"):
        get_spec("person-reidentification-retail-0278")


def test_resolve_prefers_fp32_and_honours_precision(models_root):
    store = ModelStore(roots=[models_root])
    assert store.resolve("person-reidentification-retail-0287").precision == "FP32"
    assert store.resolve("person-reidentification-retail-0277").precision == "FP16"
    r = store.resolve("person-reidentification-retail-0287", "FP16-INT8")
    assert r.path.parent.name == "FP16-INT8" and r.path.is_file()
    with pytest.raises(ModelNotFoundError, match="no precision 'INT4'"):
        store.resolve("person-reidentification-retail-0287", "INT4")


def test_missing_model_without_download_names_the_layout(tmp_path):
    store = ModelStore(roots=[tmp_path], cache_dir=tmp_path / "cache")
    with pytest.raises(ModelNotFoundError, match="intel/person-reidentification-retail-0288/FP32"):
        store.resolve("person-reidentification-retail-0288", download=False)


def test_onnx_model_without_url_cannot_be_pulled(tmp_path):
    store = ModelStore(roots=[], cache_dir=tmp_path)
    with pytest.raises(ModelNotFoundError, match="REIDKIT_MODELS"):
        store.resolve("person-reidentification-retail-0267")


def test_write_calibration_round_trip(tmp_path):
    from reidkit.models.catalog import CATALOG_PATH

    copy = tmp_path / "catalog.toml"
    shutil.copy(CATALOG_PATH, copy)
    write_calibration("person-reidentification-retail-0288", Calibration(7.5, -2.25, "test"), copy)
    write_calibration("person-reidentification-retail-0288", Calibration(8.5, -2.5, "again"), copy)
    spec = load_catalog(copy)["person-reidentification-retail-0288"]
    assert spec.calibration == Calibration(8.5, -2.5, "again")
    assert len(spec.files) == len(get_spec("person-reidentification-retail-0288").files)


class _Server:
    """A real HTTP server on loopback serving a folder, counting requests."""

    def __init__(self, folder: Path) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                outer.requests.append(self.path)

        handler = functools.partial(Handler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_pull_downloads_over_http_and_verifies(models_root, tmp_path):
    cache = tmp_path / "cache"
    with _Server(models_root) as server:
        store = ModelStore(roots=[], cache_dir=cache, mirror=server.url)
        path = store.pull("person-reidentification-retail-0288", "FP16", progress=False)
        assert path.is_file() and path.with_suffix(".bin").is_file()
        spec = get_spec("person-reidentification-retail-0288")
        for f in spec.files_for("FP16"):
            assert sha256_file(cache / f.path) == f.sha256
        fetched = len(server.requests)
        assert fetched == 2
        # a second pull finds verified files in the cache and fetches nothing
        store.pull("person-reidentification-retail-0288", "FP16", progress=False)
        assert len(server.requests) == fetched
        # resolve() now finds it in the cache
        assert store.resolve("person-reidentification-retail-0288", "FP16").path == path
    assert not list(cache.rglob("*.part"))


def test_pull_rejects_a_corrupted_file(models_root, tmp_path):
    mirror = tmp_path / "mirror"
    rel = "intel/person-reidentification-retail-0288/FP16"
    shutil.copytree(models_root / rel, mirror / rel)
    binfile = mirror / rel / "person-reidentification-retail-0288.bin"
    data = bytearray(binfile.read_bytes())
    data[1000] ^= 0xFF
    binfile.write_bytes(bytes(data))
    cache = tmp_path / "cache"
    with _Server(mirror) as server:
        store = ModelStore(roots=[], cache_dir=cache, mirror=server.url)
        with pytest.raises(DownloadError, match="checksum mismatch"):
            store.pull("person-reidentification-retail-0288", "FP16", progress=False)
    assert not (cache / rel / "person-reidentification-retail-0288.bin").exists()
    assert not list(cache.rglob("*.part"))


def test_pull_missing_on_server_is_a_clear_error(tmp_path):
    with _Server(tmp_path) as server:
        store = ModelStore(roots=[], cache_dir=tmp_path / "cache", mirror=server.url)
        with pytest.raises(DownloadError, match="HTTP 404"):
            store.pull("person-reidentification-retail-0288", "FP16", progress=False)


def test_offline_is_a_clear_error(tmp_path):
    store = ModelStore(roots=[], cache_dir=tmp_path / "cache", mirror="http://127.0.0.1:9", timeout=2)
    with pytest.raises(DownloadError, match="offline"):
        store.resolve("person-reidentification-retail-0288")


def test_each_task_default_is_named_once_in_the_catalog(models_root):
    """Defaults are data: every default is a catalogued model of its task, and the library and CLI use it."""
    import re

    from reidkit.detect import Detector
    from reidkit.models.catalog import default_model, get_spec

    for task in ("person-reid", "person-detect", "face-reid", "face-detect", "face-landmarks"):
        assert get_spec(default_model(task)).task == task
    assert Detector().name == default_model("person-detect")
    source = Path(__file__).resolve().parents[1] / "src" / "reidkit"
    code = [p for p in source.rglob("*.py")]
    quoted = re.compile(r"[\"'](person|face|pedestrian|landmarks)-[a-z-]+-\d{4}[\"']")
    offenders = [str(p) for p in code if quoted.search(p.read_text())]
    assert offenders == [], f"model names repeated in code (the catalog holds defaults): {offenders}"
