"""all-MiniLM-L6-v2 as an ONNX graph, built from the packaged safetensors weights without torch.

The graph takes ``input_ids`` and ``attention_mask`` (int64, batch x sequence) and returns
``embedding`` (float32, batch x 384): BERT's embeddings, six encoder layers, then mean pooling over
the attention mask and L2 normalization, which is what sentence-transformers computes for this
model. Only standard ONNX operators are used (opset 17), so any execution provider can run it;
ONNX Runtime fuses the LayerNorm, GELU and MatMul+Add patterns itself when it loads the graph.

``ensure_model`` keeps two variants in a cache folder:

- ``fp32``: the graph as is;
- ``int8-pc``: every weight MatMul quantized dynamically to int8 (weights per output channel with
  the reduced 7-bit range, activations per call), with the few outlier input channels kept in fp32.
  BERT's hidden states have a handful of channels tens of times larger than the rest; with them in
  the one int8 range, the other channels lose most of their precision (mean cosine to fp32 0.994
  on abstracts, down to 0.978 for some short texts). So each quantized MatMul gets its input with
  the ``OUTLIER_CHANNELS`` largest channels zeroed, and those channels go through a tiny fp32
  MatMul added back (LLM.int8()'s decomposition): mean 0.998, worst 0.995, for a few percent of
  the speed. The channels are found by running the fp32 graph on ``CALIBRATION_TEXTS``; they
  belong to the model, not to the texts, so a few sentences find them.

Each model file has a JSON sidecar holding the builder version, the SHA-256 of the weights and
tokenizer it was built from and the SHA-256 of the file itself. A file is rebuilt when its sidecar
is missing or disagrees: new weights or tokenizer, a new builder, or a damaged file (damage is
repaired, not reported as an error). Building takes a few seconds. Files are written under a
temporary name and renamed into place, and builders take a lock, so readers never see half a
model.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from paperboard.core.errors import PaperboardError
from paperboard.core.files import atomic_path, atomic_write

log = logging.getLogger(__name__)

# Bump whenever the graph or the quantization changes: cached files are then rebuilt, and the
# embedder's name changes, so vectors stored under the old name are known to be stale.
BUILDER_VERSION = 2
OPSET = 17  # the first with LayerNormalization

HIDDEN = 384
HEADS = 12
HEAD_DIM = HIDDEN // HEADS
LAYERS = 6
LAYER_NORM_EPS = 1e-12
# Added to the attention scores of padding keys (as in BERT); exp() of it is exactly 0 in float32.
MASK_BIAS = -10000.0
# Input channels of each int8 MatMul kept in fp32 (see the module's docstring): 4 cut the error
# to a third; 2 did a little worse, 8 or 16 no better.
OUTLIER_CHANNELS = 4
# Run through the fp32 graph only to find the outlier channels. They shape the int8 model:
# changing them means bumping BUILDER_VERSION.
CALIBRATION_TEXTS = (
    "Attention is all you need.",
    (
        "We propose a new method for image segmentation that outperforms prior work on three "
        "benchmarks."
    ),
    "graph neural networks",
    "How do large language models reason about arithmetic?",
    (
        "Abstract: We study the convergence of stochastic gradient descent for non-convex "
        "objectives and prove a rate of O(1/sqrt(T)) under mild assumptions. Experiments on "
        "CIFAR-10 and ImageNet confirm the theory."
    ),
    "Reinforcement learning from human feedback aligns language models with user intent.",
    "protein structure prediction",
    "A survey of diffusion models for video generation, 3D synthesis and audio.",
)

WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"

FP32 = "fp32"
INT8 = "int8-pc"  # int8 weights, per output channel, reduced range
VARIANTS = (FP32, INT8)

Weights = dict[str, np.ndarray]
# For each MatMul input tensor (by name), the channels that bypass int8.
Outliers = Mapping[str, np.ndarray]


class EmbeddingModelError(PaperboardError):
    """The embedding model cannot be built, loaded, or run on the device asked for."""


@dataclass(frozen=True)
class BuiltModel:
    """A model file in the cache and what it was built from."""

    path: Path
    variant: str
    source_sha256: str  # of the weights and the tokenizer together
    rebuilt: bool


# -- the graph ------------------------------------------------------------------------------------


class _Graph:
    """Collects nodes and initializers; ``op`` returns the name of the node's output."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def const(self, name: str, value: np.ndarray | float) -> str:
        self.initializers.append(
            numpy_helper.from_array(np.asarray(value, dtype=_dtype(value)), name)
        )
        return name

    def op(self, op_type: str, inputs: list[str], name: str | None = None, **attrs: Any) -> str:
        out = name or f"{op_type.lower()}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def has(self, name: str) -> bool:
        return any(name in node.output for node in self.nodes)


