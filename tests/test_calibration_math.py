import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reidkit.errors import CalibrationError
from reidkit.models.catalog import Calibration
from reidkit.verify import cosine_similarity, fit_logistic, label_pairs, logistic, roc_auc


@settings(deadline=None, max_examples=15)
@given(st.floats(3.0, 20.0), st.floats(-0.8, 0.8))
def test_fit_logistic_recovers_known_parameters(scale, threshold):
    rng = np.random.default_rng(0)
    s = rng.uniform(-1, 1, 40000)
    true = Calibration(scale, -scale * threshold)
    y = rng.random(s.size) < logistic(s, true)
    if y.all() or not y.any():
        return
    fitted = fit_logistic(s, y, balanced=False, l2=0.0)
    assert fitted.scale == pytest.approx(scale, rel=0.15)
    assert fitted.threshold == pytest.approx(threshold, abs=0.05)


def test_balanced_fit_puts_half_between_the_classes():
    rng = np.random.default_rng(1)
    pos = rng.normal(0.6, 0.1, 200)
    neg = rng.normal(0.1, 0.1, 20000)
    cal = fit_logistic(np.r_[pos, neg], np.r_[np.ones(200), np.zeros(20000)])
    assert 0.3 < cal.threshold < 0.4  # the midpoint, not pulled towards the larger class


def test_fit_logistic_needs_both_classes():
    with pytest.raises(CalibrationError, match="both"):
        fit_logistic(np.array([0.1, 0.2]), np.array([1, 1]))
    with pytest.raises(CalibrationError):
        fit_logistic(np.array([]), np.array([]))


def test_roc_auc_matches_pair_counting():
    rng = np.random.default_rng(2)
    score = rng.integers(0, 5, 60).astype(float)
    pos = rng.random(60) < 0.4
    wins = sum((a > b) + 0.5 * (a == b) for a in score[pos] for b in score[~pos])
    assert roc_auc(score, pos) == pytest.approx(wins / (pos.sum() * (~pos).sum()))


def test_label_pairs_and_cross_camera():
    i, j, same = label_pairs([1, 1, 2], [1, 2, 1])
    assert list(zip(i, j, same)) == [(0, 1, True), (0, 2, False), (1, 2, False)]
    i, j, same = label_pairs([1, 1, 2], [1, 2, 1], cross_camera=True)
    assert list(zip(i, j)) == [(0, 1), (1, 2)]


def test_cosine_similarity_rowwise():
    a = np.array([[1.0, 0.0], [1.0, 1.0]])
    b = np.array([[2.0, 0.0], [-1.0, -1.0]])
    assert np.allclose(cosine_similarity(a, b), [1.0, -1.0])
