"""Embedding engine on the real models: shapes, norms, precisions, batching, preprocessing."""

import shutil

import numpy as np
import pytest

from reidkit.embed import Embedder
from reidkit.errors import ImageError, ModelFileError
from reidkit.images import load_image
from reidkit.models.catalog import list_specs
from reidkit.models.store import ModelStore


def _held(models_root):
    store = ModelStore(roots=[models_root])
    for spec in list_specs():
        if spec.task in ("person-reid", "face-reid"):
            for prec in store.local_precisions(spec):
                yield spec, prec


def test_every_held_embedding_model_yields_unit_vectors(models_root, pku):
    crops = sorted((pku / "query").glob("*.png"))[:3]
    seen = 0
    for spec, prec in _held(models_root):
        emb = Embedder(spec.name, prec).embed([str(p) for p in crops])
        assert emb.shape == (3, spec.output.size), (spec.name, prec)
        assert emb.dtype == np.float32
        assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
        seen += 1
    assert seen >= 14


def test_fp32_and_fp16_agree(market_pair):
    a = Embedder("person-reidentification-retail-0287", "FP32").embed(str(market_pair[0]))
    b = Embedder("person-reidentification-retail-0287", "FP16").embed(str(market_pair[0]))
    assert float(a[0] @ b[0]) > 0.99


def test_batched_path_matches_single_calls(pku):
    emb = Embedder("person-reidentification-retail-0288", batch_size=4)
    crops = [str(p) for p in sorted((pku / "query").glob("*.png"))[:11]]
    many = emb.embed(crops)  # 2 async batches of 4 + a tail of 3
    one_by_one = np.concatenate([emb.embed(c) for c in crops])
    assert np.min(np.sum(many * one_by_one, axis=1)) > 0.999


def test_graph_preprocessing_matches_numpy_reference(models_root, market_pair):
    """The in-graph mean/std + layout (0267 ONNX: RGB, ImageNet) equals the NumPy reference (both in f32: on CPUs
    with bf16 units OpenVINO's default precision rounds the two graphs differently)."""
    import openvino as ov

    from reidkit.preprocess import fit_batch, l2_normalize, to_tensor

    emb = Embedder("person-reidentification-retail-0267", inference_precision="f32")
    spec = emb.spec
    image = load_image(market_pair[0])
    ours = emb.embed(image)
    raw = ov.Core().compile_model(str(emb.resolved.path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    tensor = to_tensor(fit_batch([image], spec.input.width, spec.input.height, "rgb"), spec.input.mean, spec.input.std)
    reference = l2_normalize(raw(tensor)[0].reshape(1, -1))
    assert float(ours[0] @ reference[0]) > 0.9999


def test_rgb_arrays_and_paths_agree(market_pair):
    emb = Embedder("person-reidentification-retail-0288")
    bgr = load_image(market_pair[0])
    from_path = emb.embed(str(market_pair[0]))
    from_rgb = emb.embed(np.ascontiguousarray(bgr[:, :, ::-1]), color="rgb")
    swapped = emb.embed(np.ascontiguousarray(bgr[:, :, ::-1]))  # RGB wrongly given as BGR
    assert float(from_path[0] @ from_rgb[0]) > 0.9999
    assert float(from_path[0] @ swapped[0]) < 0.999


def test_stacked_array_is_a_batch(market_pair):
    emb = Embedder("person-reidentification-retail-0288")
    img = load_image(market_pair[0])
    assert emb.embed(np.stack([img, img])).shape == (2, 256)
    assert emb.embed([]).shape == (0, 256)


def test_flip_averaging_stays_unit_norm(market_pair):
    emb = Embedder("person-reidentification-retail-0288", flip=True)
    v = emb.embed([str(p) for p in market_pair])
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_bad_images_raise_image_error(tmp_path):
    emb = Embedder("person-reidentification-retail-0288")
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match="cannot decode"):
        emb.embed(str(corrupt))
    with pytest.raises(ImageError, match="empty"):
        emb.embed(str(empty))
    with pytest.raises(ImageError, match="not found"):
        emb.embed(str(tmp_path / "missing.jpg"))
    with pytest.raises(ImageError, match="empty"):
        emb.embed(np.zeros((0, 10, 3), np.uint8))


def test_wrong_model_file_is_refused(models_root, tmp_path):
    # a detector's files placed where the re-id model should be: caught by the I/O check
    root = tmp_path / "models"
    dst = root / "intel/person-reidentification-retail-0288/FP32"
    dst.mkdir(parents=True)
    src = models_root / "intel/face-detection-retail-0004/FP32/face-detection-retail-0004"
    shutil.copy(src.with_suffix(".xml"), dst / "person-reidentification-retail-0288.xml")
    shutil.copy(src.with_suffix(".bin"), dst / "person-reidentification-retail-0288.bin")
    with pytest.raises(ModelFileError, match="does not look like person-reidentification-retail-0288"):
        Embedder("person-reidentification-retail-0288", "FP32", store=ModelStore(roots=[root], cache_dir=tmp_path))


def test_corrupt_model_file_is_refused(tmp_path):
    bad = tmp_path / "broken.xml"
    bad.write_text("<net><layers>truncated")
    bad.with_suffix(".bin").write_bytes(b"\0" * 16)
    with pytest.raises(ModelFileError, match="cannot read model"):
        Embedder(path=bad)


def test_detector_is_not_an_embedder(models_root):
    with pytest.raises(ModelFileError, match="not an embedding model"):
        Embedder("person-detection-retail-0013")


def test_model_by_path_reads_its_own_input(models_root, market_pair):
    path = models_root / "intel/person-reidentification-retail-0031/FP32/person-reidentification-retail-0031.xml"
    emb = Embedder(path=path)
    assert (emb.engine.input_spec.height, emb.engine.input_spec.width) == (96, 48)
    assert emb.embed(str(market_pair[0])).shape == (1, 256)
