"""Tracker on scripted tracks (pure), identity gallery, MOT metrics, and the video pipeline on real PETS09."""

import json
from pathlib import Path

import numpy as np
import pytest

from reidkit.cli.main import main
from reidkit.metrics.mot import mot_metrics
from reidkit.models.catalog import Calibration
from reidkit.track import Tracker, TrackerConfig
from reidkit.track.association import assign, iou_matrix
from reidkit.track.identities import IdentityGallery
from reidkit.track.kalman import cxcywh_to_xyxy, initiate, predict, update, xyxy_to_cxcywh
from reidkit.video import read_frames


def box(cx, cy, w=20.0, h=50.0):
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


# -- pure pieces -------------------------------------------------------------------------------
def test_iou_and_assignment():
    a = np.array([box(10, 10), box(100, 100)])
    b = np.array([box(100, 102), box(10, 10), box(300, 300)])
    iou = iou_matrix(a, b)
    assert iou[0, 1] == pytest.approx(1.0) and iou[0, 0] == 0.0
    matches, ua, ub = assign(1 - iou, 0.5)
    assert sorted(matches) == [(0, 1), (1, 0)] and ua == [] and ub == [2]


def test_kalman_follows_constant_velocity():
    mean, cov = initiate(xyxy_to_cxcywh(box(0, 0))[0])
    for t in range(1, 20):
        m, c = predict(mean[None], cov[None])
        mean, cov = update(m[0], c[0], xyxy_to_cxcywh(box(5 * t, 0))[0])
    ahead, _ = predict(mean[None], cov[None])
    assert cxcywh_to_xyxy(ahead[0, :4])[0] == pytest.approx(box(100, 0), abs=1.5)


# -- scripted scenes ---------------------------------------------------------------------------
def run(tracker, frames):
    history = []
    for dets in frames:
        boxes = np.array([d[0] for d in dets]).reshape(-1, 4)
        scores = np.array([d[1] for d in dets])
        emb = np.array([d[2] for d in dets]) if dets and len(dets[0]) > 2 else None
        history.append({t.track_id: t.xyxy for t in tracker.update(boxes, scores, emb)})
    return history


def test_two_people_crossing_keep_their_ids():
    a_emb, b_emb = unit([1, 0, 0]), unit([0, 1, 0])
    frames = []
    for t in range(40):
        xa, xb = 10 + 4 * t, 170 - 4 * t
        frames.append([(box(xa, 100), 0.9, a_emb), (box(xb, 104), 0.9, b_emb)])
    history = run(Tracker(TrackerConfig(), frame_rate=30), frames)
    first, last = history[2], history[-1]
    id_left_start = min(first, key=lambda k: first[k][0])
    id_right_end = max(last, key=lambda k: last[k][0])
    assert len(set().union(*history)) == 2
    assert id_left_start == id_right_end  # the one who started on the left ends on the right


def test_occlusion_keeps_the_track():
    frames = [[(box(10 + 3 * t, 100), 0.9)] for t in range(10)]
    frames += [[] for _ in range(8)]  # fully occluded for 8 frames
    frames += [[(box(10 + 3 * t, 100), 0.9)] for t in range(18, 30)]
    history = run(Tracker(TrackerConfig(track_buffer=30), frame_rate=30), frames)
    assert len(set().union(*history)) == 1


def test_low_confidence_detections_keep_a_track_alive():
    frames = [[(box(10 + 2 * t, 100), 0.9 if t < 5 or t > 15 else 0.3)] for t in range(25)]
    history = run(Tracker(TrackerConfig(track_buffer=1), frame_rate=30), frames)
    assert all(len(h) == 1 for h in history[1:]) and len(set().union(*history)) == 1


def test_exit_and_reentry_gets_a_new_track_after_the_buffer():
    frames = [[(box(10 + 3 * t, 100), 0.9)] for t in range(10)] + [[] for _ in range(50)]
    frames += [[(box(300, 100), 0.9)] for _ in range(5)]
    history = run(Tracker(TrackerConfig(track_buffer=30), frame_rate=30), frames)
    assert len(set().union(*history)) == 2


