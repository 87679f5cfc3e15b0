"""Multi-camera tracking on PETS09-S2L1 cut into virtual cameras: overlapping views (0:0.6, 0.4:1) and views with a
blind strip between them (0:0.42, 0.58:1). Three runs per layout, measured in the same run:

1. sequential baseline: the cameras tracked one after another, one appearance-only identity memory (the runtime
   before the multi-camera issue);
2. `reidkit track view1.mp4 view2.mp4` — both cameras at once, space–time fusion without a cameras file
   (appearance, never two places at once);
3. the same with `--cameras cameras.toml` as written by `reidkit data split-views` (overlaps, transit window,
   homographies into the source frame).

    python benchmarks/mtmc_pets.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli_json as run  # noqa: E402
from common import data_root, machine  # noqa: E402

from reidkit.data.mot import mot_line  # noqa: E402
from reidkit.pipeline import Pipeline, PipelineConfig  # noqa: E402
from reidkit.sources import Frame  # noqa: E402
from reidkit.video import open_source  # noqa: E402

LAYOUTS = {"overlapping": "0:0.6,0.4:1", "blind strip": "0:0.42,0.58:1"}


def sequential(videos: list[Path], out: Path) -> None:
    """The cameras one after another through one pipeline, each camera's clock after the previous one's."""
    out.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline(PipelineConfig())
    offset = 0.0
    for video in videos:
        frames, fps = open_source(video)
        rows, last = [], 0.0
        for index, image in frames:
            last = offset + index / fps
            for r in pipeline.step([Frame(video.stem, index, last, image, time.monotonic())], {video.stem: fps}):
                rows += [mot_line(r.frame + 1, i, box, score) for i, box, score in zip(r.ids, r.boxes, r.scores)]
        (out / f"{video.stem}.txt").write_text("\n".join(rows) + "\n")
        offset = last + 3600.0


def row(name: str, r: dict, seconds: float) -> str:
    c, v1, v2 = r["cross_camera"], r["cameras"]["view1"], r["cameras"]["view2"]
    return (
        f"| {name} | {c['IDF1']:.3f} | {c['IDP']:.3f} | {c['IDR']:.3f} | {c['pred_identities']} | "
        f"{v1['IDF1']:.3f} / {v1['MOTA']:.3f} | {v2['IDF1']:.3f} / {v2['MOTA']:.3f} | {seconds:.0f} |"
    )


def main() -> None:
    print(f"machine: {machine()}\n")
    seq = data_root() / "PETS09-S2L1"
    print(
        "| layout / run | cross-camera IDF1 | IDP | IDR | identities (true 19) | view1 IDF1 / MOTA | view2 IDF1 / MOTA "
        "| s |\n|---|---|---|---|---|---|---|---|"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name, views in LAYOUTS.items():
            d = Path(tmp) / name.replace(" ", "-")
            split = ["data", "split-views", seq / "vtest.mp4", seq / "gt/gt.txt", "-o", d, "--views", views]
            run(*split, "--scale", "0.625")
            videos = [d / "view1.mp4", d / "view2.mp4"]
            start = time.perf_counter()
            sequential(videos, d / "seq")
            took = time.perf_counter() - start
            r = run("eval", "mtmc", "--pred", d / "seq", "--gt", d / "gt")
            print(row(f"{name}: sequential baseline", r, took), flush=True)
            runs = [("at once, no cameras file", []), ("at once, cameras.toml", ["--cameras", d / "cameras.toml"])]
            if name == "blind strip":  # the same layout with a hard 0-10 s transit window across the strip
                windowed = ["data", "split-views", seq / "vtest.mp4", seq / "gt/gt.txt", "-o", d / "windowed"]
                run(*windowed, "--views", views, "--scale", "0.625", "--transit-max", "10")
                runs.append(("at once, cameras.toml + 0-10 s window", ["--cameras", d / "windowed/cameras.toml"]))
            for label, extra in runs:
                out = d / label.replace(" ", "_").replace(",", "")
                start = time.perf_counter()
                run("track", *videos, "-o", out, "--no-video", "--no-attributes", *extra)
                took = time.perf_counter() - start
                r = run("eval", "mtmc", "--pred", out, "--gt", d / "gt")
                print(row(f"{name}: {label}", r, took), flush=True)


if __name__ == "__main__":
    main()
