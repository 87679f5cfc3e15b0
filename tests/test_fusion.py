"""Space–time identity fusion on constructed cases (pure), and the cameras file."""

from __future__ import annotations

import numpy as np
import pytest

from reidkit.cameras import CameraLayout, Link, load_layout, parse_layout
from reidkit.errors import ConfigError
from reidkit.models.catalog import Calibration
from reidkit.track import kalman
from reidkit.track.fusion import IdentityFusion
from reidkit.track.tracker import Track, TrackState

CAL = Calibration(20.0, -10.0)  # cosine 0.5 -> P 0.5; identical unit vectors -> P ~1


def unit(v) -> np.ndarray:
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v)


ALICE, BOB = unit([1, 0.05, 0, 0]), unit([0, 1, 0.05, 0])


def track(track_id: int, box, feature, state=TrackState.TRACKED) -> Track:
    mean, cov = kalman.initiate(kalman.xyxy_to_cxcywh(np.array(box, np.float64))[0])
    t = Track(track_id, mean, cov, 0.9, 1, state=state, confirmed=True, det_index=0)
    t.features = [feature, feature]
    return t


def see(fusion: IdentityFusion, camera: str, time: float, t: Track, confirmed: bool = True) -> int:
    """One frame of one camera with one track; returns its global id."""
    events = [("confirmed", t)] if confirmed else []
    result = fusion.update(camera, time, int(time * 10), events, [t], np.array([t.features[-1]]))
    return result.ids[t.track_id]


def leave(fusion: IdentityFusion, camera: str, time: float, t: Track) -> None:
    t.state = TrackState.REMOVED
    fusion.update(camera, time, int(time * 10), [("removed", t)], [], None)


def test_appearance_reidentifies_across_cameras_one_after_another():
    fusion = IdentityFusion(CAL, 0.9)
    a = track(1, (10, 10, 50, 110), ALICE)
    first = see(fusion, "cam1", 0.0, a)
    leave(fusion, "cam1", 1.0, a)
    assert see(fusion, "cam2", 5.0, track(1, (300, 10, 340, 110), ALICE)) == first
    assert see(fusion, "cam2", 5.0, track(2, (100, 10, 140, 110), BOB)) != first


def test_nobody_is_in_two_non_overlapping_cameras_at_once():
    fusion = IdentityFusion(CAL, 0.9)
    alice = see(fusion, "cam1", 0.0, track(1, (10, 10, 50, 110), ALICE))
    # Alice is still tracked in cam1; a look-alike appears in cam2 at the same moment: someone else
    twin = see(fusion, "cam2", 0.1, track(1, (10, 10, 50, 110), ALICE))
    assert twin != alice and fusion.count == 2


def test_overlapping_views_merge_by_appearance_without_homographies():
    layout = CameraLayout(links=(Link("cam1", "cam2", overlap=True), Link("cam2", "cam1", overlap=True)))
    fusion = IdentityFusion(CAL, 0.9, layout)
    alice = see(fusion, "cam1", 0.0, track(1, (10, 10, 50, 110), ALICE))
    assert see(fusion, "cam2", 0.1, track(7, (400, 10, 440, 110), ALICE)) == alice
    assert fusion.count == 1


def test_overlapping_views_merge_by_ground_position_with_homographies():
    shift = np.array([[1, 0, 200], [0, 1, 0], [0, 0, 1]], np.float64)  # cam2 sees the floor 200 px further right
    layout = parse_layout(
        {
            "ground_radius": 20.0,
            "camera": [
                {"name": "cam1", "homography": np.eye(3).tolist()},
                {"name": "cam2", "homography": shift.tolist()},
            ],
            "link": [{"from": "cam1", "to": "cam2", "overlap": True}],
        }
    )
    fusion = IdentityFusion(CAL, 0.9, layout)
    a, b = track(1, (300, 10, 340, 110), ALICE), track(2, (500, 10, 540, 110), BOB)
    result = fusion.update("cam1", 0.0, 0, [("confirmed", a), ("confirmed", b)], [a, b], np.array([ALICE, BOB]))
    alice, bob = result.ids[1], result.ids[2]
    # in cam2 Bob's spot on the floor is 200 px further left: ground position decides, even against looks
    c, d = track(1, (300, 10, 340, 110), ALICE), track(2, (10, 10, 50, 110), ALICE)
    result = fusion.update("cam2", 0.1, 1, [("confirmed", c), ("confirmed", d)], [c, d], np.array([ALICE, ALICE]))
    assert result.ids[1] == bob
    # a look-alike of Alice standing somewhere else on the floor is not Alice
    assert result.ids[2] not in (alice, bob)


def test_a_transit_outside_its_window_is_refused_and_inside_accepted():
    layout = parse_layout({"link": [{"from": "door", "to": "hall", "min_s": 5, "max_s": 20}]})
    for arrive, same in ((2.0, False), (10.0, True), (40.0, False)):
        fusion = IdentityFusion(CAL, 0.9, layout)
        a = track(1, (10, 10, 50, 110), ALICE)
        first = see(fusion, "door", 0.0, a)
        leave(fusion, "door", 0.5, a)
        again = see(fusion, "hall", arrive, track(1, (10, 10, 50, 110), ALICE))
        assert (again == first) is same, arrive


