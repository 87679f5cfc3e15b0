"""Metrics against straightforward loop references written here, on random and real distance matrices."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reidkit.errors import ReidkitError
from reidkit.metrics.pairs import best_threshold, kfold_accuracy, lfw_folds, read_lfw_pairs, tar_at_far
from reidkit.metrics.reid import evaluate_rank, re_ranking


def reference_rank(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=50):
    """The Market protocol as plain loops: obviously correct, slow."""
    cmcs, aps, inps = [], [], []
    for i in range(distmat.shape[0]):
        order = sorted(range(distmat.shape[1]), key=lambda j: (distmat[i, j], j))
        kept = [j for j in order if not (g_pids[j] == q_pids[i] and g_camids[j] == q_camids[i])]
        matches = [1 if g_pids[j] == q_pids[i] else 0 for j in kept]
        if sum(matches) == 0:
            continue
        cmc = [0] * max_rank
        first = matches.index(1)
        for k in range(first, max_rank):
            cmc[k] = 1
        cmcs.append(cmc)
        hits, precisions = 0, []
        for rank, m in enumerate(matches, start=1):
            if m:
                hits += 1
                precisions.append(hits / rank)
        aps.append(sum(precisions) / hits)
        last = max(k for k, m in enumerate(matches) if m)
        inps.append(hits / (last + 1))
    if not aps:
        return None, None, None, 0
    return np.mean(cmcs, axis=0), np.mean(aps), np.mean(inps), len(aps)


def _random_case(rng, nq, ng, nids, ncams, ties=False):
    q_pids = rng.integers(0, nids, nq)
    g_pids = rng.integers(0, nids, ng)
    q_cams = rng.integers(0, ncams, nq)
    g_cams = rng.integers(0, ncams, ng)
    dist = rng.random((nq, ng))
    if ties:
        dist = np.round(dist, 1)
    return dist, q_pids, g_pids, q_cams, g_cams


@pytest.mark.parametrize("seed, ties", [(0, False), (1, True), (2, False), (3, True)])
def test_matches_loop_reference_on_random_matrices(seed, ties):
    rng = np.random.default_rng(seed)
    case = _random_case(rng, 40, 120, 15, 3, ties)
    ours = evaluate_rank(*case, max_rank=20, chunk=7)
    cmc, mAP, mINP, n = reference_rank(*case, max_rank=20)
    assert ours.num_valid_queries == n
    assert np.allclose(ours.cmc, cmc, atol=1e-6)
    assert ours.mAP == pytest.approx(mAP, abs=1e-6)
    assert ours.mINP == pytest.approx(mINP, abs=1e-6)


@settings(deadline=None, max_examples=25)
@given(st.integers(1, 12), st.integers(2, 30), st.integers(1, 6), st.integers(1, 3), st.integers(0, 10_000))
def test_matches_loop_reference_property(nq, ng, nids, ncams, seed):
    case = _random_case(np.random.default_rng(seed), nq, ng, nids, ncams, ties=seed % 2 == 0)
    cmc, mAP, mINP, n = reference_rank(*case, max_rank=ng)
    if n == 0:
        with pytest.raises(ReidkitError):
            evaluate_rank(*case, max_rank=ng)
        return
    ours = evaluate_rank(*case, max_rank=ng)
    assert np.allclose(ours.cmc, cmc, atol=1e-6)
    assert ours.mAP == pytest.approx(mAP, abs=1e-6) and ours.mINP == pytest.approx(mINP, abs=1e-6)


def test_matches_loop_reference_on_real_embeddings(reid, pku):
    from reidkit.data.market import read_split

    q, g = read_split(pku, "query"), read_split(pku, "bounding_box_test")
    dist = 1 - reid.embed(list(q.paths)) @ reid.embed(list(g.paths)).T
    ours = evaluate_rank(dist, q.pids, g.pids, q.camids, g.camids)
    cmc, mAP, mINP, n = reference_rank(dist, q.pids, g.pids, q.camids, g.camids)
    assert n == 96
    assert np.allclose(ours.cmc, cmc, atol=1e-6) and ours.mAP == pytest.approx(mAP, abs=1e-6)
    # the plain-protocol figure of the default (0277 FP16) on PKU-Reid-dev: rank-1 0.646 / mAP 0.636
    assert ours.rank(1) == pytest.approx(0.646, abs=0.03) and ours.mAP == pytest.approx(0.636, abs=0.03)


def test_same_camera_same_id_is_excluded():
    dist = np.array([[0.1, 0.2, 0.3]])
    res = evaluate_rank(dist, np.array([1]), np.array([1, 2, 1]), np.array([1]), np.array([1, 1, 2]))
    assert res.rank(1) == 0.0 and res.rank(2) == 1.0  # gallery item 0 is the same shot: ignored
    assert res.mAP == pytest.approx(0.5)


def test_full_market_size_runs_in_seconds():
    import time

    rng = np.random.default_rng(0)
    case = _random_case(rng, 3368, 15913, 751, 6)
    start = time.perf_counter()
    evaluate_rank(case[0].astype(np.float32), *case[1:])
    assert time.perf_counter() - start < 30


def test_re_ranking_helps_a_clustered_problem():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, 16))

    def sample(ids):
        x = centres[ids] + 0.9 * rng.normal(size=(len(ids), 16))
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    g_ids = np.repeat(np.arange(10), 8)
    q_ids = np.arange(10)
    q, g = sample(q_ids), sample(g_ids)
    qg, qq, gg = 1 - q @ g.T, 1 - q @ q.T, 1 - g @ g.T
    cams_q, cams_g = np.zeros(10, int), np.ones(80, int)
    plain = evaluate_rank(qg, q_ids, g_ids, cams_q, cams_g)
    rr = re_ranking(qg, qq, gg, k1=6, k2=3, lambda_value=0.3)
    assert rr.shape == qg.shape
    assert evaluate_rank(rr, q_ids, g_ids, cams_q, cams_g).mAP > plain.mAP


def test_best_threshold_and_kfold():
    score = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    same = np.array([0, 0, 0, 1, 1, 1], bool)
    t = best_threshold(score, same)
    assert 0.3 < t < 0.7
    acc, _, _ = kfold_accuracy(np.tile(score, 10), np.tile(same, 10), np.repeat(np.arange(10), 6))
    assert acc == 1.0


@settings(deadline=None, max_examples=30)
@given(st.lists(st.tuples(st.integers(0, 20), st.booleans()), min_size=2, max_size=40))
def test_best_threshold_is_optimal(pairs):
    score = np.array([p[0] for p in pairs], float)
    same = np.array([p[1] for p in pairs])
    t = best_threshold(score, same)
    best = max(np.mean((score >= c) == same) for c in np.r_[score, score.max() + 1])
    assert np.mean((score >= t) == same) == pytest.approx(best)


def test_tar_at_far():
    neg = np.linspace(0, 1, 1000)
    pos = np.array([0.5, 0.995, 0.9995, 2.0])
    score = np.r_[neg, pos]
    same = np.r_[np.zeros(1000, bool), np.ones(4, bool)]
    tar, thr = tar_at_far(score, same, 1e-3)
    assert np.mean(neg > thr) <= 1e-3
    assert tar == pytest.approx(0.5)


def test_lfw_pairs_file(data_root):
    pairs = read_lfw_pairs(data_root / "lfw/pairs.txt")
    assert len(pairs) == 6000
    same = np.array([a == b for a, _, b, _ in pairs])
    folds = lfw_folds(len(pairs))
    assert all(same[folds == f].sum() == 300 for f in range(10))
