"""Bad inputs, as a new user would try them: a generated corpus through every CLI command and REST endpoint.

Every case must end in exit code 2 with one line naming the problem (CLI) or a 4xx JSON body (REST): never a
traceback, never a 500, and a gallery left byte-for-byte unchanged after a failed write.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reidkit.cli.main import main
from reidkit.errors import ImageError, ReidkitError
from reidkit.images import declared_size, decode_image


def png_declaring(width: int, height: int) -> bytes:
    """A small, valid-looking PNG whose header declares width×height pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 4096))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def good(pku) -> Path:
    return sorted((pku / "query").glob("*.png"))[0]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, good, data_root) -> dict[str, Path]:
    """Bad image-like inputs, each a path; every one must be refused with a clear error."""

    d = tmp_path_factory.mktemp("corpus")
    raw = good.read_bytes()
    cases = {
        "zero-byte": (d / "empty.png", b""),
        "truncated": (d / "truncated.png", raw[: len(raw) // 3]),
        "wrong-type": (d / "notes.jpg", b"these are not pixels\n" * 40),
        "tiny": (d / "tiny.png", cv2.imencode(".png", np.zeros((1, 1, 3), np.uint8))[1].tobytes()),
        "huge-declared": (d / "bomb.png", png_declaring(60000, 60000)),
        "huge-declared-jpeg-name": (d / "bomb.jpg", png_declaring(20000, 20000)),
    }
    paths = {}
    for name, (path, data) in cases.items():
        path.write_bytes(data)
        paths[name] = path
    paths["directory"] = d / "a-folder.png"
    paths["directory"].mkdir()
    loop_a, loop_b = d / "loop-a.png", d / "loop-b.png"
    os.symlink(loop_b, loop_a)
    os.symlink(loop_a, loop_b)
    paths["symlink-loop"] = loop_a
    paths["missing"] = d / "does-not-exist.png"
    corrupt_video = d / "clip.mp4"
    corrupt_video.write_bytes(os.urandom(20_000))
    paths["corrupt-video-as-image"] = corrupt_video
    # CMYK JPEG (decodable: it must work, not crash) is checked in test_decodable_oddities
    return paths


@pytest.fixture(scope="module")
def oddities(tmp_path_factory, good) -> dict[str, Path]:
    """Unusual but valid images: each must be accepted (converted to 8-bit BGR)."""
    from PIL import Image

    d = tmp_path_factory.mktemp("odd")
    bgr = cv2.imread(str(good))
    rgb = Image.fromarray(bgr[:, :, ::-1])
    out = {}
    cv2.imwrite(str(d / "sixteen.png"), bgr.astype(np.uint16) * 257)
    cv2.imwrite(str(d / "grey.png"), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(d / "rgba.png"), cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA))
    rgb.convert("CMYK").save(d / "cmyk.jpg")
    rgb.save(d / "anim.gif")
    rgb.save(d / "photo.webp")
    shutil.copy(good, d / "ünïcødé 人.png")
    for p in d.iterdir():
        out[p.name] = p
    return out


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, case: str) -> None:
    assert "Traceback" not in err, f"{case}: traceback\n{err}"
    assert code == 2, f"{case}: exit {code}\n{err}"
    lines = [line for line in err.strip().splitlines() if line.strip() and not line.startswith("\r")]
    assert len(lines) == 1 and lines[0].startswith("error:"), f"{case}: not one error line:\n{err}"
    assert "unexpected" not in lines[0], f"{case}: an unexpected exception reached the user: {lines[0]}"


def test_decode_refuses_bombs_before_decoding():
    import time

    start = time.perf_counter()
    with pytest.raises(ImageError, match="60000×60000"):
        decode_image(png_declaring(60000, 60000))
    assert time.perf_counter() - start < 0.5
    assert declared_size(png_declaring(123, 45)) == (123, 45)


def test_decodable_oddities(oddities):
    from reidkit.images import load_image

    for name, path in oddities.items():
        image = load_image(path)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, name


