"""Person attribute accuracy on 110 crops of the shared data labelled by eye (benchmarks/attributes/labels.csv,
how they were made: benchmarks/attributes/README.md). Each attribute is scored on the crops where the labeller
could tell (empty cells left out); flags at P >= 0.5, colours by name. Plain crops and mirror-averaged
probabilities (the default) are measured in the same run.

    python benchmarks/attributes_accuracy.py
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_root, machine  # noqa: E402

from reidkit.attributes import AttributeRecognizer  # noqa: E402
from reidkit.images import load_image  # noqa: E402

LABELS = Path(__file__).resolve().parent / "attributes" / "labels.csv"
FLAG_OF = {
    "gender": "male",
    "backpack": "backpack",
    "bag": "bag",
    "hat": "hat",
    "longsleeves": "longsleeves",
    "longpants": "longpants",
    "longhair": "longhair",
}


def score(rows: list[dict], predictions) -> dict[str, tuple[float, int]]:
    """{attribute: (accuracy, labelled crops)}."""
    out = {}
    for key, flag in FLAG_OF.items():
        pairs = [(r[key] in ("male", "yes"), p.probabilities[flag] >= 0.5) for r, p in zip(rows, predictions) if r[key]]
        out[key] = (sum(a == b for a, b in pairs) / len(pairs), len(pairs))
    for key in ("upper", "lower"):
        pairs = [(r[key], getattr(p, key)) for r, p in zip(rows, predictions) if r[key]]
        out[key] = (sum(a == b for a, b in pairs) / len(pairs), len(pairs))
    return out


def main() -> None:
    print(f"machine: {machine()}\n")
    rows = list(csv.DictReader(open(LABELS, newline="")))
    crops = [load_image(data_root() / r["image"]) for r in rows]
    results = {}
    for name, flip in (("plain", False), ("mirror-averaged (default)", True)):
        recognizer = AttributeRecognizer(flip=flip)
        start = time.perf_counter()
        predictions = recognizer(crops)
        results[name] = (score(rows, predictions), len(crops) / (time.perf_counter() - start))
    names = list(results)
    print(f"{len(rows)} crops: " + ", ".join(f"{n} {r[1]:.0f} crops/s" for n, r in results.items()) + "\n")
    print("| attribute | labelled crops | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for key in (*FLAG_OF, "upper", "lower"):
        count = results[names[0]][0][key][1]
        print(f"| {key} | {count} | " + " | ".join(f"{results[n][0][key][0]:.3f}" for n in names) + " |")


if __name__ == "__main__":
    main()