def _dtype(value: np.ndarray | float) -> np.dtype:
    return value.dtype if isinstance(value, np.ndarray) else np.dtype(np.float32)


def _linear(g: _Graph, x: str, weights: Weights, prefix: str, outliers: Outliers) -> str:
    """x @ W.T + b (W stored transposed, so the MatMul's second input is a constant).

    With outlier channels for ``x``: (x with them zeroed) @ W.T + x[..., them] @ W.T[them] + b,
    where only the first MatMul is later quantized.
    """
    w = np.ascontiguousarray(weights[f"{prefix}.weight"].T)
    b = g.const(f"{prefix}.bias", weights[f"{prefix}.bias"])
    channels = outliers.get(x)
    if channels is None:
        product = g.op("MatMul", [x, g.const(f"{prefix}.weight_t", w)], name=f"{prefix}.matmul")
        return g.op("Add", [product, b])
    if not g.has(f"{x}.inliers"):  # query, key and value share their input
        keep = np.ones(w.shape[0], dtype=np.float32)
        keep[channels] = 0.0
        g.op("Mul", [x, g.const(f"{x}.keep", keep)], name=f"{x}.inliers")
        g.op("Gather", [x, g.const(f"{x}.outlier_index", channels)], name=f"{x}.outliers", axis=-1)
    main = g.op(
        "MatMul", [f"{x}.inliers", g.const(f"{prefix}.weight_t", w)], name=f"{prefix}.matmul"
    )
    w_outliers = g.const(f"{prefix}.outlier_weight_t", np.ascontiguousarray(w[channels]))
    rest = g.op("MatMul", [f"{x}.outliers", w_outliers], name=outlier_matmul(prefix))
    return g.op("Add", [g.op("Add", [main, rest]), b])


def outlier_matmul(prefix: str) -> str:
    return f"{prefix}.outlier_matmul"


def _layer_norm(g: _Graph, x: str, weights: Weights, prefix: str) -> str:
    scale = g.const(f"{prefix}.weight", weights[f"{prefix}.weight"])
    bias = g.const(f"{prefix}.bias", weights[f"{prefix}.bias"])
    return g.op(
        "LayerNormalization",
        [x, scale, bias],
        name=f"{prefix}.out",
        axis=-1,
        epsilon=LAYER_NORM_EPS,
    )


def _embeddings(g: _Graph, weights: Weights) -> str:
    word = g.const("word_embeddings", weights["embeddings.word_embeddings.weight"])
    # A single sentence has token type 0 everywhere: that row is folded into the position table.
    positions = (
        weights["embeddings.position_embeddings.weight"]
        + weights["embeddings.token_type_embeddings.weight"][0]
    )
    table = g.const("position_embeddings", positions.astype(np.float32))
    seq_len = g.op("Shape", ["input_ids"], start=1, end=2)
    zero = g.const("zero", np.array([0], dtype=np.int64))
    position_rows = g.op("Slice", [table, zero, seq_len, zero])
    summed = g.op("Add", [g.op("Gather", [word, "input_ids"]), position_rows])
    return _layer_norm(g, summed, weights, "embeddings.LayerNorm")


