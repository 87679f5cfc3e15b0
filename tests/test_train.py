"""Training: OSNet/ONNX backbones against their reference runtimes, losses, PK sampling, a real smoke
train on a handful of PKU-Reid-dev identities, resume, export agreement, and the error paths."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training tests need the train extra (torch)")

from reidkit.cli.main import main  # noqa: E402
from reidkit.errors import DatasetError, TrainingError  # noqa: E402
from reidkit.train.backbones import ReidNet, build_backbone  # noqa: E402
from reidkit.train.config import TrainConfig  # noqa: E402
from reidkit.train.data import PKSampler, resize, to_tensor  # noqa: E402
from reidkit.train.loop import load_run, lr_factor, train  # noqa: E402
from reidkit.train.losses import batch_hard_triplet  # noqa: E402

ONNX_0267 = "onnx/person-reidentification-retail-0267.onnx"


def _link(src: Path, dst: Path, ids: list[str]) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.iterdir()):
        if path.name[:4] in ids:
            (dst / path.name).symlink_to(path)


@pytest.fixture(scope="module")
def tiny_pku(pku: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 training identities (16 crops each) and 3 test identities of PKU-Reid-dev, two cameras."""
    root = tmp_path_factory.mktemp("tiny_pku")
    _link(pku / "bounding_box_train", root / "bounding_box_train", ["0001", "0002", "0003", "0004"])
    _link(pku / "query", root / "query", ["0021", "0022", "0023"])
    _link(pku / "bounding_box_test", root / "bounding_box_test", ["0021", "0022", "0023"])
    return root


@pytest.fixture(scope="module")
def crops(pku: Path) -> list[np.ndarray]:
    """Eight real PKU-Reid-dev crops resized to 256×128 BGR."""
    from reidkit.images import load_image

    paths = sorted((pku / "query").iterdir())[::12][:8]
    return [resize(load_image(p)) for p in paths]


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)


def _config(data: Path, out: Path, **kw) -> TrainConfig:
    defaults = dict(backbone="osnet_x0_25", epochs=1, batch_size=8, instances=4, workers=0, device="cpu", scratch=True)
    defaults.update(kw)
    return TrainConfig(data=str(data), out=str(out), **defaults)


# -- backbones against the reference runtime ---------------------------------------------------------------
def test_osnet_definition_loads_torchreid_weights_and_matches_their_onnx_export(models_root: Path, crops) -> None:
    from reidkit.embed import Embedder

    net = build_backbone("osnet_x0_25", str(models_root / "osnet/osnet_x0_25_msmt17.pth")).eval()
    with torch.no_grad():
        ours = net(torch.stack([to_tensor(c) for c in crops])).numpy()
    reference = Embedder("osnet-x0-25-msmt17", inference_precision="f32").embed(crops)
    assert _cosine(ours, reference).min() > 0.999


def test_onnx_graph_as_torch_module_matches_openvino_on_real_crops(models_root: Path, crops) -> None:
    from reidkit.embed import Embedder

    net = build_backbone("ignored", init=str(models_root / ONNX_0267)).eval()
    assert net.feature_dim == 256
    with torch.no_grad():
        ours = net(torch.stack([to_tensor(c) for c in crops])).numpy()
    reference = Embedder("person-reidentification-retail-0267", inference_precision="f32").embed(crops)
    assert _cosine(ours, reference).min() > 0.999
    assert any(p.requires_grad for p in net.parameters())


def test_onnx_module_trains_batchnorm_statistics(models_root: Path) -> None:
    net = build_backbone("x", init=str(models_root / ONNX_0267)).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    out = net(torch.randn(4, 3, 256, 128))
    out.sum().backward()
    changed = [k for k, v in net.state_dict().items() if not torch.equal(v, before[k])]
    assert changed, "running statistics must update in train mode"
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_compact_backbone_shapes() -> None:
    net = ReidNet(build_backbone("compact"), num_classes=5)
    out = net(torch.randn(4, 3, 256, 128))
    assert out.features.shape == (4, 256) and out.logits.shape == (4, 5)
    emb = net.eval().embed(torch.randn(3, 3, 256, 128))
    assert torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-5)


