"""Export a training run to ONNX or OpenVINO IR (optionally INT8), checked against the PyTorch model.

The exported graph follows the OMZ convention (BGR 0-255 NCHW in, dynamic batch), so the runtime loads it
like any catalogued re-id model: `Embedder(path=...)`, `reidkit eval reid --model PATH`.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reidkit.errors import DatasetError, TrainingError
from reidkit.images import IMAGE_SUFFIXES, load_image
from reidkit.runtime import onnx_to_ir
from reidkit.train.backbones import ExportWrapper
from reidkit.train.data import HEIGHT, WIDTH, resize
from reidkit.train.loop import load_run

FORMATS = ("onnx", "openvino")
INPUT_NAME, OUTPUT_NAME = "images", "embedding"


@dataclass(frozen=True)
class ExportResult:
    """The written model file and how closely its embeddings follow the PyTorch model on real crops.

    min/mean_cosine: OpenVINO in f32; device_min_cosine: at the device's default inference precision
    (bf16 on CPUs with AVX512-BF16/AMX), what `Embedder(path=...)` gives unless told otherwise.
    """

    path: Path
    format: str
    int8: bool
    check_images: int
    min_cosine: float
    mean_cosine: float
    device_min_cosine: float


def sample_crops(folder: str | Path, limit: int) -> list[np.ndarray]:
    """Up to `limit` images (resized to 256×128 BGR) from a folder, spread evenly over its sorted files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"image folder not found: {folder}")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise DatasetError(f"no images in {folder}")
    picks = np.unique(np.linspace(0, len(paths) - 1, min(limit, len(paths))).round().astype(int))
    return [resize(load_image(paths[i])) for i in picks]


def _default_images(data: str) -> Path:
    for split in ("query", "bounding_box_test", "bounding_box_train"):
        if (Path(data) / split).is_dir():
            return Path(data) / split
    raise TrainingError(f"the run's data folder {data} is gone: pass --calibration DIR with person crops")


def _to_onnx(wrapper: ExportWrapper, path: Path) -> None:
    dummy = torch.zeros(2, 3, HEIGHT, WIDTH)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            (dummy,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )


def _agreement(wrapper: ExportWrapper, path: Path, crops: list[np.ndarray], precision: str | None) -> np.ndarray:
    from reidkit.embed import Embedder

    with torch.no_grad():
        reference = wrapper(torch.from_numpy(np.stack(crops).transpose(0, 3, 1, 2).astype(np.float32))).numpy()
    exported = Embedder(path=path, inference_precision=precision).embed(crops)
    return np.sum(reference * exported, axis=1)


def final_run(run_dir: str | Path) -> Path:
    """The training run a folder stands for: itself, or for a `reidkit adapt` folder its final round's run."""
    import json

    run_dir = Path(run_dir)
    summary = run_dir / "adapt.json"
    if (run_dir / "last.pt").is_file() or not summary.is_file():
        return run_dir
    try:
        final = Path(json.loads(summary.read_text(encoding="utf-8"))["final_run"])
    except (ValueError, KeyError, TypeError):
        raise TrainingError(f"{summary} is not a reidkit adapt summary (no final_run)") from None
    inside = run_dir / final.parent.name / final.name  # ROUND/run in this folder, wherever it was moved to
    return next((p for p in (final, inside) if (p / "last.pt").is_file()), final)


def export_run(
    run_dir: str | Path,
    fmt: str = "onnx",
    output: str | Path | None = None,
    int8: bool = False,
    calibration: str | Path | None = None,
    check_images: int = 32,
) -> ExportResult:
    """Write RUN_DIR's model (a training run, or an adapt folder's final round) as ONNX (`model.onnx`) or OpenVINO
    IR (`model.xml/.bin`) and check it."""
    if fmt not in FORMATS:
        raise TrainingError(f"unknown export format {fmt!r}; use onnx or openvino")
    if int8 and fmt != "openvino":
        raise TrainingError("--int8 writes an OpenVINO IR: use --format openvino")
    net, cfg, _ = load_run(final_run(run_dir))
    wrapper = ExportWrapper(net).eval()
    suffix = ".xml" if fmt == "openvino" else ".onnx"
    path = Path(output) if output else Path(run_dir) / "export" / (("model-int8" if int8 else "model") + suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    crops = sample_crops(calibration or _default_images(cfg.data), max(check_images, 300 if int8 else 0))
    if fmt == "onnx":
        _to_onnx(wrapper, path)
    else:
        batches = [np.ascontiguousarray(c.transpose(2, 0, 1)[None].astype(np.float32)) for c in crops] if int8 else None
        with tempfile.TemporaryDirectory() as tmp:
            _to_onnx(wrapper, Path(tmp) / "model.onnx")
            onnx_to_ir(Path(tmp) / "model.onnx", path, batches)
    check = crops[:: max(1, len(crops) // check_images)][:check_images]
    cosine = _agreement(wrapper, path, check, "f32")
    device_default = _agreement(wrapper, path, check, None)
    return ExportResult(
        path, fmt, int8, len(check), float(cosine.min()), float(cosine.mean()), float(device_default.min())
    )
