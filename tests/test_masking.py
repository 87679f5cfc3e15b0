"""Privacy masking (--blur): pixels of the regions masked and nothing else, in the annotated video and the
gallery thumbnails of a real run; enrolled people spared when asked."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from reidkit.cli.main import main
from reidkit.errors import ConfigError
from reidkit.masking import mask
from reidkit.pipeline import FrameResult, Masker


def _detail(image: np.ndarray) -> float:
    """High-frequency energy: what a mosaic removes."""
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def test_mask_pixelates_only_the_regions():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 50, 90], [100, 20, 140, 100]], float)
    before = image.copy()
    people = mask(image, boxes, "people")
    assert people is not image and (image == before).all()  # the input is left untouched
    body = people[10:90, 10:50]
    assert _detail(body) < 0.02 * _detail(image[10:90, 10:50])
    cells = cv2.resize(body, (4, 8), interpolation=cv2.INTER_AREA)  # at most a mosaic's worth of information
    assert np.abs(cv2.resize(cells, (40, 80), interpolation=cv2.INTER_LINEAR).astype(int) - body).mean() < 12
    outside = np.ones(image.shape[:2], bool)
    outside[10:90, 10:50] = outside[20:100, 100:140] = False
    assert (people[outside] == image[outside]).all()
    faces = mask(image, boxes, "faces")
    assert not (faces[10:27, 10:50] == image[10:27, 10:50]).all()  # the head (top 22 %) is masked
    assert (faces[30:90, 10:50] == image[30:90, 10:50]).all()  # the rest of the body is not
    spared = mask(image, boxes, "people", spare=[True, False])
    assert (spared[10:90, 10:50] == image[10:90, 10:50]).all() and not (
        spared[20:100, 100:140] == image[20:100, 100:140]
    ).all()
    assert mask(image, boxes, "none") is image
    with pytest.raises(ConfigError, match="--blur must be one of"):
        mask(image, boxes, "everything")


def test_masker_spares_who_the_lookup_recognises():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    asked = []

    def lookup(person):
        asked.append(person.shape)
        return 42 if len(asked) == 1 else None  # the first person asked about is enrolled

    masker = Masker("people", lookup, tries=2, every=5)
    boxes = np.array([[10, 10, 50, 90], [100, 20, 140, 100]], float)
    for frame in range(12):
        out = masker.apply(FrameResult("c", frame, [7, 8], boxes, np.ones(2), image=image))
        assert out.image is image  # recognition keeps the raw frame
    assert masker.spared == {7: 42} and len(asked) == 3  # id 7 once, id 8 twice (tries), 5 frames apart
    assert (out.masked[10:90, 10:50] == image[10:90, 10:50]).all() and out.shown is out.masked
    assert not (out.masked[20:100, 100:140] == image[20:100, 100:140]).all()


def test_blurred_run_masks_video_and_thumbnails(data_root, tmp_path, models_root, capsys):
    video = data_root / "PETS09-S2L1" / "vtest.mp4"
    out, db = tmp_path / "out", str(tmp_path / "g.db")
    args = ["track", str(video), "--camera", "pets", "-o", str(out), "--max-frames", "30", "--no-attributes"]
    assert main([*args, "--blur", "people", "--gallery", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["masking"] == {"blur": "people", "spared": {}}
    rows = np.loadtxt(out / "pets.txt", delimiter=",")
    shown = cv2.VideoCapture(str(out / "pets.mp4"))
    raw = cv2.VideoCapture(str(video))
    for _ in range(20):
        ok1, a = shown.read()
        ok2, b = raw.read()
    assert ok1 and ok2
    boxes = rows[rows[:, 0] == 20][:, 2:6]

    def alone(k):  # no other box (nor its outline) crosses it
        x, y, w, h = boxes[k]
        return all(
            x + w + 4 < ox or ox + ow + 4 < x or y + h + 4 < oy or oy + oh + 4 < y
            for j, (ox, oy, ow, oh) in enumerate(boxes)
            if j != k
        )

    tall = [boxes[k] for k in range(len(boxes)) if boxes[k][3] >= 40 and alone(k)]
    assert tall
    for x, y, w, h in tall:
        y0, y1, x0, x1 = int(y) + 4, int(y + h) - 4, int(x) + 4, int(x + w) - 4  # inside, clear of the drawn box
        assert _detail(a[y0:y1, x0:x1]) < 0.35 * _detail(b[y0:y1, x0:x1])
    from reidkit.gallery import open_gallery

    with open_gallery(db, read_only=True) as store:
        ident = store.identities()[0]
        sighting = store.sightings_of(ident.identity_id)[0]
        thumb = cv2.imdecode(np.frombuffer(store.thumbnail(sighting.sighting_id), np.uint8), cv2.IMREAD_COLOR)
    x0, y0, x1, y1 = (int(v) for v in sighting.box)
    cap = cv2.VideoCapture(str(video))
    for _ in range(sighting.frame + 1):
        _, frame = cap.read()
    from reidkit.gallery.ops import thumbnail

    unmasked = cv2.imdecode(np.frombuffer(thumbnail(frame[y0:y1, x0:x1]), np.uint8), cv2.IMREAD_COLOR)
    assert _detail(thumb) < 0.2 * _detail(unmasked), (_detail(thumb), _detail(unmasked))
    assert main([*args, "--unblur-enrolled"]) == 2
    assert "needs --blur and --gallery" in capsys.readouterr().err
    assert main([*args, "--blur", "all"]) == 2
    assert "--blur must be one of" in capsys.readouterr().err


def test_enrolled_people_are_spared_when_asked(data_root, tmp_path, models_root, capsys):
    """One PETS09 person enrolled from crops of other frames: --unblur-enrolled leaves that
    person unmasked (recognised with the gallery's own model) and masks everyone else."""
    seq = data_root / "PETS09-S2L1"
    gt = np.loadtxt(seq / "gt/gt.txt", delimiter=",")
    gt = gt[gt[:, 6] != 0]
    person = 1 + int(np.argmax(np.bincount(gt[gt[:, 0] <= 60, 1].astype(int))[1:]))  # most seen early
    cap = cv2.VideoCapture(str(seq / "vtest.mp4"))
    crops = []
    for index in range(60):
        ok, frame = cap.read()
        row = gt[(gt[:, 0] == index + 1) & (gt[:, 1] == person)]
        if ok and len(row) and index % 6 == 0 and index >= 30:
            x, y, w, h = row[0, 2:6] * 0.625
            path = tmp_path / f"p{index}.png"
            cv2.imwrite(str(path), frame[max(0, int(y)) : int(y + h), max(0, int(x)) : int(x + w)])
            crops.append(str(path))
    db = str(tmp_path / "g.db")
    tracking_model = "person-reidentification-retail-0287"  # a tracking run stores its own model's embeddings
    assert main(["gallery", "--db", db, "-m", tracking_model, "enroll", *crops, "--name", "visitor"]) == 0
    capsys.readouterr()
    args = ["track", str(seq / "vtest.mp4"), "-o", str(tmp_path / "out"), "--max-frames", "30", "--no-attributes"]
    assert main([*args, "--no-video", "--gallery", db, "--blur", "people", "--unblur-enrolled", "--json"]) == 0
    masking = json.loads(capsys.readouterr().out)["masking"]
    from reidkit.track.association import iou_matrix

    rows = np.loadtxt(tmp_path / "out" / "vtest.txt", delimiter=",")
    truth = gt[(gt[:, 1] == person) & (gt[:, 0] <= 30)]
    hits: dict[int, int] = {}  # global id -> frames its box is the enrolled person's
    for frame, gid, x, y, w, h, *_ in rows:
        at = truth[truth[:, 0] == frame, 2:6] * 0.625
        if len(at) and iou_matrix([[x, y, x + w, y + h]], [[*at[0, :2], *(at[0, :2] + at[0, 2:])]])[0, 0] > 0.5:
            hits[int(gid)] = hits.get(int(gid), 0) + 1
    theirs = max(hits, key=hits.get)
    assert str(theirs) in masking["spared"], (hits, masking)
    assert set(masking["spared"].values()) == {1}  # the enrolled identity
    assert len(masking["spared"]) < len(np.unique(rows[:, 1]))  # other people stay masked
    # (here the re-id model also takes the person walking beside them, in similar clothes, for the enrolled
    # person, at P > 0.97: docs/gallery.md says sparing is only as good as re-identification)