def test_timm_backbone_by_name_with_local_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The timm path: create_model(name, pretrained=False, num_classes=0) and local weights only."""
    calls = {}

    class Tiny(torch.nn.Module):
        num_features = 12

        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 12, 3)

        def forward(self, x):
            return self.conv(x).mean(dim=(2, 3))

    def create_model(name, pretrained, num_classes):
        calls.update(name=name, pretrained=pretrained, num_classes=num_classes)
        return Tiny()

    monkeypatch.setitem(
        sys.modules, "timm", types.SimpleNamespace(create_model=create_model, list_models=lambda: ["tiny"])
    )
    weights = tmp_path / "w.pth"
    reference = Tiny()
    torch.save(reference.state_dict(), weights)
    net = build_backbone("timm:tiny", str(weights))
    assert calls == {"name": "tiny", "pretrained": False, "num_classes": 0}
    assert net.feature_dim == 12
    assert torch.equal(net.model.conv.weight, reference.conv.weight)
    with pytest.raises(TrainingError, match="unknown timm model"):
        build_backbone("timm:nope")


# -- losses, sampling, schedule ------------------------------------------------------------------------------
def test_batch_hard_triplet_matches_a_loop_reference() -> None:
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(12, 8, generator=gen, requires_grad=True)
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    loss = batch_hard_triplet(feats, labels, margin=0.3)
    f = feats.detach().numpy()
    terms = []
    for i in range(12):
        d = np.linalg.norm(f - f[i], axis=1)
        same = labels.numpy() == labels.numpy()[i]
        terms.append(max(0.0, d[same].max() - d[~same].min() + 0.3))
    assert loss.item() == pytest.approx(np.mean(terms), rel=1e-5)
    loss.backward()
    assert torch.isfinite(feats.grad).all()


def test_batch_hard_triplet_is_zero_for_separated_clusters() -> None:
    feats = torch.tensor([[0.0, 0], [0.1, 0], [10, 0], [10.1, 0]])
    assert batch_hard_triplet(feats, torch.tensor([0, 0, 1, 1]), 0.3).item() == 0.0


def test_pk_sampler_batches_are_p_identities_times_k_and_reproducible() -> None:
    labels = np.repeat(np.arange(6), [5, 8, 2, 4, 4, 9])
    sampler = PKSampler(labels, batch_size=8, instances=4, seed=3)
    batches = list(sampler)
    assert batches and len(batches) == len(sampler)
    for batch in batches:
        ids, counts = np.unique(labels[batch], return_counts=True)
        assert len(ids) == 2 and (counts == 4).all()
    assert list(PKSampler(labels, 8, 4, seed=3)) == batches
    sampler.set_epoch(1)
    assert list(sampler) != batches


def test_pk_sampler_refuses_impossible_batches() -> None:
    with pytest.raises(TrainingError, match="multiple"):
        PKSampler(np.arange(8) % 4, batch_size=10, instances=4)
    with pytest.raises(TrainingError, match="identities"):
        PKSampler(np.zeros(10, int), batch_size=8, instances=4)


def test_cosine_schedule_with_warmup() -> None:
    assert lr_factor(0, 100, 10, "cosine") == pytest.approx(0.1)
    assert lr_factor(10, 100, 10, "cosine") == pytest.approx(1.0)
    assert lr_factor(100, 100, 10, "cosine") == pytest.approx(0.0)
    assert lr_factor(55, 100, 10, "cosine") == pytest.approx(0.5)
    assert lr_factor(70, 100, 0, "constant") == 1.0


def test_camera_memory_loss_matches_a_loop_reference() -> None:
    from reidkit.train.memory import CameraMemory

    rng = np.random.default_rng(0)
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    cameras = np.array([1, 1, 2, 2, 1, 2, 2, 2, 1, 1, 1, 3])
    feats = rng.standard_normal((12, 6)).astype(np.float32)
    memory = CameraMemory(feats, labels, cameras, temperature=0.1, hard_negatives=2)
    assert len(memory) == 6  # one proxy per (cluster, camera) seen: (0,1) (0,2) (1,1) (1,2) (2,1) (2,3)
    batch = torch.nn.functional.normalize(torch.randn(5, 6, generator=torch.Generator().manual_seed(1)), dim=1)
    batch.requires_grad_(True)
    samples = torch.tensor([0, 3, 5, 9, 11])
    intra, inter = memory.loss(batch, samples)
    proxies = memory.vectors.numpy()
    p_label, p_cam = memory.proxy_label.numpy(), memory.proxy_camera.numpy()
    want_intra, want_inter = [], []
    for f, s in zip(batch.detach().numpy(), samples.numpy()):
        own = memory.proxy_of[s].item()
        logits = proxies @ f / 0.1
        same_cam = np.flatnonzero(p_cam == cameras[s])
        want_intra.append(-(logits[own] - np.log(np.exp(logits[same_cam]).sum())))
        negatives = np.sort(logits[p_label != labels[s]])[-2:]
        terms = [
            -(logits[p] - np.log(np.exp(logits[p]) + np.exp(negatives).sum()))
            for p in np.flatnonzero(p_label == labels[s])
        ]
        want_inter.append(np.mean(terms))
    assert intra.item() == pytest.approx(np.mean(want_intra), rel=1e-5)
    assert inter.item() == pytest.approx(np.mean(want_inter), rel=1e-5)
    memory.total(intra, inter).backward()
    assert torch.isfinite(batch.grad).all() and batch.grad.abs().sum() > 0


def test_camera_memory_update_moves_seen_proxies_only_and_keeps_unit_norm() -> None:
    from reidkit.train.memory import CameraMemory

    feats = np.eye(4, dtype=np.float32)[[0, 0, 1, 2, 3, 3]]
    memory = CameraMemory(feats, np.array([0, 0, 1, 1, 2, 2]), np.array([1, 1, 1, 2, 1, 1]), momentum=0.5)
    before = memory.vectors.clone()
    memory.update(torch.tensor([[0.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]), torch.tensor([0, 1]))
    moved = memory.proxy_of[0].item()
    assert torch.allclose(memory.vectors[moved], torch.nn.functional.normalize(torch.tensor([0.5, 0.5, 0, 0]), dim=0))
    others = [p for p in range(len(memory)) if p != moved]
    assert torch.equal(memory.vectors[others], before[others])
    assert torch.allclose(memory.vectors.norm(dim=1), torch.ones(len(memory)))
    with pytest.raises(TrainingError, match="2 pseudo-identities"):
        CameraMemory(feats, np.zeros(6, int), np.ones(6, int))


# -- a real run: smoke train, resume, export ---------------------------------------------------------------
@pytest.fixture(scope="module")
def smoke_run(tiny_pku: Path, models_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One epoch of OSNet x0.25 (MSMT17 weights) on 4 PKU-Reid-dev identities."""
    out = tmp_path_factory.mktemp("runs") / "smoke"
    cfg = _config(tiny_pku, out, weights=str(models_root / "osnet/osnet_x0_25_msmt17.pth"))
    result = train(cfg, progress=False, log=lambda _m: None)
    assert [r["epoch"] for r in result.rows] == [0, 1]
    return out


