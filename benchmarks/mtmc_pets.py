"""Multi-camera baseline on PETS09-S2L1 cut into virtual cameras: overlapping views (0:0.6, 0.4:1) and views with
a blind strip between them (0:0.42, 0.58:1), tracked by `reidkit track` (sources one after another, one shared
appearance gallery) and scored with `reidkit eval mtmc`.

    python benchmarks/mtmc_pets.py
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_root, machine  # noqa: E402

from reidkit.cli.main import main as cli  # noqa: E402

LAYOUTS = {"overlapping": "0:0.6,0.4:1", "blind strip": "0:0.42,0.58:1"}


def run(*args) -> dict:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = cli([str(a) for a in args] + ["--json"])
    if code:
        raise SystemExit(f"reidkit {' '.join(map(str, args))} failed ({code})")
    return json.loads(buffer.getvalue())


def main() -> None:
    print(f"machine: {machine()}\n")
    seq = data_root() / "PETS09-S2L1"
    print("| layout | cross-camera IDF1 | IDP | IDR | identities (true 19) | view1 IDF1 / MOTA | view2 IDF1 / MOTA |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, views in LAYOUTS.items():
            d = Path(tmp) / name.replace(" ", "-")
            run(
                "data",
                "split-views",
                seq / "vtest.mp4",
                seq / "gt/gt.txt",
                "-o",
                d,
                "--views",
                views,
                "--scale",
                "0.625",
            )
            run("track", d / "view1.mp4", d / "view2.mp4", "-o", d / "out", "--no-video", "--no-attributes")
            r = run("eval", "mtmc", "--pred", d / "out", "--gt", d / "gt")
            c, v1, v2 = r["cross_camera"], r["cameras"]["view1"], r["cameras"]["view2"]
            print(
                f"| {name} ({views}) | {c['IDF1']:.3f} | {c['IDP']:.3f} | {c['IDR']:.3f} | {c['pred_identities']} | "
                f"{v1['IDF1']:.3f} / {v1['MOTA']:.3f} | {v2['IDF1']:.3f} / {v2['MOTA']:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