@given(st.binary(max_size=2048))
@settings(max_examples=150, deadline=None)
def test_decode_never_crashes_on_random_bytes(data):
    try:
        image = decode_image(data)
    except ImageError:
        return
    assert image.dtype == np.uint8 and image.ndim == 3


@given(st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1))
@settings(max_examples=100, deadline=None)
def test_decode_never_crashes_on_any_declared_size(width, height):
    try:
        decode_image(png_declaring(width, height))
    except ImageError:
        pass


PERSON_COMMANDS = [
    lambda img, tmp: ["verify", img, img],
    lambda img, tmp: ["embed", img, "-o", tmp / "o.npy"],
    lambda img, tmp: ["gallery", "--db", tmp / "new.db", "enroll", img, "--name", "x"],
]
FACE_COMMANDS = [
    lambda img, tmp: ["faces", "verify", img, img],
    lambda img, tmp: ["faces", "align", img, "-o", tmp / "a.png"],
    lambda img, tmp: ["faces", "analyze", img],
    lambda img, tmp: ["gallery", "--db", tmp / "new.db", "enroll", "--face", img, "--name", "x"],
]


@pytest.mark.parametrize("command", range(len(PERSON_COMMANDS) + len(FACE_COMMANDS)))
def test_every_bad_image_through_every_image_command(command, corpus, tmp_path, capsys, models_root):
    make = (PERSON_COMMANDS + FACE_COMMANDS)[command]
    for case, path in corpus.items():
        code, _, err = run(capsys, *make(path, tmp_path))
        assert_one_line_error(code, err, f"{case} via {make(path, tmp_path)[:2]}")
    assert not (tmp_path / "new.db").exists(), "a failed enrolment created a gallery"


def test_gallery_search_with_bad_images_on_an_existing_gallery(corpus, tmp_path, capsys, good, models_root):
    db = tmp_path / "g.db"
    assert run(capsys, "gallery", "--db", db, "enroll", good, "--name", "alice")[0] == 0
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    for case, path in corpus.items():
        code, _, err = run(capsys, "gallery", "--db", db, "search", path)
        assert_one_line_error(code, err, case)
        code, _, err = run(capsys, "gallery", "--db", db, "enroll", path, good, "--name", "bob")
        assert_one_line_error(code, err, case)
        assert hashlib.sha256(db.read_bytes()).hexdigest() == before, f"{case} changed the gallery"


@pytest.fixture(scope="module")
def gallery_with_two(tmp_path_factory, good, pku, models_root):
    """A gallery file with two enrolled people, and its sha256."""
    from reidkit.embed import Embedder
    from reidkit.gallery import open_gallery
    from reidkit.gallery.ops import enroll

    db = tmp_path_factory.mktemp("g2") / "two.db"
    other = sorted((pku / "query").glob("*.png"))[8]
    with open_gallery(db) as store:
        embedder = Embedder()
        enroll(store, embedder, "alice", [str(good)])
        enroll(store, embedder, "bob", [str(other)])
    return db


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_gallery_commands_refuse_bad_arguments_without_changing_anything(gallery_with_two, tmp_path, capsys):
    db = tmp_path / "g.db"
    shutil.copy(gallery_with_two, db)
    before = sha(db)
    bad = [
        ["rename", "1", ""],
        ["rename", "1", "   "],
        ["rename", "999", "x"],
        ["delete", "99999999999999999999999"],
        ["delete", "-3"],
        ["delete", "0"],
        ["merge", "1", "1"],
        ["merge", "1", "77"],
        ["export", tmp_path / "no" / "dir" / "x"],
        ["export", tmp_path],
        ["import", tmp_path / "missing-export"],
        ["index", tmp_path / "nothing-here.mp4"],
    ]
    for args in bad:
        code, _, err = run(capsys, "gallery", "--db", db, *args)
        assert_one_line_error(code, err, " ".join(map(str, args)))
        assert sha(db) == before, f"{args} changed the gallery"