def _split_heads(g: _Graph, x: str, perm: list[int]) -> str:
    """(batch, seq, 384) -> (batch, 12, seq, 32), or (batch, 12, 32, seq) with perm [0, 2, 3, 1]."""
    shape = g.const(f"{x}.heads_shape", np.array([0, 0, HEADS, HEAD_DIM], dtype=np.int64))
    return g.op("Transpose", [g.op("Reshape", [x, shape])], perm=perm)


def _self_attention(
    g: _Graph, x: str, mask_bias: str, weights: Weights, prefix: str, outliers: Outliers
) -> str:
    q = _split_heads(g, _linear(g, x, weights, f"{prefix}.self.query", outliers), [0, 2, 1, 3])
    k = _split_heads(g, _linear(g, x, weights, f"{prefix}.self.key", outliers), [0, 2, 3, 1])
    v = _split_heads(g, _linear(g, x, weights, f"{prefix}.self.value", outliers), [0, 2, 1, 3])
    scale = g.const(f"{prefix}.scale", 1.0 / np.sqrt(HEAD_DIM))
    scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), mask_bias])
    context = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
    merged_shape = g.const(f"{prefix}.merged_shape", np.array([0, 0, HIDDEN], dtype=np.int64))
    merged = g.op("Reshape", [g.op("Transpose", [context], perm=[0, 2, 1, 3]), merged_shape])
    out = _linear(g, merged, weights, f"{prefix}.output.dense", outliers)
    return _layer_norm(g, g.op("Add", [out, x]), weights, f"{prefix}.output.LayerNorm")


def _gelu(g: _Graph, x: str, name: str) -> str:
    """BERT's exact GELU, 0.5 * x * (1 + erf(x / sqrt(2)))."""
    erf = g.op("Erf", [g.op("Div", [x, g.const(f"{x}.sqrt2", np.sqrt(2.0))])])
    one_plus = g.op("Add", [erf, g.const(f"{x}.one", 1.0)])
    return g.op("Mul", [g.op("Mul", [x, one_plus]), g.const(f"{x}.half", 0.5)], name=name)


def _encoder_layer(
    g: _Graph, x: str, mask_bias: str, weights: Weights, index: int, outliers: Outliers
) -> str:
    prefix = f"encoder.layer.{index}"
    attended = _self_attention(g, x, mask_bias, weights, f"{prefix}.attention", outliers)
    inner = _linear(g, attended, weights, f"{prefix}.intermediate.dense", outliers)
    hidden = _gelu(g, inner, name=f"{prefix}.intermediate.gelu")
    out = _linear(g, hidden, weights, f"{prefix}.output.dense", outliers)
    return _layer_norm(g, g.op("Add", [out, attended]), weights, f"{prefix}.output.LayerNorm")


def quantized_inputs() -> list[str]:
    """The MatMul inputs whose outlier channels bypass int8: the input of query/key/value, of
    the intermediate dense layer and of the output dense layer, in every layer. (The attention
    context, the fourth, has no outliers worth it.)"""
    names = []
    for index in range(LAYERS):
        before = (
            "embeddings.LayerNorm" if index == 0 else f"encoder.layer.{index - 1}.output.LayerNorm"
        )
        prefix = f"encoder.layer.{index}"
        names += [
            f"{before}.out",
            f"{prefix}.attention.output.LayerNorm.out",
            f"{prefix}.intermediate.gelu",
        ]
    return names


def _attention_mask_bias(g: _Graph, mask: str) -> str:
    """(1 - mask) * -10000 shaped (batch, 1, 1, seq), to add to every head's scores."""
    inverted = g.op("Sub", [g.const("one", 1.0), mask])
    bias = g.op("Mul", [inverted, g.const("mask_bias", MASK_BIAS)])
    return g.op("Unsqueeze", [bias, g.const("axes_1_2", np.array([1, 2], dtype=np.int64))])


