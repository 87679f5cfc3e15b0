"""Faces as identities: face enrolment, search and verification through Python, the CLI and REST, on both gallery
backends; liveness (anti-spoofing) and face analysis on the shared samples."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from reidkit.cli.main import main
from reidkit.errors import ImageError, ReidkitError
from reidkit.faces.liveness import scaled_box, softmax


@pytest.fixture(scope="module")
def faces_root(data_root) -> Path:
    return data_root / "faces"


@pytest.fixture(scope="module")
def fr(models_root):
    from reidkit.faces import FaceReId

    return FaceReId()


@pytest.fixture(scope="module")
def people(faces_root) -> dict[str, list[Path]]:
    """Five AT&T people, ten photos each."""
    return {f"s{k}": sorted((faces_root / f"att_faces/s{k}").glob("*.pgm")) for k in range(1, 6)}


@pytest.fixture(scope="module")
def samples(faces_root) -> dict[str, Path]:
    d = faces_root / "antispoof-samples"
    return {"real": d / "image_T1.jpg", "fake1": d / "image_F1.jpg", "fake2": d / "image_F2.jpg"}


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_scaled_box_stays_inside_the_image():
    rng = np.random.default_rng(0)
    for _ in range(500):
        w, h = rng.integers(20, 800, 2)
        x0, y0 = rng.uniform(-10, w), rng.uniform(-10, h)
        box = (x0, y0, x0 + rng.uniform(4, w), y0 + rng.uniform(4, h))
        left, top, right, bottom = scaled_box(box, int(w), int(h), float(rng.choice([2.7, 4.0])))
        assert 0 <= left <= right <= w - 1 and 0 <= top <= bottom <= h - 1
    assert scaled_box((40, 40, 60, 60), 200, 200, 2.0) == (30, 30, 70, 70)
    assert np.allclose(softmax(np.array([[0.0, 0.0, 0.0]])), 1 / 3)


def test_face_search_in_python_on_both_backends(new_gallery, fr, people):
    from reidkit.gallery import open_gallery
    from reidkit.gallery.ops import enroll, enroll_faces, search_face

    with open_gallery(new_gallery()) as store:
        for name, photos in people.items():
            enroll_faces(store, fr, name, [str(photos[0])])
        hits = [search_face(store, fr, str(p), k=1)[0].name == name for name, ps in people.items() for p in ps[1:4]]
        assert np.mean(hits) >= 0.9
        assert store.model_of("face") == fr.embedder.name and store.model_of("person") is None
        # persons and faces stay apart: a person enrolment adds a person sighting, searches do not mix
        from reidkit.embed import Embedder

        embedder = Embedder("person-reidentification-retail-0288")
        ident, _ = enroll(store, embedder, "body", [str(people["s1"][0])])
        assert all(m.sighting.identity_id != ident for m in search_face(store, fr, str(people["s1"][1]), k=10))
        person_hits = store.search(embedder.embed(str(people["s1"][1]))[0], embedder.name, k=10)
        assert [m.sighting.identity_id for m in person_hits] == [ident]


def test_face_export_import_keeps_both_roles(new_gallery, fr, people, tmp_path):
    from reidkit.embed import Embedder
    from reidkit.gallery import open_gallery
    from reidkit.gallery.ops import enroll, enroll_faces, search_face

    embedder = Embedder("person-reidentification-retail-0288")
    with open_gallery(new_gallery()) as store:
        enroll_faces(store, fr, "alice", [str(p) for p in people["s1"][:2]])
        enroll(store, embedder, "alice-body", [str(people["s1"][0])])
        store.export(tmp_path / "both")
    with open_gallery(new_gallery()) as other:
        assert other.import_(tmp_path / "both")["sightings"] == 3
        assert search_face(other, fr, str(people["s1"][5]), k=1)[0].name == "alice"
        assert other.model_of("person") == embedder.name


def test_face_gallery_cli(tmp_path, capsys, people, samples, models_root):
    db = tmp_path / "faces.db"
    for name, photos in people.items():
        code, _, err = run(capsys, "gallery", "--db", db, "enroll", "--face", photos[0], "--name", name)
        assert code == 0, err
    code, text, err = run(capsys, "gallery", "--db", db, "search", "--face", people["s3"][4], "--json")
    assert code == 0 and json.loads(text)["matches"][0]["name"] == "s3", err
    before = db.read_bytes()
    code, _, err = run(capsys, "gallery", "--db", db, "enroll", "--face", "--liveness", samples["fake1"], "--name", "x")
    assert code == 2 and "printed or replayed" in err and "image_F1.jpg" in err
    assert db.read_bytes() == before
    code, text, _ = run(capsys, "gallery", "--db", db, "index", "--faces", people["s5"][1], people["s5"][2], "--json")
    assert code == 0 and json.loads(text)["sightings"] == 2
    code, text, _ = run(capsys, "gallery", "--db", db, "index", "--faces", people["s5"][1], "--json")
    assert json.loads(text)["sightings"] == 0  # idempotent


def test_face_enrolment_bad_inputs_store_nothing(tmp_path, capsys, fr, people, samples):
    from reidkit.gallery import open_gallery
    from reidkit.gallery.ops import enroll_faces

    no_face = tmp_path / "wall.png"
    cv2.imwrite(str(no_face), np.full((200, 200, 3), 120, np.uint8))
    tiny = tmp_path / "tiny.png"
    big = cv2.imread(str(samples["real"]))
    cv2.imwrite(str(tiny), cv2.resize(big, (64, 48), interpolation=cv2.INTER_AREA))
    rgba = tmp_path / "rgba.png"
    cv2.imwrite(str(rgba), cv2.cvtColor(big, cv2.COLOR_BGR2BGRA))
    db = tmp_path / "g.db"
    for path, words in ((no_face, "no face"), (tiny, "pixels wide")):
        code, _, err = run(capsys, "gallery", "--db", db, "enroll", "--face", path, "--name", "x")
        assert code == 2 and words in err, err
    assert not db.exists()
    # grey faces enrol (AT&T is grey); with liveness they get a clear error, not a wrong verdict
    code, _, err = run(capsys, "gallery", "--db", db, "enroll", "--face", "--liveness", people["s1"][0], "--name", "g")
    assert code == 2 and "colour" in err
    with open_gallery(db) as store:
        ident, _ = enroll_faces(store, fr, "grey", [str(people["s1"][0])])
        ident2, _ = enroll_faces(store, fr, "rgba", [str(rgba)], liveness=True)
        with pytest.raises(ImageError):
            enroll_faces(store, fr, "two", [str(rgba), str(no_face)])
        assert [i.name for i in store.identities()] == ["grey", "rgba"]


def test_liveness_on_the_shared_samples(fr, samples):
    assert fr.liveness(str(samples["real"])).real
    assert not fr.liveness(str(samples["fake1"])).real
    assert not fr.liveness(str(samples["fake2"])).real
    from reidkit.faces.liveness import SpoofError

    with pytest.raises(SpoofError):
        fr.predict(str(samples["real"]), str(samples["fake2"]), liveness=True)
    assert 0.0 <= fr.predict(str(samples["real"]), str(samples["real"]), liveness=True) <= 1.0


def test_faces_verify_and_analyze_cli(capsys, samples, faces_root, models_root):
    code, _, err = run(capsys, "faces", "verify", "--liveness", samples["real"], samples["fake1"])
    assert code == 2 and "printed or replayed" in err
    couple = faces_root / "deepface-pairs/couple.jpg"
    code, text, err = run(capsys, "faces", "analyze", samples["real"], samples["fake2"], couple, "--json")
    assert code == 0, err
    images = json.loads(text)["images"]
    real, fake, pair = (item["faces"] for item in images)
    assert real[0]["liveness"]["real"] and not fake[0]["liveness"]["real"]
    assert len(pair) == 2 and {f["gender"] for f in pair} == {"male", "female"}
    assert all(0 < f["age"] < 100 and 0.5 <= f["gender_probability"] <= 1 for f in real + fake + pair)
    assert len(real[0]["landmarks"]) == 5


def test_face_endpoints(new_gallery, people, samples, models_root):
    from fastapi.testclient import TestClient

    from reidkit.service.app import create_app

    app = create_app(new_gallery(), "person-reidentification-retail-0288")
    with TestClient(app) as client:
        for name, photos in people.items():
            r = client.post("/faces/enroll", files={"image": ("f.pgm", photos[0].read_bytes())}, data={"name": name})
            assert r.status_code == 200, r.text
        r = client.post("/faces/search", files={"image": ("q.pgm", people["s2"][6].read_bytes())}, data={"k": "3"})
        assert r.status_code == 200 and r.json()["matches"][0]["name"] == "s2"
        r = client.post(
            "/faces/verify",
            files={"image_a": ("a", people["s4"][0].read_bytes()), "image_b": ("b", people["s4"][1].read_bytes())},
        )
        assert r.status_code == 200 and r.json()["same"] is True
        spoof = samples["fake1"].read_bytes()
        r = client.post("/faces/enroll", files={"image": ("x.jpg", spoof)}, data={"name": "x", "liveness": "true"})
        assert r.status_code == 400 and "printed or replayed" in r.json()["detail"]
        r = client.post(
            "/faces/search",
            files={"image": ("w.png", cv2.imencode(".png", np.zeros((64, 64, 3), np.uint8))[1].tobytes())},
        )
        assert r.status_code == 400 and "no face" in r.json()["detail"]
        assert len(client.get("/identities").json()["identities"]) == 5


def test_face_analysis_in_python(samples, models_root):
    from reidkit.faces.analysis import FaceAnalysis

    faces = FaceAnalysis(embeddings=True).get(str(samples["real"]))
    assert len(faces) == 1 and faces[0].embedding.shape == (256,) and faces[0].liveness.real
    with pytest.raises(ReidkitError):
        FaceAnalysis().analyze(str(samples["real"]) + ".missing")
