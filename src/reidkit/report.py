"""Evaluation reports: JSON, CMC curve and ranked-results grid PNGs. Drawing only, no metrics."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from reidkit.images import load_image

GREEN, RED, GREY = (0, 170, 0), (0, 0, 220), (160, 160, 160)


def write_json(path: Path, data: dict) -> None:
    """Write a report as indented JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=float))


def plot_cmc(curves: dict[str, np.ndarray], path: Path, max_rank: int = 20) -> None:
    """CMC curves (rank 1..max_rank) of one or more runs, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    for label, cmc in curves.items():
        ranks = np.arange(1, min(max_rank, len(cmc)) + 1)
        ax.plot(ranks, cmc[: len(ranks)], marker="o", markersize=3, label=f"{label} (R1 {cmc[0]:.3f})")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("rank")
    ax.set_ylabel("matching rate")
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("CMC")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _tile(path, border, width: int, height: int, label: str = "") -> np.ndarray:
    image = cv2.resize(load_image(path), (width, height))
    image = cv2.copyMakeBorder(image, 4, 4, 4, 4, cv2.BORDER_CONSTANT, value=border)
    if label:
        cv2.putText(image, label, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return image


def ranked_grid(
    query_paths,
    gallery_paths,
    distmat: np.ndarray,
    q_pids,
    g_pids,
    q_camids,
    g_camids,
    path: Path,
    top: int = 10,
    rows: int = 8,
    width: int = 64,
    height: int = 128,
) -> None:
    """One row per query: the query (grey border), then its top gallery matches, green if right, red if wrong.

    Like torchreid's visrank, same-id same-camera gallery items are left out.
    """
    rows = min(rows, len(query_paths))
    picks = np.linspace(0, len(query_paths) - 1, rows).round().astype(int)
    lines = []
    for qi in picks:
        order = np.argsort(distmat[qi], kind="stable")
        order = [g for g in order if not (g_pids[g] == q_pids[qi] and g_camids[g] == q_camids[qi])][:top]
        tiles = [_tile(query_paths[qi], GREY, width, height, "query")]
        tiles.append(np.full((height + 8, 12, 3), 255, np.uint8))
        for rank, g in enumerate(order, start=1):
            tiles.append(_tile(gallery_paths[g], GREEN if g_pids[g] == q_pids[qi] else RED, width, height, str(rank)))
        line = np.concatenate(tiles, axis=1)
        lines.append(line)
    widest = max(line.shape[1] for line in lines)
    lines = [
        cv2.copyMakeBorder(line, 2, 2, 0, widest - line.shape[1], cv2.BORDER_CONSTANT, value=(255, 255, 255))
        for line in lines
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.concatenate(lines, axis=0))
