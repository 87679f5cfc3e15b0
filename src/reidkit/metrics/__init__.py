"""Evaluation metrics, pure NumPy (no OpenVINO): re-id ranking, pairwise verification, LFW protocol."""

from reidkit.metrics.pairs import lfw_folds, pairwise_accuracy, tar_at_far
from reidkit.metrics.reid import RankResult, evaluate_rank, re_ranking

__all__ = ["RankResult", "evaluate_rank", "lfw_folds", "pairwise_accuracy", "re_ranking", "tar_at_far"]
