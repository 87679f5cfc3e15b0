"""SSD output parsing and a real person detector on a real PETS09 frame."""

import numpy as np
import pytest

from reidkit.detect import Detections, Detector, nms, parse_ssd
from reidkit.errors import ConfigError, ImageError
from reidkit.preprocess import pad_to_aspect
from reidkit.video import VideoError, read_frames


def test_parse_ssd_scales_filters_and_clips():
    rows = np.array(
        [
            [0, 1, 0.9, 0.1, 0.2, 0.3, 0.6],
            [0, 1, 0.3, 0.1, 0.2, 0.3, 0.6],  # below threshold
            [-1, 0, 0.0, 0, 0, 0, 0],  # padding row
            [0, 1, 0.8, -0.1, 0.5, 1.2, 0.5],  # zero height after clipping
            [0, 1, 0.7, 0.5, 0.5, 1.2, 1.0],  # clipped at the border
        ],
        np.float32,
    )
    d = parse_ssd(rows.reshape(1, 1, -1, 7), width=200, height=100, threshold=0.5)
    assert len(d) == 2
    assert np.allclose(d.xyxy[0], [20, 20, 60, 60])
    assert np.allclose(d.xyxy[1], [100, 50, 200, 100])
    assert np.allclose(d.confidence, [0.9, 0.7])


def test_parse_ssd_maps_a_padded_canvas_back_to_the_frame():
    rows = np.array([[0, 1, 0.9, 0.1, 0.2, 0.3, 0.6], [0, 1, 0.9, 0.1, 0.2, 0.9, 0.6]], np.float32)
    d = parse_ssd(rows, width=100, height=300, threshold=0.5, canvas=(300, 300))
    assert np.allclose(d.xyxy[0], [30, 60, 90, 180])
    assert np.allclose(d.xyxy[1], [30, 60, 100, 180])  # clipped to the frame, not the padding


def test_pad_to_aspect_pads_narrow_frames_and_leaves_near_ones():
    narrow = np.full((360, 106, 3), 7, np.uint8)
    padded = pad_to_aspect(narrow, 512, 512, 1.25, 2.0)
    assert padded.shape == (360, 360, 3) and (padded[:, :106] == 7).all() and (padded[:, 106:] == 0).all()
    assert pad_to_aspect(np.zeros((360, 480, 3), np.uint8), 512, 512, 1.25, 2.0).shape == (360, 480, 3)
    assert pad_to_aspect(np.zeros((1080, 1920, 3), np.uint8), 512, 512, 1.25, 2.0).shape == (1080, 1920, 3)
    assert pad_to_aspect(np.zeros((100, 800, 3), np.uint8), 512, 512, 1.25, 2.0).shape == (800, 800, 3)


def test_nms_keeps_the_best_of_overlapping_boxes():
    d = Detections(
        np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32),
        np.array([0.6, 0.9, 0.5], np.float32),
        np.zeros(3, np.int64),
    )
    kept = nms(d, 0.5)
    assert len(kept) == 2 and 0.9 in kept.confidence and 0.6 not in kept.confidence


def _iou(a, b):
    x0, y0 = np.maximum(a[:2], b[:2])
    x1, y1 = np.minimum(a[2:], b[2:])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_detector_finds_people_where_ground_truth_says(data_root, models_root):
    seq = data_root / "PETS09-S2L1"
    gt = np.loadtxt(seq / "gt/gt.txt", delimiter=",")
    frame_gt = gt[(gt[:, 0] == 1) & (gt[:, 6] != 0)]
    boxes = frame_gt[:, 2:6] * 0.625
    boxes[:, 2:] += boxes[:, :2]
    _, frame = next(read_frames(seq / "vtest.mp4"))
    dets = Detector("person-detection-retail-0013", confidence=0.4).detect(frame)
    matched = sum(max((_iou(g, d) for d in dets.xyxy), default=0) > 0.5 for g in boxes)
    assert matched >= 0.7 * len(boxes)
    assert len(dets) <= len(boxes) + 3


def test_narrow_strip_is_padded_not_stretched(data_root, models_root):
    """A 106-px-wide strip of PETS09 (one of four side-by-side cameras): stretched to the square input its
    people are missed; padded to the model's aspect they are found where the ground truth says."""
    seq = data_root / "PETS09-S2L1"
    gt = np.loadtxt(seq / "gt/gt.txt", delimiter=",")
    frames = dict(f for f in read_frames(seq / "vtest.mp4") if f[0] in (0, 50, 100, 150, 200))
    found = {None: 0, (1.25, 2.0): 0}
    truth = 0
    detectors = {s: Detector(confidence=0.5, max_stretch=s) for s in found}
    for index, frame in frames.items():
        strip = frame[:, 250:356]
        boxes = gt[(gt[:, 0] == index + 1) & (gt[:, 6] != 0), 2:6] * 0.625
        boxes[:, 2:] += boxes[:, :2]
        inside = boxes[(boxes[:, 0] >= 250) & (boxes[:, 2] <= 356)] - [250, 0, 250, 0]
        truth += len(inside)
        for s, detector in detectors.items():
            dets = detector.detect(strip).xyxy
            found[s] += sum(max((_iou(g, d) for d in dets), default=0) > 0.5 for g in inside)
    assert truth >= 5
    assert found[(1.25, 2.0)] >= 0.6 * truth and found[(1.25, 2.0)] >= found[None] + 0.4 * truth


def test_max_stretch_must_be_two_limits_of_at_least_one(models_root):
    with pytest.raises(ConfigError, match="max_stretch"):
        Detector(max_stretch=(0.5, 2.0))


def test_unreadable_videos(tmp_path):
    with pytest.raises(VideoError, match="not found"):
        next(read_frames(tmp_path / "none.mp4"))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(VideoError):
        next(read_frames(bad))


def test_detector_rejects_empty_frame(models_root):
    with pytest.raises(ImageError, match="empty"):
        Detector().detect(np.zeros((0, 0, 3), np.uint8))