def _mean_pool_normalize(g: _Graph, hidden: str, mask: str) -> str:
    """sentence-transformers' pooling: sum(h * mask) / max(sum(mask), 1e-9), then F.normalize."""
    axis1 = g.const("axis_1", np.array([1], dtype=np.int64))
    mask3 = g.op("Unsqueeze", [mask, g.const("axis_2", np.array([2], dtype=np.int64))])
    summed = g.op("ReduceSum", [g.op("Mul", [hidden, mask3]), axis1], keepdims=0)
    count = g.op("ReduceSum", [mask, axis1], keepdims=1)
    mean = g.op("Div", [summed, g.op("Max", [count, g.const("min_count", 1e-9)])])
    norm = g.op("Sqrt", [g.op("ReduceSum", [g.op("Mul", [mean, mean]), axis1], keepdims=1)])
    norm = g.op("Max", [norm, g.const("min_norm", 1e-12)])
    return g.op("Div", [mean, norm], name="embedding")


def build_graph(weights: Weights, outliers: Outliers | None = None) -> onnx.ModelProto:
    """The fp32 sentence-embedding graph from BERT weights named as in Hugging Face's BertModel,
    with the given outlier channels split off their MatMuls."""
    outliers = outliers or {}
    g = _Graph()
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask_bias = _attention_mask_bias(g, mask)
    x = _embeddings(g, weights)
    for index in range(LAYERS):
        x = _encoder_layer(g, x, mask_bias, weights, index, outliers)
    _mean_pool_normalize(g, x, mask)

    tokens = ["batch", "sequence"]
    graph = helper.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, tokens),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, tokens),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", HIDDEN])],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="paperboard"
    )
    model.ir_version = 8  # readable by every ONNX Runtime since 1.14
    onnx.checker.check_model(model)
    return model


def load_weights(weights_file: Path) -> Weights:
    from safetensors.numpy import load_file

    weights = load_file(str(weights_file))
    return {key.removeprefix("bert."): value for key, value in weights.items()}


# -- quantization ---------------------------------------------------------------------------------


class _QuantizerChatter(logging.Filter):
    """Drops the quantizer's own messages below ERROR: it logs through the root logger, a line
    for every tensor at INFO and advice to pre-process (which this graph does not need) at
    WARNING."""

    def __init__(self) -> None:
        super().__init__()
        import onnxruntime.quantization

        self.folder = os.path.dirname(onnxruntime.quantization.__file__)

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or not record.pathname.startswith(self.folder)


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    root = logging.getLogger()
    quiet = _QuantizerChatter()
    root.addFilter(quiet)
    try:
        yield
    finally:
        root.removeFilter(quiet)


def find_outliers(model: onnx.ModelProto, tokenizer_file: Path) -> dict[str, np.ndarray]:
    """For each of ``quantized_inputs()``, its ``OUTLIER_CHANNELS`` channels of largest absolute
    value when the fp32 ``model`` embeds ``CALIBRATION_TEXTS``."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    if OUTLIER_CHANNELS == 0:
        return {}
    names = quantized_inputs()
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.extend(
        helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in names
    )
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()
    peaks = {name: np.zeros(1, dtype=np.float32) for name in names}
    for encoding in tokenizer.encode_batch(list(CALIBRATION_TEXTS)):
        ids = np.asarray([encoding.ids], dtype=np.int64)
        values = session.run(names, {"input_ids": ids, "attention_mask": np.ones_like(ids)})
        for name, value in zip(names, values, strict=True):
            peaks[name] = np.maximum(peaks[name], np.abs(value[0]).max(axis=0))
    return {
        name: np.sort(np.argsort(-peak, kind="stable")[:OUTLIER_CHANNELS]).astype(np.int64)
        for name, peak in peaks.items()
    }


def quantize(model: onnx.ModelProto, target: Path) -> None:
    """Dynamic int8 quantization of the weight MatMuls, per output channel, 7-bit range.

    Mean cosine to fp32 over 300 abstracts, without the outlier split: per-tensor weights 0.77
    (7-bit) or 0.94 (8-bit), per channel 0.994 (7-bit) or 0.995 (8-bit). The reduced range costs
    little and avoids the saturation of int8 dot products on CPUs without VNNI. The outlier
    MatMuls, the attention products (no constant weight) and the embedding tables stay fp32.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    outlier_nodes = [n.name for n in model.graph.node if n.name.endswith(outlier_matmul(""))]
    with _quiet_quantizer():
        quantize_dynamic(
            model,
            target,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            reduce_range=True,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=outlier_nodes,
        )


