"""Helpers shared by the benchmark scripts: real crops from ../shared and a machine description."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared"
os.environ.setdefault("REIDKIT_MODELS", str(SHARED / "models"))


def data_root() -> Path:
    """REIDKIT_DATA, or ../shared/data next to the checkout."""
    root = Path(os.environ.get("REIDKIT_DATA") or SHARED / "data")
    if not root.is_dir():
        raise SystemExit(f"real data not found at {root}: set REIDKIT_DATA")
    return root


def pets_crops(limit: int, min_height: int = 24) -> list[np.ndarray]:
    """Person crops cut from the PETS09-S2L1 video at its ground-truth boxes (decoded, in memory)."""
    from reidkit.video import read_frames

    seq = data_root() / "PETS09-S2L1"
    gt = np.loadtxt(seq / "gt/gt.txt", delimiter=",")
    gt = gt[gt[:, 6] != 0]
    crops: list[np.ndarray] = []
    for index, frame in read_frames(seq / "vtest.mp4"):
        rows = gt[gt[:, 0] == index + 1]
        for x, y, w, h in rows[:, 2:6] * 0.625:
            x0, y0 = max(0, int(x)), max(0, int(y))
            x1, y1 = min(frame.shape[1], int(x + w)), min(frame.shape[0], int(y + h))
            if y1 - y0 >= min_height and x1 > x0:
                crops.append(frame[y0:y1, x0:x1].copy())
        if len(crops) >= limit:
            break
    return crops[:limit]


def machine() -> str:
    """One line naming the CPU, core count, Python and OpenVINO versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import openvino

    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, OpenVINO {openvino.__version__.split('-')[0]}"


def cli_json(*args) -> dict:
    """Run a reidkit command with --json in this process; its JSON answer (exits on failure)."""
    import contextlib
    import io
    import json

    from reidkit.cli.main import main as cli

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = cli([str(a) for a in args] + ["--json"])
    if code:
        raise SystemExit(f"reidkit {' '.join(map(str, args))} failed ({code})")
    return json.loads(buffer.getvalue())
