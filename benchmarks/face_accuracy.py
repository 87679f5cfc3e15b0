"""Face verification table: four real face sets, alignment on/off, illumination normalisation variants.

All pairs of each folder set (ROC AUC, TAR@FAR=1e-2/1e-3, best accuracy) and the deepface CSV pairs.
Each row is reproduced by `reidkit eval faces DIR [--no-align] [--illumination X] [--flip]` or
`reidkit eval face-pairs --csv master.csv ...`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_root, machine  # noqa: E402

from reidkit.evaluation import evaluate_folder, evaluate_pairs_csv  # noqa: E402
from reidkit.faces import FaceReId  # noqa: E402

D4 = {"detector": "face-detection-retail-0004"}
VARIANTS = [
    ("0004, detector box, no alignment", dict(D4, align_faces=False, illumination="none", enhance_detection=False)),
    ("0004, aligned (the plain OMZ pipeline)", dict(D4, illumination="none", enhance_detection=False)),
    ("0004, aligned + CLAHE + flip", dict(D4, illumination="clahe", enhance_detection=False, flip=True)),
    ("0004, aligned + auto-gamma for detection", dict(D4, illumination="none")),
    ("0004, aligned + auto-gamma for detection and crop", dict(D4)),
    ("0005, detector box, no alignment", dict(align_faces=False, illumination="none", enhance_detection=False)),
    ("0005, aligned", dict(illumination="none", enhance_detection=False)),
    ("0005, aligned + auto-gamma for detection", dict(illumination="none")),
    ("**0005, aligned + auto-gamma for detection and crop (default)**", dict()),
    ("default + flip", dict(flip=True)),
    ("default, crop CLAHE instead of gamma", dict(illumination="clahe")),
    ("default, crop gamma+DoG instead of gamma", dict(illumination="dog")),
    ("adas-0001 instead of 0005", dict(detector="face-detection-adas-0001")),
]


def main() -> None:
    print(f"machine: {machine()}\n")
    faces = data_root() / "faces"
    sets = ["CroppedYale-dev", "att_faces", "yalefaces"]
    print(
        "| pipeline | "
        + " | ".join(f"{s} AUC | TAR@1e-2 | TAR@1e-3" for s in sets)
        + " | deepface-pairs AUC | acc (p>0.5) |"
    )
    print("|---|" + "---|---|---|" * len(sets) + "---|---|")
    for label, kwargs in VARIANTS:
        start = time.perf_counter()
        fr = FaceReId(**kwargs)
        cells = []
        for s in sets:
            r = evaluate_folder(faces / s, fr.embed)
            cells.append(f"{r['auc']:.4f} | {r['tar@far=1e-2']:.3f} | {r['tar@far=1e-3']:.3f}")
        d = evaluate_pairs_csv(faces / "deepface-pairs/master.csv", fr.embed, fr.calibration)
        cells.append(f"{d['auc']:.4f} | {d['calibrated_accuracy']:.3f}")
        print(f"| {label} | " + " | ".join(cells) + f" |  <!-- {time.perf_counter() - start:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
