"""OpenVINO compile and inference, sync and async; the only module that imports openvino.

Two compiled variants per model, made on first use: a batch-1 LATENCY model for small calls and a
batch-B THROUGHPUT model driven by an AsyncInferQueue for large ones. Pixel normalisation (uint8
NHWC -> float NCHW, mean/std) is built into the graph with OpenVINO's PrePostProcessor, so Python
only resizes and stacks uint8 crops.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from reidkit.errors import ModelFileError
from reidkit.models.catalog import InputSpec, OutputSpec


@lru_cache(maxsize=1)
def core():
    """The process's OpenVINO Core (created on first use, never at import)."""
    import openvino as ov

    return ov.Core()


@dataclass(frozen=True)
class ModelIO:
    """Input and output as read from the model file itself."""

    input_name: str
    input_shape: tuple[int, ...]
    output_name: str
    output_shape: tuple[int, ...]


def read_model(path: Path):
    """Read an IR/ONNX model, turning OpenVINO's exceptions into a ModelFileError naming the file."""
    try:
        return core().read_model(str(path))
    except Exception as exc:  # openvino raises RuntimeError with a long C++ trace
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(
            f"cannot read model {path}: corrupt or not an OpenVINO/ONNX model ({first[:200]})"
        ) from None


def inspect(model, path: Path) -> ModelIO:
    """The single image input and the first output of `model`, with static shapes."""
    if len(model.inputs) != 1:
        raise ModelFileError(f"{path}: expected one image input, found {len(model.inputs)}")
    inp, out = model.inputs[0], model.outputs[0]
    in_shape = _shape(inp.get_partial_shape(), batch_default=1)
    if in_shape is None or len(in_shape) != 4:
        raise ModelFileError(f"{path}: expected a 4-D image input, found {inp.get_partial_shape()}")
    out_shape = _shape(out.get_partial_shape(), batch_default=1) or ()
    return ModelIO(inp.get_any_name(), in_shape, out.get_any_name(), out_shape)


def _shape(partial, batch_default: int) -> tuple[int, ...] | None:
    dims = []
    for i, d in enumerate(partial):
        if d.is_static:
            dims.append(d.get_length())
        elif i == 0:
            dims.append(batch_default)
        else:
            return None
    return tuple(dims)


def check_io(io: ModelIO, inp: InputSpec, out: OutputSpec, path: Path, name: str) -> None:
    """Compare the file's real input/output with the catalog entry; raise on any mismatch."""
    _, channels, height, width = io.input_shape
    if channels != 3 or (height, width) != (inp.height, inp.width):
        raise ModelFileError(
            f"{path} does not look like {name}: its input is {channels}×{height}×{width}, "
            f"the catalog says 3×{inp.height}×{inp.width} (wrong file?)"
        )
    size = int(np.prod(io.output_shape[1:])) if io.output_shape else 0
    if out.size is not None and size != out.size:
        raise ModelFileError(
            f"{path} does not look like {name}: its output {io.output_name!r} has {size} values "
            f"per image, the catalog says {out.size} (wrong file?)"
        )


def spec_from_io(io: ModelIO, color: str = "bgr") -> InputSpec:
    """An InputSpec for a model known only by its file: its own size, raw 0-255 pixels."""
    _, channels, height, width = io.input_shape
    if channels != 3:
        raise ModelFileError(f"expected a 3-channel image input, the model has {channels} channels")
    return InputSpec(names=(io.input_name,), height=height, width=width, color=color)


