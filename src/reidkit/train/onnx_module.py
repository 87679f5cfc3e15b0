"""An ONNX graph as a trainable torch module: float initializers become parameters, the nodes a program.

Covers the operators of CNN embedding models (OSNet/OSNet-AIN exports such as OMZ's
person-reidentification-retail-0267). Shape arithmetic (Shape/Gather/Concat/Unsqueeze on int64 values) is
kept as Python lists of sizes, so the module traces back to ONNX with a dynamic batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

STAT_SUFFIXES = ("running_mean", "running_var")


def _attrs(node) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pads_2d(pads: list[int] | None) -> tuple[int, int]:
    """Symmetric (top, left) padding from ONNX [top, left, bottom, right]."""
    pads = list(pads or [0, 0, 0, 0])
    if pads[:2] != pads[2:]:
        raise NotImplementedError(f"asymmetric padding {pads}")
    return pads[0], pads[1]


def _reshape(x: torch.Tensor, shape: list[int]) -> torch.Tensor:
    dims = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return x.reshape(dims)


def _as_list(value: Any) -> list:
    if isinstance(value, torch.Tensor) and not _is_size(value):
        return [int(v) for v in value.reshape(-1).tolist()]
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _gather(data: Any, indices: Any, axis: int) -> Any:
    if isinstance(data, list):
        if isinstance(indices, list):
            return [data[i] for i in indices]
        return data[int(indices)]
    index = torch.as_tensor(indices, dtype=torch.long)
    return torch.index_select(data, axis, index.reshape(-1)).reshape(
        data.shape[:axis] + index.shape + data.shape[axis + 1 :]
    )


def _is_size(x: Any) -> bool:
    """A shape element: a Python int, or (while tracing for export) a 0-d int64 tensor from Tensor.shape."""
    return not isinstance(x, torch.Tensor) or (x.dim() == 0 and x.dtype == torch.int64)


def _unsqueeze(x: Any, axes: list[int]) -> Any:
    if isinstance(x, list) or _is_size(x):
        return (x if isinstance(x, list) else [x]) if axes == [0] else x
    for axis in sorted(axes):
        x = x.unsqueeze(axis)
    return x


def _concat(inputs: list[Any], axis: int) -> Any:
    if all(isinstance(v, list) or _is_size(v) for v in inputs):
        return [d for v in inputs for d in _as_list(v)]
    return torch.cat(inputs, dim=axis)


def _mvn(x: torch.Tensor, axes: list[int]) -> torch.Tensor:
    mean = x.mean(dim=axes, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=axes, keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-9)


def _prelu(x: torch.Tensor, slope: torch.Tensor) -> torch.Tensor:
    return torch.where(x >= 0, x, x * slope)


def _gemm(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor | None, at: dict) -> torch.Tensor:
    a = a.t() if at.get("transA", 0) else a
    b = b.t() if at.get("transB", 0) else b
    y = at.get("alpha", 1.0) * (a @ b)
    return y + at.get("beta", 1.0) * c if c is not None else y


class OnnxModule(nn.Module):
    """Runs an ONNX model's graph with torch ops; its float weights train, BN statistics update in train mode."""

    def __init__(self, path: str | Path):
        super().__init__()
        import onnx
        from onnx import numpy_helper

        model = onnx.load(str(path))
        graph = model.graph
        self.source = str(path)
        self._names: dict[str, str] = {}
        self._ints: dict[str, list[int]] = {}
        initializers = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        for i, (name, array) in enumerate(initializers.items()):
            self._add_tensor(name, array, f"t{i}")
        self._nodes = []
        for node in graph.node:
            at = _attrs(node)
            if node.op_type == "Constant":
                value = numpy_helper.to_array(at["value"])
                self._add_tensor(node.output[0], value, f"c{len(self._names)}", trainable=False)
                continue
            if node.op_type not in OPS:
                raise NotImplementedError(f"ONNX operator {node.op_type} is not supported for training")
            self._nodes.append((node.op_type, list(node.input), list(node.output), at))
        init_names = set(initializers)
        self.input_name = next(i.name for i in graph.input if i.name not in init_names)
        self.output_name = graph.output[0].name
        dims = graph.input[[i.name for i in graph.input].index(self.input_name)].type.tensor_type.shape.dim
        self.input_shape = tuple(d.dim_value if d.dim_value > 0 else -1 for d in dims)
        with torch.no_grad():
            probe = torch.zeros((2,) + self.input_shape[1:])
            self.eval()
            self.feature_dim = int(self(probe).reshape(2, -1).shape[1])
            self.train()

    def _add_tensor(self, name: str, array: np.ndarray, key: str, trainable: bool = True) -> None:
        if array.dtype.kind in "iu" or array.dtype == bool:
            self._ints[name] = array.astype(np.int64).reshape(-1).tolist() if array.ndim else int(array)
            return
        tensor = torch.from_numpy(np.array(array, dtype=np.float32))
        if trainable and not name.endswith(STAT_SUFFIXES) and tensor.numel() > 1:
            self.register_parameter(key, nn.Parameter(tensor))
        else:
            self.register_buffer(key, tensor)
        self._names[name] = key

    def _value(self, env: dict[str, Any], name: str) -> Any:
        if name in env:
            return env[name]
        if name in self._ints:
            return self._ints[name]
        if name in self._names:
            return getattr(self, self._names[name])
        if name == "":
            return None
        raise KeyError(f"ONNX value {name!r} has no producer")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        env: dict[str, Any] = {self.input_name: x}
        for op, inputs, outputs, at in self._nodes:
            args = [self._value(env, n) for n in inputs]
            env[outputs[0]] = OPS[op](self, args, at)
        out = env[self.output_name]
        return out.reshape(out.shape[0], -1)