def test_missing_gallery_is_never_created_by_a_read(tmp_path, capsys, good):
    for args in (["search", good], ["list"], ["rename", "1", "x"], ["delete", "1"], ["export", tmp_path / "x"]):
        db = tmp_path / "typo" / "shop.db"
        code, _, err = run(capsys, "gallery", "--db", db, *args)
        assert_one_line_error(code, err, str(args))
        assert "no gallery" in err
        assert not db.exists() and not db.parent.exists()


def test_foreign_and_corrupt_sqlite_files_are_left_unchanged(tmp_path, capsys, good):
    other = tmp_path / "otherapp.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT)")
    con.execute("INSERT INTO customers VALUES (1, 'a@b.c')")
    con.commit()
    con.close()
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"SQLite format 3\0" + os.urandom(4000))
    for db in (other, corrupt):
        before = sha(db)
        for args in (["list"], ["search", good], ["enroll", good, "--name", "x"]):
            code, _, err = run(capsys, "gallery", "--db", db, *args)
            assert_one_line_error(code, err, f"{db.name} {args[0]}")
            assert sha(db) == before, f"{args} changed {db.name}"
        assert not Path(f"{db}-wal").exists()
    assert "not a reidkit gallery" in run(capsys, "gallery", "--db", other, "list")[2]


def test_read_only_gallery_reads_and_refuses_writes(gallery_with_two, tmp_path, capsys, good):
    db = tmp_path / "ro.db"
    shutil.copy(gallery_with_two, db)
    os.chmod(db, 0o444)
    before = sha(db)
    code, text, err = run(capsys, "gallery", "--db", db, "list", "--json")
    assert code == 0, err
    assert [i["name"] for i in json.loads(text)["identities"]] == ["alice", "bob"]
    code, text, err = run(capsys, "gallery", "--db", db, "search", good, "--json")
    assert code == 0 and json.loads(text)["matches"][0]["name"] == "alice", err
    assert run(capsys, "gallery", "--db", db, "export", tmp_path / "ro-export")[0] == 0
    for args in (["enroll", good, "--name", "x"], ["rename", "1", "y"], ["delete", "2"]):
        code, _, err = run(capsys, "gallery", "--db", db, *args)
        assert_one_line_error(code, err, str(args))
        assert "read-only" in err
    assert sha(db) == before


def test_stale_index_of_a_deleted_gallery_is_never_adopted(tmp_path, pku):
    from reidkit.embed import Embedder
    from reidkit.gallery import open_gallery
    from reidkit.gallery.ops import enroll, search_image

    paths = sorted((pku / "query").glob("*.png"))
    embedder = Embedder("person-reidentification-retail-0288")
    db = tmp_path / "s.db"
    with open_gallery(db) as store:
        enroll(store, embedder, "old1", [str(paths[0])])
        enroll(store, embedder, "old2", [str(paths[8])])
        search_image(store, embedder, str(paths[0]), 1)  # builds and (on close) saves the index
    assert Path(f"{db}.index").exists()
    db.unlink()
    with open_gallery(db) as store:
        for k, p in enumerate(paths[16:40:8]):
            enroll(store, embedder, f"new{k}", [str(p)])
        best = search_image(store, embedder, str(paths[0]), 1)[0]
        assert best.name.startswith("new") and best.score < 0.99


def write_fake_export(
    base: Path, model="m", dim=4, ids=(1, 2), embeddings=None, identities=None, sightings=None, pickled=False
) -> Path:
    emb = np.eye(4, dtype=np.float32)[: len(ids)] if embeddings is None else embeddings
    if pickled:
        np.savez(f"{base}.npz", ids=np.array(ids), embeddings=np.array([object()] * len(ids), dtype=object))
    else:
        np.savez(f"{base}.npz", ids=np.array(ids, np.int64), embeddings=emb)
    doc = {
        "model": model,
        "dim": dim,
        "identities": identities if identities is not None else [{"id": 10, "name": "a", "metadata": {}}],
        "sightings": sightings
        if sightings is not None
        else [
            {"id": i, "identity_id": 10, "source": "", "camera": "", "frame": None, "time": None, "box": None}
            for i in ids
        ],
    }
    Path(f"{base}.json").write_text(json.dumps(doc))
    return base


