"""The training loop: PK batches, CE + triplet on a BNNeck model, per-epoch evaluation, checkpoints, resume."""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from reidkit.data.market import ImageSet, read_split
from reidkit.errors import DatasetError, TrainingError
from reidkit.metrics.reid import cosine_distance, evaluate_rank
from reidkit.train import history
from reidkit.train.backbones import ReidNet, build_backbone
from reidkit.train.config import TrainConfig, check_loss
from reidkit.train.data import Augment, PKSampler, ReidImages, has_test_split, training_set
from reidkit.train.losses import batch_hard_triplet, smoothed_cross_entropy
from reidkit.train.memory import CameraMemory

CHECKPOINT = "last.pt"
CONFIG = "config.json"
METRICS = "metrics.csv"
PLOT = "metrics.png"
INIT_COPY = "init.onnx"


@dataclass(frozen=True)
class TrainResult:
    """Where the run lives and its per-epoch rows (epoch 0 = the model before training)."""

    run_dir: Path
    rows: list[dict]
    seconds: float


def pick_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; an explicit 'cuda' without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TrainingError("--device cuda was asked for, but torch sees no CUDA GPU")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_net(cfg: TrainConfig, num_classes: int, run_dir: Path) -> ReidNet:
    """The model a config describes (an ONNX init is read from the run's own copy when it has one)."""
    init = cfg.init
    if init and (run_dir / INIT_COPY).is_file():
        init = str(run_dir / INIT_COPY)
    net = ReidNet(build_backbone(cfg.backbone, cfg.weights, init), num_classes)
    if cfg.start_from:
        previous = Path(cfg.start_from) / CHECKPOINT
        if not previous.is_file():
            raise TrainingError(f"no run to start from at {cfg.start_from} ({CHECKPOINT} missing)")
        state = torch.load(previous, map_location="cpu", weights_only=False)["model"]
        net.load_state_dict({k: v for k, v in state.items() if not k.startswith("classifier.")}, strict=False)
    return net


def lr_factor(step: int, total: int, warmup: int, schedule: str) -> float:
    """Learning-rate multiplier at a step: linear warm-up, then cosine to 0 or constant."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def make_optimizer(cfg: TrainConfig, net: ReidNet) -> torch.optim.Optimizer:
    """AdamW or SGD (momentum 0.9, Nesterov) over the trainable parameters."""
    params = [p for p in net.parameters() if p.requires_grad]
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay)
    raise TrainingError(f"unknown optimizer {cfg.optimizer!r}; use adamw or sgd")


@torch.no_grad()
def embed_set(net: ReidNet, images: ImageSet, device: torch.device, batch: int = 64) -> np.ndarray:
    """Unit-norm embeddings of a split, in eval mode, without augmentation."""
    net.eval()
    data = ReidImages(images)
    chunks = []
    for start in range(0, len(data), batch):
        x = torch.stack([data[i][0] for i in range(start, min(start + batch, len(data)))]).to(device)
        chunks.append(net.embed(x).float().cpu().numpy())
    return np.concatenate(chunks)


def evaluate(net: ReidNet, root: Path, device: torch.device) -> dict[str, float]:
    """Rank-1/5, mAP, mINP of `net` on the folder's query vs bounding_box_test."""
    query, gallery = read_split(root, "query"), read_split(root, "bounding_box_test")
    result = evaluate_rank(
        cosine_distance(embed_set(net, query, device), embed_set(net, gallery, device)),
        query.pids,
        gallery.pids,
        query.camids,
        gallery.camids,
    )
    return {"rank1": result.rank(1), "rank5": result.rank(5), "mAP": result.mAP, "mINP": result.mINP}


def _memory(
    cfg: TrainConfig, net: ReidNet, images: ImageSet, device: torch.device, saved: torch.Tensor | None = None
) -> CameraMemory | None:
    """The proxy memory of a camera_memory run: its saved vectors on resume, else the mean features of each
    (identity, camera) proxy under the starting model."""
    if cfg.loss != "camera_memory":
        return None
    labels = np.searchsorted(np.unique(images.pids), images.pids)
    features = embed_set(net, images, device) if saved is None else np.zeros((len(images), net.feature_dim))
    memory = CameraMemory(
        features,
        labels,
        images.camids,
        cfg.temperature,
        cfg.memory_momentum,
        cfg.hard_negatives,
        cfg.inter_camera_weight,
        device,
    )
    if saved is not None:
        memory.vectors = saved.to(device)
    return memory