class Engine:
    """A model compiled for one device; `infer` maps N×H×W×3 uint8 batches to N×D float32 rows."""

    def __init__(
        self,
        path: Path,
        input_spec: InputSpec | None = None,
        output_spec: OutputSpec | None = None,
        name: str | None = None,
        device: str = "CPU",
        batch_size: int = 8,
        inference_precision: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.device = device
        # None keeps the device's default: OpenVINO runs FP32 models in bf16 on CPUs with AVX512-BF16/AMX.
        self.inference_precision = inference_precision
        self.batch_size = max(1, int(batch_size))
        model = read_model(self.path)
        self.io = inspect(model, self.path)
        if input_spec is not None:
            check_io(self.io, input_spec, output_spec or OutputSpec(()), self.path, name or self.path.stem)
        self.input_spec = input_spec or spec_from_io(self.io)
        self._lock = threading.Lock()
        self._latency = None
        self._throughput = None
        self._latency_request = None
        self._queue = None
        self._queue_lock = threading.Lock()

    @classmethod
    def for_model(
        cls,
        resolved,
        tasks: tuple[str, ...],
        role: str,
        device: str = "CPU",
        batch_size: int = 1,
        inference_precision: str | None = None,
    ) -> "Engine":
        """An engine for a resolved model (store.ResolvedModel); a catalogued model of another task is refused.

        `role` names what the caller needs, for the error ("an embedding model", "a detector", ...).
        """
        spec = resolved.spec
        if spec is not None and spec.task not in tasks:
            raise ModelFileError(f"{spec.name} is a {spec.task} model, not {role}")
        return cls(
            resolved.path,
            spec.input if spec else None,
            spec.output if spec else None,
            name=resolved.name,
            device=device,
            batch_size=batch_size,
            inference_precision=inference_precision,
        )

    # -- compilation ----------------------------------------------------------------------------
    def _compile(self, batch: int, hint: str):
        import openvino as ov
        from openvino.preprocess import PrePostProcessor

        model = read_model(self.path)
        spec = self.input_spec
        ppp = PrePostProcessor(model)
        ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC"))
        ppp.input().model().set_layout(ov.Layout("NCHW"))
        steps = ppp.input().preprocess().convert_element_type(ov.Type.f32)
        if spec.normalised:
            steps.mean(list(spec.mean)).scale(list(spec.std))
        for k in range(len(model.outputs)):
            ppp.output(k).tensor().set_element_type(ov.Type.f32)
        model = ppp.build()
        if batch != self.io.input_shape[0] or not model.inputs[0].get_partial_shape().is_static:
            model.reshape({model.inputs[0].get_any_name(): [batch, spec.height, spec.width, 3]})
        try:
            config = {"PERFORMANCE_HINT": hint}
            threads = os.environ.get("REIDKIT_THREADS", "")
            if threads.isdigit() and int(threads) > 0:  # a worker sharing a machine with others (scale/ray_jobs)
                config["INFERENCE_NUM_THREADS"] = int(threads)
            if self.inference_precision:
                config["INFERENCE_PRECISION_HINT"] = self.inference_precision
            return core().compile_model(model, self.device, config)
        except Exception as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFileError(f"cannot compile {self.path} for {self.device}: {msg[:200]}") from None

    def _latency_model(self):
        with self._lock:
            if self._latency is None:
                self._latency = self._compile(1, "LATENCY")
                self._latency_request = self._latency.create_infer_request()
            return self._latency

    def _throughput_model(self):
        with self._lock:
            if self._throughput is None:
                self._throughput = self._compile(self.batch_size, "THROUGHPUT")
            return self._throughput

    def _async_queue(self):
        """The engine's pool of asynchronous requests on the THROUGHPUT model, created once and reused (a pool
        per call would be rebuilt for every frame of a video)."""
        import openvino as ov

        compiled = self._throughput_model()
        with self._queue_lock:
            if self._queue is None:
                nreq = max(2, compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
                queue = ov.AsyncInferQueue(compiled, nreq)
                size = self.batch_size

                def done(request, userdata) -> None:
                    results, offset = userdata
                    results[offset] = request.get_output_tensor(0).data.reshape(size, -1).copy()

                queue.set_callback(done)
                self._queue = queue
            return self._queue

    # -- inference ------------------------------------------------------------------------------
    def infer_one(self, image_nhwc: np.ndarray) -> np.ndarray:
        """Run one 1×H×W×3 uint8 tensor through the low-latency model; returns the flat output."""
        self._latency_model()
        with self._lock:
            result = self._latency_request.infer({0: image_nhwc}, share_inputs=True)
            return np.array(result[0], dtype=np.float32).reshape(1, -1)

    def infer_outputs(self, batch_nhwc: np.ndarray) -> list[np.ndarray]:
        """Every output of a multi-output model (attributes, age + gender) for an N×H×W×3 uint8 batch: one
        N×k float32 array per output, in the model's output order. Runs image by image on the latency model."""
        compiled = self._latency_model()
        rows: list[list[np.ndarray]] = [[] for _ in compiled.outputs]
        for image in batch_nhwc:
            with self._lock:
                result = self._latency_request.infer({0: image[None]}, share_inputs=True)
                for k, port in enumerate(compiled.outputs):
                    rows[k].append(np.array(result[port], dtype=np.float32).reshape(-1))
        return [np.stack(r) if r else np.zeros((0, 0), np.float32) for r in rows]

    def infer(self, batch_nhwc: np.ndarray) -> np.ndarray:
        """Run an N×H×W×3 uint8 batch; N×D float32 outputs (flattened per image)."""
        return self.infer_stream([batch_nhwc], total=len(batch_nhwc))

    def infer_stream(self, chunks: Iterable[np.ndarray], total: int) -> np.ndarray:
        """Run uint8 NHWC chunks as they are produced, overlapping their production with inference.

        Chunks of exactly `batch_size` go to the async THROUGHPUT queue; smaller ones (a short call,
        or the tail of a long one) go through the batch-1 LATENCY model.
        """
        if total < self.batch_size:
            rows = [self.infer_one(img[None]) for chunk in chunks for img in chunk]
            return np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)
        queue = self._async_queue()
        results: dict[int, np.ndarray] = {}
        tail: list[tuple[int, np.ndarray]] = []
        offset = 0
        with self._queue_lock:  # one stream at a time through the engine's request pool
            for chunk in _rechunk(chunks, self.batch_size):
                if len(chunk) == self.batch_size:
                    queue.start_async({0: chunk}, (results, offset))
                else:
                    tail.append((offset, chunk))
                offset += len(chunk)
            queue.wait_all()
        for off, chunk in tail:
            results[off] = np.concatenate([self.infer_one(img[None]) for img in chunk])
        if not results:
            return np.zeros((0, 0), np.float32)
        return np.concatenate([results[k] for k in sorted(results)])


def _rechunk(chunks: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Regroup arrays along axis 0 into pieces of `size` (the last may be shorter)."""
    pending: list[np.ndarray] = []
    count = 0
    for chunk in chunks:
        if len(chunk) == size and not pending:
            yield chunk
            continue
        pending.append(chunk)
        count += len(chunk)
        while count >= size:
            joined = np.concatenate(pending)
            yield joined[:size]
            rest = joined[size:]
            pending, count = ([rest] if len(rest) else []), len(rest)
    if count:
        yield np.concatenate(pending)


def onnx_to_ir(onnx_path: Path, xml_path: Path, calibration: list[np.ndarray] | None = None) -> None:
    """Convert an ONNX model to OpenVINO IR (FP32 weights); INT8 with NNCF when calibration inputs are given."""
    import openvino as ov

    model = ov.convert_model(str(onnx_path))
    if calibration is not None:
        try:
            import nncf
        except ImportError:
            raise ModelFileError("INT8 quantisation needs NNCF: pip install nncf") from None
        model = nncf.quantize(model, nncf.Dataset(calibration), subset_size=len(calibration))
    ov.save_model(model, str(xml_path), compress_to_fp16=False)