def test_identity_gallery_reidentifies_and_respects_exclusion():
    cal = Calibration(10.0, -5.0)
    gallery = IdentityGallery(cal, threshold=0.9)
    alice, bob = unit([1, 0.1, 0]), unit([0, 1, 0.1])
    ia = gallery.new(np.stack([alice, alice]), "cam1", 1, np.array(box(10, 10)))
    ib = gallery.new(np.stack([bob]), "cam1", 1, np.array(box(200, 10)))
    assert gallery.match(np.stack([alice]), exclude=set())[0] == ia
    assert gallery.match(np.stack([alice]), exclude={ia})[0] is None
    assert gallery.match(np.stack([unit([0, 0, 1])]), exclude=set())[0] is None
    # another camera: no motion gate; same camera one frame later, far away: unreachable
    assert gallery.match(np.stack([bob]), set(), "cam2", 2, np.array(box(900, 10)), fps=10)[0] == ib
    assert gallery.match(np.stack([bob]), set(), "cam1", 2, np.array(box(900, 10)), fps=10)[0] is None


def test_identity_memory_is_bounded_by_forgetting_who_was_seen_longest_ago():
    gallery = IdentityGallery(Calibration(10.0, -5.0), threshold=0.9, max_identities=3)
    looks = [unit([1, 0, 0, 0]), unit([0, 1, 0, 0]), unit([0, 0, 1, 0]), unit([0, 0, 0, 1])]
    first = [gallery.new(np.stack([looks[k]]), "cam1", k, time=float(k)) for k in range(3)]
    gallery.seen(first[0], looks[0], "cam1", 10, time=10.0)  # the first person is back: the second is now the oldest
    latest = gallery.new(np.stack([looks[3]]), "cam1", 11, time=11.0)
    assert sorted(gallery.identities) == sorted([first[0], first[2], latest]) and gallery.forgotten == 1
    assert gallery.match(np.stack([looks[1]]), exclude=set())[0] is None  # forgotten: a new id next time
    assert gallery.match(np.stack([looks[0]]), exclude=set())[0] == first[0]
    from reidkit.track.fusion import IdentityFusion

    fusion = IdentityFusion(Calibration(10.0, -5.0), max_identities=3)
    fusion.gallery = gallery
    assert fusion.count == 4  # identities given, the forgotten one included


def test_preview_keeps_the_histories_of_the_most_recently_active(monkeypatch):
    from reidkit import preview

    monkeypatch.setattr(preview, "MAX_HISTORIES", 2)
    hub = preview.PreviewHub(["a"])
    for identity in (1, 2, 1, 3):
        hub.event({"event": "first_seen", "id": identity, "camera": "a"})
    assert hub.history_of("2") is None and len(hub.history_of("1")) == 2 and hub.history_of("3")


def test_mot_metrics_perfect_and_swapped(data_root):
    gt = np.loadtxt(data_root / "MOT17-mini/train/MOT17-04-FRCNN/gt/gt.txt", delimiter=",")
    gt = gt[(gt[:, 6] != 0) & (gt[:, 7] == 1)]
    perfect = mot_metrics(gt, gt)
    assert perfect["MOTA"] == pytest.approx(1.0) and perfect["IDF1"] == pytest.approx(1.0) and perfect["IDSW"] == 0
    swapped = gt.copy()
    ids = np.unique(gt[:, 1])
    later = swapped[:, 0] > 4
    a, b = ids[0], ids[1]
    swapped[later & (gt[:, 1] == a), 1], swapped[later & (gt[:, 1] == b), 1] = b, a
    worse = mot_metrics(gt, swapped)
    assert worse["IDSW"] == 2 and worse["IDF1"] < 1.0 and worse["MOTA"] < 1.0 and worse["HOTA"] < 1.0