def test_a_stated_penalty_outside_the_window_lowers_the_probability():
    base = {"link": [{"from": "door", "to": "hall", "min_s": 5, "max_s": 20}]}
    for penalty, same in ((0.05, True), (0.9, False)):
        fusion = IdentityFusion(CAL, 0.5, parse_layout({**base, "outside_window": penalty}))
        a = track(1, (10, 10, 50, 110), ALICE)
        first = see(fusion, "door", 0.0, a)
        leave(fusion, "door", 0.5, a)
        assert (see(fusion, "hall", 1.0, track(1, (10, 10, 50, 110), ALICE)) == first) is same


def test_a_lost_track_superseded_by_its_person_ends():
    fusion = IdentityFusion(CAL, 0.9)
    old = track(1, (10, 10, 50, 110), ALICE)
    first = see(fusion, "cam1", 0.0, old)
    old.state = TrackState.LOST
    fusion.update("cam1", 0.5, 5, [("lost", old)], [old], None)
    new = track(2, (30, 10, 70, 110), ALICE)
    result = fusion.update("cam1", 1.0, 10, [("confirmed", new)], [old, new], np.array([ALICE]))
    assert result.ids[2] == first and result.ended == [1]
    kinds = [e["event"] for e in result.events]
    assert kinds == ["reidentified", "ended"] and result.events[1]["reason"] == "superseded"


def test_cameras_file_errors_name_the_problem(tmp_path):
    cases = {
        '[[camera]]\nname = "a"\n[[camera]]\nname = "a"\n': "declared twice",
        '[[camera]]\nname = "a"\n[[link]]\nfrom = "a"\nto = "b"\n': "unknown camera 'b'",
        '[[link]]\nfrom = "a"\nto = "b"\nmin_s = 9\nmax_s = 3\n': "min_s <= max_s",
        '[[camera]]\nname = "a"\nhomography = [[1, 0], [0, 1]]\n': "3×3",
        'outside_window = "maybe"\n': "outside_window",
        "speed = 3\n": "unknown key 'speed'",
        "[[camera\n": "not valid TOML",
    }
    for k, (text, words) in enumerate(cases.items()):
        path = tmp_path / f"c{k}.toml"
        path.write_text(text)
        with pytest.raises(ConfigError, match=words):
            load_layout(path)


def test_cameras_file_round_trip(tmp_path):
    from reidkit.cameras import layout_toml

    layout = parse_layout(
        {
            "ground_radius": 0.8,
            "camera": [{"name": "a", "source": "rtsp://x/1", "homography": np.eye(3).tolist()}, {"name": "b"}],
            "link": [{"from": "a", "to": "b", "min_s": 2, "max_s": 30}],
        }
    )
    path = tmp_path / "cameras.toml"
    path.write_text(layout_toml(layout))
    again = load_layout(path)
    assert again.link("b", "a").max_s == 30 and again.cameras["a"].source == "rtsp://x/1"
    assert again.ground_radius == 0.8 and not again.overlap("a", "b")
    assert again.transit("a", "b", 1.0) is None and again.transit("a", "b", 3.0) == 0.0


def test_slim_tracks_keep_what_fusion_decides_on():
    import pickle

    from reidkit.scale.ray_live import slim_tracks

    big = track(9, (10, 10, 50, 110), ALICE)
    big.features = list(np.random.default_rng(0).normal(size=(16, 256)))  # a real track: 16 crops of 256-d
    assert len(pickle.dumps(slim_tracks([], [big])[1][0])) < len(pickle.dumps(big)) / 10  # appearance stays home
    old = track(1, (10, 10, 50, 110), ALICE)
    new = track(2, (200, 10, 240, 110), BOB)
    events, tracks = slim_tracks([("confirmed", new)], [old, new])
    assert tracks[1].features and tracks[0].track_id == 1 and np.allclose(tracks[0].xyxy, old.xyxy)
    full, slim = IdentityFusion(CAL, 0.9), IdentityFusion(CAL, 0.9)
    see(full, "cam1", 0.0, old)
    see(slim, "cam1", 0.0, old)
    a = full.update("cam1", 0.1, 1, [("confirmed", new)], [old, new], np.array([ALICE, BOB]))
    b = slim.update("cam1", 0.1, 1, events, tracks, np.array([ALICE, BOB]))
    assert a.ids == b.ids and [e["event"] for e in a.events] == [e["event"] for e in b.events]


def test_a_camera_whose_frames_change_size_starts_its_tracks_over(models_root):
    from reidkit.pipeline import Pipeline, PipelineConfig
    from reidkit.sources import Frame

    pipeline = Pipeline(PipelineConfig(use_reid=False))
    pipeline.fusion.update("cam", 0.0, 0, [("confirmed", track(1, (10, 10, 50, 110), ALICE))], [], None)
    assert pipeline.fusion._tracks
    big, small = np.zeros((360, 480, 3), np.uint8), np.zeros((240, 320, 3), np.uint8)
    first = pipeline.observe([Frame("cam", 0, 0.0, big, 0.0)])[0]
    assert not first.restarted
    pipeline.step([Frame("cam", 1, 0.1, small, 0.0)])
    assert pipeline.trackers["cam"] is not first.tracker and not pipeline.fusion._tracks
