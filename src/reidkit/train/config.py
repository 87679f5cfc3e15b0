"""Training settings as one dataclass, saved beside the run so it can be resumed and exported."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from reidkit.errors import TrainingError

LOSSES = ("ce_triplet", "camera_memory")


def check_loss(name: str) -> None:
    """Refuse a loss this version does not know (before any folder is made)."""
    if name not in LOSSES:
        raise TrainingError(f"unknown loss {name!r}; use one of {', '.join(LOSSES)}")


@dataclass
class TrainConfig:
    """Everything a training run depends on; the defaults are the strong-baseline recipe at batch 16."""

    data: str
    out: str
    backbone: str = "osnet_x0_25"
    weights: str | None = None  # local pretrained weights for the backbone (torchreid OSNet or timm)
    init: str | None = None  # an ONNX embedding model to fine-tune (replaces `backbone`)
    scratch: bool = False  # allow random initial weights (otherwise a pretrained start is required)
    start_from: str | None = None  # a previous run folder whose weights (not its classifier) start this run
    epochs: int = 5
    batch_size: int = 16
    instances: int = 4  # K images per identity in a batch (P = batch_size / K identities)
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adamw"  # adamw | sgd
    schedule: str = "cosine"  # cosine | constant
    warmup_epochs: float = 0.0
    clip_grad: float | None = None
    label_smoothing: float = 0.1
    margin: float = 0.3
    triplet_weight: float = 1.0
    loss: str = "ce_triplet"  # ce_triplet (classifier + batch-hard triplet) | camera_memory (see train.memory)
    temperature: float = 0.07  # camera_memory: softmax temperature
    memory_momentum: float = 0.2  # camera_memory: share of a proxy's old vector kept at each update
    hard_negatives: int = 50  # camera_memory: other-cluster proxies each inter-camera positive is set against
    inter_camera_weight: float = 0.5  # camera_memory: weight of the inter-camera term
    flip: float = 0.5
    pad: int = 10
    erase: float = 0.5
    eval_every: int = 1  # score the test split every N epochs (and before training, and at the end); 0 = never
    seed: int = 0
    device: str = "auto"
    workers: int = 2

    RESUMABLE = ("epochs", "out", "device", "workers")  # settings a resumed run may change

    def save(self, path: Path) -> None:
        """Write as JSON."""
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """Build from a saved dict, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