def malformed_exports(d: Path) -> dict[str, Path]:
    return {
        "non-unit": write_fake_export(d / "nonunit", embeddings=np.full((2, 4), 3.0, np.float32)),
        "wrong-dim": write_fake_export(d / "wrongdim", dim=8),
        "short-npz": write_fake_export(
            d / "short", ids=(1,), sightings=[{"id": 1, "identity_id": 10}, {"id": 2, "identity_id": 10}]
        ),
        "pickled": write_fake_export(d / "pickled", pickled=True),
        "missing-identity": write_fake_export(d / "orphan", sightings=[{"id": 1, "identity_id": 99}]),
        "empty-name": write_fake_export(d / "noname", identities=[{"id": 10, "name": " "}]),
        "not-json": d / "notjson",
        "truncated-npz": d / "trunc",
    }


@pytest.fixture
def export_dir(tmp_path) -> Path:
    d = tmp_path / "exports"
    d.mkdir()
    (d / "notjson.json").write_text("{not json")
    np.savez(d / "notjson.npz", ids=np.array([1]), embeddings=np.eye(4, dtype=np.float32)[:1])
    write_fake_export(d / "trunc")
    data = (d / "trunc.npz").read_bytes()
    (d / "trunc.npz").write_bytes(data[: len(data) // 2])
    return d


def test_malformed_exports_import_nothing(new_gallery, export_dir):
    from reidkit.gallery import open_gallery

    location = new_gallery()
    with open_gallery(location) as store:
        store.add_person("keep", np.eye(4, dtype=np.float32)[:1], "m", [{}])
        for case, base in malformed_exports(export_dir).items():
            with pytest.raises(ReidkitError):
                store.import_(base)
            assert [i.name for i in store.identities()] == ["keep"] and store.count() == 1, case


def test_malformed_exports_through_the_cli(export_dir, tmp_path, capsys):
    for case, base in malformed_exports(export_dir).items():
        code, _, err = run(capsys, "gallery", "--db", tmp_path / f"{case}.db", "import", base)
        assert_one_line_error(code, err, case)
        assert not (tmp_path / f"{case}.db").exists()


def test_rename_to_empty_is_refused_on_both_backends(new_gallery):
    from reidkit.gallery import open_gallery

    with open_gallery(new_gallery()) as store:
        ident, _ = store.add_person("alice", np.eye(4, dtype=np.float32)[:1], "m", [{}])
        for name in ("", "   ", "\x00bad"):
            with pytest.raises(ReidkitError):
                store.rename(ident, name)
        with pytest.raises(ReidkitError, match="no identity"):
            store.delete_identity(10**30)
        assert store.identity(ident).name == "alice"


def test_export_names_with_dots_and_no_overwrite(gallery_with_two, tmp_path, capsys):
    db = tmp_path / "g.db"
    shutil.copy(gallery_with_two, db)
    assert run(capsys, "gallery", "--db", db, "export", tmp_path / "shop")[0] == 0
    code, text, err = run(capsys, "gallery", "--db", db, "export", tmp_path / "shop.2024-01")
    assert code == 0, err
    assert (tmp_path / "shop.2024-01.npz").exists() and (tmp_path / "shop.2024-01.json").exists()
    assert "shop.2024-01.npz" in text
    code, _, err = run(capsys, "gallery", "--db", db, "export", tmp_path / "shop")
    assert_one_line_error(code, err, "overwrite")
    assert run(capsys, "gallery", "--db", db, "export", tmp_path / "shop", "--force")[0] == 0


def test_index_skips_unreadable_files_and_is_idempotent(tmp_path, capsys, data_root, good):
    folder = tmp_path / "footage"
    folder.mkdir()
    shutil.copy(good, folder / "person.png")
    (folder / "readme.txt").write_text("not media")
    (folder / "broken.mp4").write_bytes(os.urandom(5000))
    frame = next(
        iter(__import__("reidkit.video", fromlist=["read_frames"]).read_frames(data_root / "PETS09-S2L1/vtest.mp4"))
    )[1]
    cv2.imwrite(str(folder / "frame.jpg"), frame)
    db = tmp_path / "idx.db"
    code, text, err = run(capsys, "gallery", "--db", db, "index", folder, "--json")
    assert code == 0, err
    first = json.loads(text)
    assert first["sightings"] > 0
    assert {Path(s["file"]).name for s in first["skipped"]} == {"readme.txt", "broken.mp4"}
    code, text, err = run(capsys, "gallery", "--db", db, "index", folder, "--json")
    again = json.loads(text)
    assert code == 0 and again["sightings"] == 0 and again["already_stored"] == first["sightings"]


def test_truncated_video_is_reported(tmp_path, data_root, capsys):
    from reidkit.video import FrameReader

    video = data_root / "videos/one-by-one-person-detection.mp4"
    cut = tmp_path / "cut.mp4"
    data = video.read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    reader = FrameReader(cut)
    for _ in reader:
        pass
    assert reader.shortfall() is not None and "truncated" in reader.shortfall()
    empty = tmp_path / "zero.mp4"
    empty.write_bytes(b"")
    code, _, err = run(capsys, "track", empty, "-o", tmp_path / "out")
    assert_one_line_error(code, err, "zero-frame video")


def test_other_commands_refuse_bad_arguments(tmp_path, capsys, good, pku):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(os.urandom(300) + b"\0")
    contradictory = tmp_path / "contra.csv"
    contradictory.write_text(f"{good},{good},1\n{good},{good},0\n")
    no_match = tmp_path / "nomatch"
    for split in ("query", "bounding_box_test"):
        (no_match / split).mkdir(parents=True)
    shutil.copy(good, no_match / "query" / "0001_c1s1_000001_00.png")
    shutil.copy(good, no_match / "bounding_box_test" / "0002_c2s1_000001_00.png")
    cases = [
        ["faces", "verify", good, good, "--illumination", "bogus"],
        ["faces", "align", good, "-o", tmp_path / "out.xyz"],
        ["track", tmp_path / "v.mp4", "-o", a_file],
        ["track", data_root_video(pku), "-o", a_file],
        ["track", data_root_video(pku), "-o", tmp_path / "t", "--max-frames", "-5"],
        ["track", data_root_video(pku), "-o", tmp_path / "t", "--reid-threshold", "7"],
        ["eval", "mot", "--pred", tmp_path / "missing.txt", "--gt", binary],
        ["eval", "mot", "--pred", binary, "--gt", binary],
        ["eval", "reid", "--data", no_match, "-o", tmp_path / "ev"],
        ["calibrate", "--pairs", binary],
        ["calibrate", "--pairs", contradictory],
        ["calibrate", "--pairs", contradictory, "-o", tmp_path],
        ["embed", good, "-o", tmp_path],
        ["embed", good, "-o", tmp_path / "vectors.txt"],
        ["verify", good, good, "--calibration", binary],
        ["verify", good, good, "-m", "no-such-model"],
    ]
    for args in cases:
        code, _, err = run(capsys, *args)
        assert_one_line_error(code, err, " ".join(map(str, args[:3])))
    assert not list(tmp_path.glob("*.toml"))


def data_root_video(pku: Path) -> Path:
    return pku.parent / "PETS09-S2L1/vtest.mp4"


def test_train_refuses_a_file_as_run_folder(tmp_path, capsys, pku):
    pytest.importorskip("torch")
    a_file = tmp_path / "run"
    a_file.write_text("x")
    code, _, err = run(capsys, "train", "--data", pku, "--out", a_file, "--epochs", "1")
    assert_one_line_error(code, err, "train --out file")


def test_status_line_is_readable():
    from reidkit.annotate import draw_status

    frame = np.full((120, 320, 3), 200, np.uint8)
    draw_status(frame, "cam1  frame 12  9.9 fps  ids 3")
    band = frame[4:24, 8:200]
    assert band.max() == 255 and np.median(band) < 100  # white strokes on a darkened band


# -- REST -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def api(tmp_path_factory, models_root):
    from fastapi.testclient import TestClient

    from reidkit.service.app import create_app

    db = tmp_path_factory.mktemp("api") / "api.db"
    app = create_app(db, "person-reidentification-retail-0288", api_key="k", max_upload=3_000_000)
    with TestClient(app, headers={"X-API-Key": "k"}) as client:
        client.db = db
        yield client


UPLOAD_ENDPOINTS = [
    ("/embed", "image"),
    ("/gallery/search", "image"),
    ("/gallery/enroll", "image"),
    ("/faces/search", "image"),
    ("/faces/enroll", "image"),
]


def test_rest_bad_uploads_answer_4xx(api, corpus, good):
    ok_png = good.read_bytes()
    for case, path in corpus.items():
        data = path.read_bytes() if path.is_file() else b""
        for url, field in UPLOAD_ENDPOINTS:
            r = api.post(url, files={field: ("x.png", data)}, data={"name": "x"})
            assert 400 <= r.status_code < 500 and "detail" in r.json(), f"{case} {url}: {r.status_code}"
        r = api.post("/verify", files={"image_a": ("a.png", data), "image_b": ("b.png", ok_png)})
        assert 400 <= r.status_code < 500, f"{case} /verify: {r.status_code}"
    assert api.get("/identities").json()["identities"] == []


def test_rest_accepts_what_the_cli_accepts(api, oddities):
    for name, path in oddities.items():
        r = api.post("/embed", files={"image": (name, path.read_bytes())})
        assert r.status_code == 200, f"{name}: {r.status_code} {r.text}"


def test_rest_bad_ids_and_forms(api):
    for url in (
        "/identities/99999999999999999999999",
        "/identities/-1",
        "/identities/0",
        "/sightings/99999999999999999999999/thumbnail",
        "/sightings/5/thumbnail",
    ):
        assert api.get(url).status_code == 404, url
    assert api.delete("/identities/99999999999999999999999").status_code == 404
    assert api.get("/identities/abc").status_code == 422
    assert api.post("/gallery/search", files={"image": ("a", b"x")}, data={"k": "0"}).status_code in (400, 422)


def test_healthz_says_nothing_secret(models_root, tmp_path):
    from fastapi.testclient import TestClient

    from reidkit.service.app import create_app

    app = create_app(tmp_path / "h.db", "person-reidentification-retail-0288", api_key="topsecret")
    with TestClient(app, headers={"X-API-Key": "topsecret"}) as client:
        body = client.get("/healthz").text
    assert "h.db" not in body and str(tmp_path) not in body and "topsecret" not in body


def test_healthz_hides_a_postgres_password(pg_url, models_root):
    from fastapi.testclient import TestClient

    from reidkit.service.app import create_app

    app = create_app(pg_url, "person-reidentification-retail-0288", api_key="k")
    with TestClient(app, headers={"X-API-Key": "k"}) as client:
        body = client.get("/healthz").text
    assert "postgresql://" not in body and "backend" in body


@given(st.binary(min_size=1, max_size=4096))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_rest_random_uploads_never_500(api, data):
    r = api.post("/embed", files={"image": ("r.bin", data)})
    assert r.status_code in (200, 400, 413, 422)


def test_serve_on_a_busy_port_creates_nothing(tmp_path, capsys):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        db = tmp_path / "served.db"
        code, _, err = run(capsys, "serve", "--db", db, "--port", port)
        assert_one_line_error(code, err, "busy port")
        assert "cannot listen" in err and not db.exists()