def test_smoke_train_writes_checkpoint_metrics_and_plot(smoke_run: Path) -> None:
    from reidkit.train.history import read_csv

    rows = read_csv(smoke_run / "metrics.csv")
    assert [r["epoch"] for r in rows] == [0, 1]
    assert rows[0]["loss"] is None and 0 <= rows[0]["rank1"] <= 1  # before training: scores only
    assert rows[1]["loss"] > 0 and 0 <= rows[1]["mAP"] <= 1
    assert (smoke_run / "metrics.png").stat().st_size > 1000
    assert json.loads((smoke_run / "config.json").read_text())["batch_size"] == 8


def test_resume_continues_exactly_where_a_straight_run_would_be(
    tiny_pku: Path, models_root: Path, tmp_path: Path
) -> None:
    weights = str(models_root / "osnet/osnet_x0_25_msmt17.pth")
    straight = train(_config(tiny_pku, tmp_path / "a", weights=weights, epochs=2), progress=False, log=lambda _m: None)

    def interrupt_after_first_epoch(message: str) -> None:
        if message.startswith("epoch 1/2"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(
            _config(tiny_pku, tmp_path / "b", weights=weights, epochs=2),
            progress=False,
            log=interrupt_after_first_epoch,
        )
    resumed = train(_config(tiny_pku, tmp_path / "b", epochs=2), resume=True, progress=False, log=lambda _m: None)
    assert [r["epoch"] for r in resumed.rows] == [0, 1, 2]
    assert resumed.rows[2]["loss"] == pytest.approx(straight.rows[2]["loss"], rel=1e-4)
    a, _, _ = load_run(tmp_path / "a")
    b, _, _ = load_run(tmp_path / "b")
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(va.float(), vb.float(), atol=1e-4), k


def test_export_onnx_and_openvino_reload_through_the_embedder(smoke_run: Path, crops, tmp_path: Path) -> None:
    from reidkit.embed import Embedder
    from reidkit.train.backbones import ExportWrapper
    from reidkit.train.export import export_run

    net, _, _ = load_run(smoke_run)
    with torch.no_grad():
        reference = ExportWrapper(net)(
            torch.from_numpy(np.stack(crops).transpose(0, 3, 1, 2).astype(np.float32))
        ).numpy()
    for fmt in ("onnx", "openvino"):
        result = export_run(smoke_run, fmt, output=tmp_path / ("m.onnx" if fmt == "onnx" else "m.xml"))
        assert result.min_cosine > 0.999
        assert result.device_min_cosine > 0.99  # bf16 on CPUs that have it
        vectors = Embedder(path=result.path, inference_precision="f32").embed(crops)
        assert vectors.shape == (len(crops), 512)
        assert _cosine(vectors, reference).min() > 0.999


def test_export_int8_with_nncf(smoke_run: Path, tiny_pku: Path) -> None:
    pytest.importorskip("nncf")
    from reidkit.train.export import export_run

    result = export_run(smoke_run, "openvino", int8=True, calibration=tiny_pku / "bounding_box_train")
    assert result.path.name == "model-int8.xml" and result.path.with_suffix(".bin").is_file()
    assert result.mean_cosine > 0.95


def test_cli_export_and_evaluate_the_exported_model(smoke_run: Path, tiny_pku: Path, tmp_path: Path, capsys) -> None:
    assert main(["export", str(smoke_run), "--format", "onnx", "--json"]) == 0
    path = json.loads(capsys.readouterr().out)["path"]
    assert main(["eval", "reid", "--data", str(tiny_pku), "--model", path, "-o", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert 0.0 <= report["rank1"] <= 1.0


def test_cli_train_json(tiny_pku: Path, tmp_path: Path, capsys) -> None:
    code = main(
        [
            "train",
            "--data",
            str(tiny_pku),
            "--out",
            str(tmp_path / "run"),
            "--backbone",
            "compact",
            "--scratch",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--workers",
            "0",
            "--device",
            "cpu",
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert [r["epoch"] for r in summary["epochs"]] == [0, 1]


# -- errors ---------------------------------------------------------------------------------------------------
def test_training_folder_errors(tmp_path: Path, tiny_pku: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        train(_config(tmp_path / "missing", tmp_path / "o"), progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="bounding_box_train"):
        train(_config(tmp_path / "empty", tmp_path / "o"), progress=False)
    (tmp_path / "empty" / "bounding_box_train").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        train(_config(tmp_path / "empty", tmp_path / "o"), progress=False)
    bad = tmp_path / "bad" / "bounding_box_train"
    bad.mkdir(parents=True)
    (bad / "person.jpg").write_bytes(b"x")
    with pytest.raises(DatasetError, match="malformed"):
        train(_config(tmp_path / "bad", tmp_path / "o"), progress=False)
    one = tmp_path / "one"
    _link(tiny_pku / "bounding_box_train", one / "bounding_box_train", ["0001"])
    with pytest.raises(DatasetError, match="at least 2"):
        train(_config(one, tmp_path / "o"), progress=False)


def test_corrupt_training_image_is_named(tmp_path: Path, tiny_pku: Path) -> None:
    root = tmp_path / "data"
    _link(tiny_pku / "bounding_box_train", root / "bounding_box_train", ["0001", "0002"])
    (root / "bounding_box_train" / "0002_c1s1_999999_00.png").write_bytes(b"not a png")
    for workers in (0, 1):  # in the main process, and from a loader worker process: one line either way
        with pytest.raises(DatasetError, match="0002_c1s1_999999_00.png") as caught:
            train(
                _config(root, tmp_path / f"o{workers}", backbone="compact", workers=workers),
                progress=False,
                log=lambda _m: None,
            )
        assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)


def test_setting_and_run_errors(tmp_path: Path, tiny_pku: Path, smoke_run: Path) -> None:
    with pytest.raises(TrainingError, match="unknown backbone"):
        train(_config(tiny_pku, tmp_path / "o1", backbone="resnet9000"), progress=False)
    with pytest.raises(TrainingError, match="not found"):
        train(_config(tiny_pku, tmp_path / "o2", init=str(tmp_path / "none.onnx")), progress=False)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(TrainingError, match="ONNX"):
        train(_config(tiny_pku, tmp_path / "o3", init=str(garbage)), progress=False)
    with pytest.raises(TrainingError, match="already holds a run"):
        train(_config(tiny_pku, smoke_run), progress=False)
    with pytest.raises(TrainingError, match="nothing to resume"):
        train(_config(tiny_pku, tmp_path / "o4"), resume=True, progress=False)
    if not torch.cuda.is_available():
        with pytest.raises(TrainingError, match="no CUDA"):
            train(_config(tiny_pku, tmp_path / "o5", device="cuda"), progress=False)


def test_export_errors(tmp_path: Path, smoke_run: Path, capsys) -> None:
    from reidkit.train.export import export_run

    with pytest.raises(TrainingError, match="not a training run"):
        export_run(tmp_path)
    with pytest.raises(TrainingError, match="--format openvino"):
        export_run(smoke_run, "onnx", int8=True)
    with pytest.raises(TrainingError, match="unknown export format"):
        export_run(smoke_run, "tflite")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "last.pt").write_bytes(b"junk")
    with pytest.raises(TrainingError, match="not a usable checkpoint"):
        export_run(broken)
    assert main(["export", str(tmp_path)]) == 2
    assert "not a training run" in capsys.readouterr().err


def test_onnx_module_exports_with_a_dynamic_batch(models_root: Path, tmp_path: Path) -> None:
    """Shape arithmetic stays symbolic: traced at batch 2, the exported graph runs at batch 5."""
    import warnings

    import openvino as ov

    from reidkit.train.onnx_module import OnnxModule

    module = OnnxModule(models_root / ONNX_0267).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (torch.zeros(2, 3, 256, 128),),
            str(tmp_path / "m.onnx"),
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "n"}},
            opset_version=17,
            dynamo=False,
        )
    x = np.random.default_rng(0).normal(size=(5, 3, 256, 128)).astype(np.float32)
    compiled = ov.Core().compile_model(str(tmp_path / "m.onnx"), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    assert np.allclose(compiled(x)[0], expected, atol=1e-3)


def test_train_without_torch_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "reidkit[train]" in capsys.readouterr().err


def test_camera_memory_run_trains_logs_its_terms_and_resumes_exactly(
    tiny_pku: Path, models_root: Path, tmp_path: Path
) -> None:
    from reidkit.train.history import read_csv

    weights = str(models_root / "osnet/osnet_x0_25_msmt17.pth")
    kw = dict(weights=weights, epochs=2, loss="camera_memory", eval_every=0)
    straight = train(_config(tiny_pku, tmp_path / "a", **kw), progress=False, log=lambda _m: None)
    rows = read_csv(tmp_path / "a" / "metrics.csv")
    assert all(r["intra_camera"] > 0 and r["inter_camera"] > 0 and r["cross_entropy"] is None for r in rows)
    assert torch.load(tmp_path / "a" / "last.pt", weights_only=False)["memory"].shape[0] == 8  # 4 ids × 2 cameras

    def interrupt_after_first_epoch(message: str) -> None:
        if message.startswith("epoch 1/2"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(_config(tiny_pku, tmp_path / "b", **kw), progress=False, log=interrupt_after_first_epoch)
    resumed = train(_config(tiny_pku, tmp_path / "b", **kw), resume=True, progress=False, log=lambda _m: None)
    assert resumed.rows[1]["loss"] == pytest.approx(straight.rows[1]["loss"], rel=1e-4)  # the memory came back too
    with pytest.raises(TrainingError, match="unknown loss"):
        train(_config(tiny_pku, tmp_path / "c", backbone="compact", loss="arcface"), progress=False)
    assert not (tmp_path / "c").exists()  # refused before any folder is made


def test_eval_every_zero_trains_without_scoring(tiny_pku: Path, tmp_path: Path) -> None:
    rows = train(
        _config(tiny_pku, tmp_path / "r", backbone="compact", eval_every=0), progress=False, log=lambda _m: None
    ).rows
    assert [r["epoch"] for r in rows] == [1] and "rank1" not in rows[0]
    assert (tmp_path / "r" / "metrics.png").is_file()


def test_train_with_no_model_flag_never_starts_from_random_weights(tiny_pku: Path, tmp_path: Path, capsys) -> None:
    from reidkit.train.loop import starting_point

    start = starting_point(TrainConfig(data=str(tiny_pku), out=str(tmp_path / "d")))
    assert start.init and start.init.endswith("person-reidentification-retail-0267.onnx") and not start.scratch
    with pytest.raises(TrainingError, match="random weights"):
        starting_point(TrainConfig(data=str(tiny_pku), out=str(tmp_path / "d"), backbone="compact"))
    assert starting_point(_config(tiny_pku, tmp_path / "s", backbone="compact")).init is None  # --scratch: on purpose
    args = ["train", "--data", str(tiny_pku), "--out", str(tmp_path / "c"), "--backbone", "compact"]
    assert main(args) == 2 and "--scratch" in capsys.readouterr().err


def test_resume_refuses_changed_settings(tiny_pku: Path, tmp_path: Path, capsys) -> None:
    base = [
        "--data",
        str(tiny_pku),
        "--out",
        str(tmp_path / "r"),
        "--backbone",
        "compact",
        "--scratch",
        "--batch-size",
        "8",
        "--workers",
        "0",
        "--device",
        "cpu",
        "--eval-every",
        "0",
    ]
    assert main(["train", *base, "--epochs", "1", "--json"]) == 0
    capsys.readouterr()
    assert main(["train", *base, "--epochs", "2", "--lr", "0.01", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "lr: 0.001 -> 0.01" in err
    # only the run folder, --resume and a longer schedule: accepted, the saved settings are kept
    code = main(
        [
            "train",
            "--data",
            str(tiny_pku),
            "--out",
            str(tmp_path / "r"),
            "--epochs",
            "2",
            "--resume",
            "--workers",
            "0",
            "--json",
        ]
    )
    assert code == 0, capsys.readouterr().err