def _loss_terms(
    net: ReidNet,
    x: torch.Tensor,
    labels: torch.Tensor,
    samples: torch.Tensor,
    cfg: TrainConfig,
    memory: CameraMemory | None,
) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """The batch's loss and its named terms, and (for the memory update) the unit features."""
    out = net(x)
    if memory is None:
        ce = smoothed_cross_entropy(out.logits, labels, cfg.label_smoothing)
        tri = batch_hard_triplet(out.features, labels, cfg.margin)
        return {"loss": ce + cfg.triplet_weight * tri, "cross_entropy": ce, "triplet": tri}, None
    features = torch.nn.functional.normalize(net.neck(out.features), dim=1)
    intra, inter = memory.loss(features, samples)
    return {"loss": memory.total(intra, inter), "intra_camera": intra, "inter_camera": inter}, features


def _batches(loader: DataLoader):
    """The loader's batches; a DatasetError raised in a worker process comes back as its own one-line message."""
    try:
        yield from loader
    except DatasetError as exc:
        lines = [ln for ln in str(exc).splitlines() if ln.startswith("reidkit.errors.DatasetError: ")]
        raise DatasetError(lines[-1].split(": ", 1)[1] if lines else str(exc).splitlines()[0]) from None


def _save(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def _prepare_run(cfg: TrainConfig, resume: bool) -> Path:
    run_dir = Path(cfg.out)
    if run_dir.exists() and not run_dir.is_dir():
        raise TrainingError(f"--out {run_dir} is a file, not a run folder; choose another --out")
    if (run_dir / CHECKPOINT).exists() and not resume:
        raise TrainingError(f"{run_dir} already holds a run ({CHECKPOINT}); pass --resume or choose another --out")
    if resume and not (run_dir / CHECKPOINT).exists():
        raise TrainingError(f"nothing to resume: {run_dir / CHECKPOINT} does not exist")
    from reidkit.files import make_dir

    make_dir(run_dir)
    if cfg.init and not resume:
        if not Path(cfg.init).is_file():
            raise TrainingError(f"--init model not found: {cfg.init}")
        shutil.copyfile(cfg.init, run_dir / INIT_COPY)
    return run_dir


DEFAULT_BACKBONE = TrainConfig.__dataclass_fields__["backbone"].default


def starting_point(cfg: TrainConfig) -> TrainConfig:
    """`cfg` with a pretrained start: its --init or --pretrained weights, or else the catalog's trainable
    person re-id model (person-reid-trainable); random weights only with `scratch`."""
    if cfg.init or cfg.weights or cfg.scratch or cfg.start_from:
        return cfg
    if cfg.backbone != DEFAULT_BACKBONE:
        raise TrainingError(
            f"--backbone {cfg.backbone} without --pretrained would start from random weights: give --pretrained "
            "WEIGHTS, or --scratch to train from scratch on purpose"
        )
    from reidkit.errors import ReidkitError
    from reidkit.models.catalog import default_model
    from reidkit.models.store import ModelStore

    name = default_model("person-reid-trainable")
    try:
        path = ModelStore().resolve(name, download=False).path
    except ReidkitError:
        raise TrainingError(
            f"no pretrained model to start from: {name} is not in the model folders. Give --init MODEL.onnx, "
            "--backbone B --pretrained WEIGHTS, or --scratch"
        ) from None
    return TrainConfig.from_dict({**asdict(cfg), "init": str(path)})


def resumed_config(cfg: TrainConfig, run_dir: Path, explicit: set[str] | None) -> TrainConfig:
    """The saved settings of a run to resume; refuses a setting asked for that differs from the saved one (only
    epochs, device and workers may change). `explicit`: the settings the caller set (None: every field)."""
    saved = TrainConfig.from_dict(json.loads((run_dir / CONFIG).read_text()))
    asked = asdict(cfg)
    fields = set(asked) if explicit is None else set(explicit) & set(asked)
    changed = [
        f"{k}: {getattr(saved, k)!r} -> {asked[k]!r}"
        for k in sorted(fields - set(TrainConfig.RESUMABLE) - {"data", "init", "weights", "scratch"})
        if asked[k] != getattr(saved, k)
    ]
    if changed:
        raise TrainingError(
            f"--resume continues {run_dir} with its own settings; these differ ({'; '.join(changed)}). "
            "Resume without them, or start a new run in another --out"
        )
    for k in TrainConfig.RESUMABLE:
        setattr(saved, k, asked[k])
    return saved


def train(
    cfg: TrainConfig,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    explicit: set[str] | None = None,
) -> TrainResult:
    """Train (or resume) a run; writes config.json, last.pt, metrics.csv and metrics.png under cfg.out.

    A new run starts from pretrained weights (see `starting_point`); a resumed one keeps its saved settings and
    refuses different ones (`explicit` names the settings the caller chose, None = all of cfg)."""
    start_time = time.perf_counter()
    run_dir = Path(cfg.out)
    if resume and (run_dir / CONFIG).is_file():
        cfg = resumed_config(cfg, run_dir, explicit)
    elif not resume:
        cfg = starting_point(cfg)
    check_loss(cfg.loss)
    images = training_set(cfg.data)
    run_dir = _prepare_run(cfg, resume)
    device = pick_device(cfg.device)
    seed_everything(cfg.seed)
    dataset = ReidImages(images, Augment(flip=cfg.flip, pad=cfg.pad, erase=cfg.erase), indexed=True)
    sampler = PKSampler(dataset.labels, cfg.batch_size, cfg.instances, cfg.seed)
    net = build_net(cfg, dataset.num_classes, run_dir).to(device)
    optimizer = make_optimizer(cfg, net)
    steps_per_epoch = len(sampler)
    total = cfg.epochs * steps_per_epoch
    warmup = int(cfg.warmup_epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, total, warmup, cfg.schedule))
    rows: list[dict] = []
    first_epoch = 0
    memory = None if resume else _memory(cfg, net, images, device)
    if resume:
        state = torch.load(run_dir / CHECKPOINT, map_location=device, weights_only=False)
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])  # after the scheduler's init, which resets the lr
        scheduler.load_state_dict(state["scheduler"])
        rows, first_epoch = state["rows"], state["epoch"]
        memory = _memory(cfg, net, images, device, state.get("memory"))
        torch.set_rng_state(state["torch_rng"])
        log(f"resuming {run_dir} after epoch {first_epoch}")
    cfg.save(run_dir / CONFIG)
    evaluate_on = Path(cfg.data) if cfg.eval_every > 0 and has_test_split(cfg.data) else None
    if not resume and evaluate_on is not None:
        rows.append({"epoch": 0, **evaluate(net, evaluate_on, device)})
        log(f"before training: rank-1 {rows[-1]['rank1']:.3f}  mAP {rows[-1]['mAP']:.3f}")
    for epoch in range(first_epoch, cfg.epochs):
        sampler.set_epoch(epoch)
        loader = DataLoader(
            dataset,
            batch_sampler=sampler,
            num_workers=cfg.workers,
            generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch),
            persistent_workers=False,
        )
        net.train()
        sums: dict[str, float] = {}
        tick = time.perf_counter()
        bar = tqdm(
            _batches(loader),
            total=steps_per_epoch,
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            disable=not progress,
            leave=False,
        )
        for x, labels, samples in bar:
            x, labels, samples = x.to(device), labels.to(device), samples.to(device)
            terms, features = _loss_terms(net, x, labels, samples, cfg, memory)
            loss = terms["loss"]
            if not torch.isfinite(loss):
                raise TrainingError(f"loss became {loss.item()} at epoch {epoch + 1}; lower --lr")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip_grad:
                torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.clip_grad)
            optimizer.step()
            scheduler.step()
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + value.item()
            if memory is not None:
                memory.update(features, samples)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        row = {
            "epoch": epoch + 1,
            **{k: v / steps_per_epoch for k, v in sums.items()},
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": round(time.perf_counter() - tick, 1),
        }
        if evaluate_on is not None and ((epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs):
            row.update(evaluate(net, evaluate_on, device))
        rows.append(row)
        _save(
            run_dir / CHECKPOINT,
            {
                "model": net.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "epoch": epoch + 1,
                "rows": rows,
                "num_classes": dataset.num_classes,
                "config": asdict(cfg),
                "feature_dim": net.feature_dim,
                "torch_rng": torch.get_rng_state(),
                "memory": None if memory is None else memory.vectors.cpu(),
            },
        )
        history.write_csv(rows, run_dir / METRICS)
        history.plot(rows, run_dir / PLOT)
        scores = f"  rank-1 {row['rank1']:.3f}  mAP {row['mAP']:.3f}" if "rank1" in row else ""
        log(f"epoch {epoch + 1}/{cfg.epochs}: loss {row['loss']:.4f}{scores}  ({row['seconds']:.0f} s)")
    if not rows or first_epoch >= cfg.epochs:
        log(f"{run_dir} already trained for {first_epoch} epochs; nothing to do")
    return TrainResult(run_dir, rows, time.perf_counter() - start_time)


def load_run(run_dir: str | Path) -> tuple[ReidNet, TrainConfig, dict]:
    """The trained model of a run (eval mode, CPU), its config and its checkpoint dict."""
    run_dir = Path(run_dir)
    path = run_dir / CHECKPOINT
    if not path.is_file():
        raise TrainingError(f"{run_dir} is not a training run: {CHECKPOINT} not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        cfg = TrainConfig.from_dict(state["config"])
        net = build_net(cfg, state["num_classes"], run_dir)
        net.load_state_dict(state["model"])
    except TrainingError:
        raise
    except Exception as exc:
        raise TrainingError(f"{path} is not a usable checkpoint: {str(exc).splitlines()[0][:200]}") from None
    return net.eval(), cfg, state
