"""Per-epoch metrics: metrics.csv and a loss/accuracy plot beside the checkpoints."""

from __future__ import annotations

import csv
from pathlib import Path

LOSSES = ("loss", "cross_entropy", "triplet", "intra_camera", "inter_camera")
COLUMNS = ("epoch", *LOSSES, "lr", "rank1", "rank5", "mAP", "mINP", "seconds")


def write_csv(rows: list[dict], path: Path) -> None:
    """All rows so far (rewritten each epoch, so a resumed run keeps one consistent file)."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in COLUMNS})
    tmp.replace(path)


def read_csv(path: Path) -> list[dict]:
    """Rows of a metrics.csv with numbers parsed (empty cells -> None)."""
    with path.open(newline="") as fh:
        return [{k: (float(v) if v not in ("", None) else None) for k, v in row.items()} for row in csv.DictReader(fh)]


def plot(rows: list[dict], path: Path) -> None:
    """Loss per epoch (left) and rank-1/mAP per epoch (right) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    trained = [r for r in rows if r.get("loss") is not None]
    for key in LOSSES:
        if any(r.get(key) is None for r in trained):
            continue
        left.plot([r["epoch"] for r in trained], [r[key] for r in trained], marker="o", label=key)
    left.set_xlabel("epoch")
    left.set_title("training loss")
    left.legend()
    scored = [r for r in rows if r.get("rank1") is not None]
    for key in ("rank1", "mAP"):
        right.plot([r["epoch"] for r in scored], [r[key] for r in scored], marker="o", label=key)
    right.set_xlabel("epoch (0 = before training)")
    right.set_ylim(0, 1)
    right.set_title("test split")
    right.legend()
    for axis in (left, right):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