def _batch_norm(module: OnnxModule, args: list, at: dict) -> torch.Tensor:
    x, scale, bias, mean, var = args
    momentum = 1.0 - float(at.get("momentum", 0.9))
    return F.batch_norm(
        x, mean, var, scale, bias, training=module.training, momentum=momentum, eps=float(at.get("epsilon", 1e-5))
    )


def _conv(args: list, at: dict) -> torch.Tensor:
    x, w = args[0], args[1]
    b = args[2] if len(args) > 2 else None
    return F.conv2d(
        x,
        w,
        b,
        stride=tuple(at.get("strides", [1, 1])),
        padding=_pads_2d(at.get("pads")),
        dilation=tuple(at.get("dilations", [1, 1])),
        groups=int(at.get("group", 1)),
    )


def _pad(args: list, at: dict) -> torch.Tensor:
    pads = _as_list(at["pads"] if "pads" in at else args[1])
    n = len(pads) // 2
    torch_pads = [p for d in reversed(range(n)) for p in (pads[d], pads[d + n])]
    if not any(torch_pads):
        return args[0]
    mode = at.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    return F.pad(args[0], torch_pads, mode=mode, value=float(at.get("value", 0.0)))


OPS: dict[str, Callable[[OnnxModule, list, dict], Any]] = {
    "Conv": lambda m, a, at: _conv(a, at),
    "BatchNormalization": _batch_norm,
    "InstanceNormalization": lambda m, a, at: F.instance_norm(
        a[0], weight=a[1], bias=a[2], eps=float(at.get("epsilon", 1e-5))
    ),
    "MeanVarianceNormalization": lambda m, a, at: _mvn(a[0], list(at.get("axes", [0, 2, 3]))),
    "Relu": lambda m, a, at: F.relu(a[0]),
    "Sigmoid": lambda m, a, at: torch.sigmoid(a[0]),
    "PRelu": lambda m, a, at: _prelu(a[0], a[1]),
    "Add": lambda m, a, at: a[0] + a[1],
    "Mul": lambda m, a, at: a[0] * a[1],
    "MaxPool": lambda m, a, at: F.max_pool2d(
        a[0], tuple(at["kernel_shape"]), tuple(at.get("strides", [1, 1])), _pads_2d(at.get("pads"))
    ),
    "AveragePool": lambda m, a, at: F.avg_pool2d(
        a[0],
        tuple(at["kernel_shape"]),
        tuple(at.get("strides", [1, 1])),
        _pads_2d(at.get("pads")),
        count_include_pad=bool(at.get("count_include_pad", 0)),
    ),
    "GlobalAveragePool": lambda m, a, at: a[0].mean(dim=(2, 3), keepdim=True),
    "Gemm": lambda m, a, at: _gemm(a[0], a[1], a[2] if len(a) > 2 else None, at),
    "Flatten": lambda m, a, at: a[0].flatten(int(at.get("axis", 1))),
    "Reshape": lambda m, a, at: _reshape(a[0], _as_list(a[1])),
    "Shape": lambda m, a, at: list(a[0].shape),
    "Gather": lambda m, a, at: _gather(a[0], a[1], int(at.get("axis", 0))),
    "Unsqueeze": lambda m, a, at: _unsqueeze(a[0], _as_list(at["axes"] if "axes" in at else a[1])),
    "Concat": lambda m, a, at: _concat(a, int(at.get("axis", 0))),
    "Pad": lambda m, a, at: _pad(a, at),
}