# -- the cache ------------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def model_filename(variant: str) -> str:
    return f"all-MiniLM-L6-v2-{variant}.onnx"


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def source_sha256(model_dir: Path) -> str:
    """One hash of what a build reads: the weights, and the tokenizer (for calibration)."""
    parts = [file_sha256(model_dir / name) for name in (WEIGHTS_FILE, TOKENIZER_FILE)]
    return hashlib.sha256(":".join(parts).encode()).hexdigest()


def is_current(path: Path, source: str) -> bool:
    """Whether ``path`` was built by this builder from this source and is intact."""
    try:
        meta = json.loads(_sidecar(path).read_text())
        if meta.get("builder_version") != BUILDER_VERSION or meta.get("source_sha256") != source:
            return False
        return bool(
            path.stat().st_size == meta.get("size") and file_sha256(path) == meta.get("sha256")
        )
    except (OSError, ValueError, AttributeError):
        return False


@contextlib.contextmanager
def _build_lock(cache_dir: Path) -> Iterator[None]:
    """Serializes builders across processes, so two first runs do not both build."""
    with open(cache_dir / ".all-MiniLM-L6-v2.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build(target: Path, variant: str, model_dir: Path, source: str) -> None:
    log.info("building %s into %s", target.name, target.parent)
    weights = load_weights(model_dir / WEIGHTS_FILE)
    model = build_graph(weights)
    if variant == FP32:
        with atomic_path(target, mode=0o644) as temporary:
            onnx.save_model(model, temporary)
    else:
        split = build_graph(weights, find_outliers(model, model_dir / TOKENIZER_FILE))
        with atomic_path(target, mode=0o644) as temporary:
            quantize(split, temporary)
    meta = {
        "builder_version": BUILDER_VERSION,
        "source_sha256": source,
        "variant": variant,
        "size": target.stat().st_size,
        "sha256": file_sha256(target),
    }
    text = json.dumps(meta, indent=1) + "\n"
    atomic_write(_sidecar(target), text, mode=0o644)


def ensure_model(cache_dir: Path, model_dir: Path, variant: str) -> BuiltModel:
    """The path of ``variant`` in ``cache_dir``, built first from the weights and tokenizer in
    ``model_dir`` when missing, stale or damaged."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown model variant {variant!r}, expected one of {VARIANTS}")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        source = source_sha256(model_dir)
        target = cache_dir / model_filename(variant)
        if is_current(target, source):
            return BuiltModel(target, variant, source, rebuilt=False)
        with _build_lock(cache_dir):
            if is_current(target, source):  # another process built it meanwhile
                return BuiltModel(target, variant, source, rebuilt=False)
            if target.exists():
                log.warning("%s is stale or damaged: rebuilding it", target)
            _build(target, variant, model_dir, source)
    except OSError as error:
        raise EmbeddingModelError(
            f"cannot build the embedding model in {cache_dir}: {error}"
        ) from error
    except Exception as error:  # unreadable weights, a quantizer failure: one line, chained
        lines = str(error).strip().splitlines() or [type(error).__name__]
        raise EmbeddingModelError(
            f"cannot build {target.name} from {model_dir}: {lines[0]}"
        ) from error
    return BuiltModel(target, variant, source, rebuilt=True)