# -- real video --------------------------------------------------------------------------------
def test_pipeline_on_first_100_pets_frames(data_root, tmp_path, capsys, models_root):
    seq = data_root / "PETS09-S2L1"
    args = ["track", str(seq / "vtest.mp4"), "-o", str(tmp_path), "--max-frames", "100", "--json"]
    code = main(args)  # a recorded file: re-associated at the end by default
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["sources"][0]["frames"] == 100
    results = tmp_path / "vtest.txt"
    assert (tmp_path / "vtest.mp4").stat().st_size > 10_000  # drawn with the final ids once the pass ran
    assert not list(tmp_path.glob(".*.plain.mp4")) and len(list(read_frames(tmp_path / "vtest.mp4"))) == 100
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert events and events[0]["event"] == "first_seen" and events[0]["camera"] == "vtest"
    track_events = {"first_seen", "lost", "refound", "reidentified", "ended"}
    assert {e["event"] for e in events} <= track_events | {"identity_merged", "identity_split", "reassociated"}
    assert events[-1]["event"] == "reassociated" and events[-1]["identities"] == summary["identities"]
    lost = set()
    for e in events:  # a track is refound only after it was lost
        if e["event"] == "lost":
            lost.add(e["track"])
        assert e["event"] != "refound" or e["track"] in lost
    assert any(e["event"] == "refound" for e in events)  # lost tracks that come back are reported
    gt = np.loadtxt(seq / "gt/gt.txt", delimiter=",")
    gt = gt[gt[:, 0] <= 100]
    gt[:, 2:6] *= 0.625
    pred = np.loadtxt(results, delimiter=",")
    assert pred[:, 0].min() >= 1 and pred[:, 0].max() <= 100  # 1-based frames
    assert pred[:, 2].min() > -20 and (pred[:, 2] + pred[:, 4]).max() < 500  # in the video's pixels
    m = mot_metrics(gt, pred)
    assert m["IDF1"] > 0.7 and m["MOTA"] > 0.6
    code = main(
        ["eval", "mot", "--pred", str(results), "--gt", str(seq / "gt/gt.txt"), "--gt-scale", "0.625", "--json"]
    )
    assert code == 0 and json.loads(capsys.readouterr().out)["frames"] >= 100
    online = tmp_path / "online"
    args = ["track", str(seq / "vtest.mp4"), "-o", str(online), "--max-frames", "30", "--json", "--online"]
    assert main([*args, "--no-video", "--no-attributes"]) == 0
    summary = json.loads(capsys.readouterr().out)
    events = [json.loads(line) for line in (online / "events.jsonl").read_text().splitlines()]
    assert "reassociation" not in summary and not any(e["event"] == "reassociated" for e in events)
    assert json.loads((online / "run.json").read_text())["reassociate"] is False


def test_two_cameras_share_global_ids_only_when_their_views_overlap(data_root, tmp_path, capsys, models_root):
    video = data_root / "PETS09-S2L1/vtest.mp4"
    layout = tmp_path / "cameras.toml"
    layout.write_text(
        '[[camera]]\nname = "north"\n[[camera]]\nname = "south"\n[[link]]\nfrom = "north"\nto = "south"\noverlap = true\n'
    )
    ids = {}
    for name, extra in (("overlap", ["--cameras", str(layout)]), ("apart", [])):
        out = tmp_path / name
        args = ["track", str(video), str(video), "-o", str(out), "--max-frames", "30", "--no-video"]
        code = main(args + ["--camera", "north", "--camera", "south", "--no-attributes", "--json", *extra])
        assert code == 0
        north = np.loadtxt(out / "north.txt", delimiter=",")
        south = np.loadtxt(out / "south.txt", delimiter=",")
        ids[name] = (set(north[:, 1]), set(south[:, 1]))
    # the same footage at the same time: with overlapping views the same people get the same global ids ...
    north, south = ids["overlap"]
    assert len(north & south) >= 0.7 * len(north)
    events = [json.loads(line) for line in (tmp_path / "overlap/events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "reidentified" and e["camera"] != e["last_camera"] for e in events)
    # ... without a cameras file nobody is in two places at once
    north, south = ids["apart"]
    assert not north & south


def test_bad_videos_are_clear_errors(tmp_path, capsys, models_root):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    assert main(["track", str(bad), "-o", str(tmp_path / "o")]) == 2
    assert "video" in capsys.readouterr().err
    assert main(["track", str(tmp_path / "none.mp4"), "-o", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err
    empty = tmp_path / "frames"
    empty.mkdir()
    assert main(["track", str(empty), "-o", str(tmp_path / "o")]) == 2
    assert "no images" in capsys.readouterr().err


def test_recorded_footage_is_re_associated_by_default_streams_are_not():
    from reidkit.pipeline import recorded

    assert recorded(["a.mp4", Path("frames/")])
    assert not recorded(["a.mp4", "rtsp://127.0.0.1:8554/door"]) and not recorded(["0"]) and not recorded([])
