"""The embedding model: the ONNX graph built from the packaged weights gives sentence-transformers'
vectors (fp32 exactly, int8 closely), the vectors behave (unit norm, order, batch independence,
meaning), and the model cache is reused, repaired and rebuilt when it should be.

The models are built once per session into a temporary folder; the reference vectors come from
sentence-transformers (torch), which serving never imports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from paperboard.index import onnx_model
from paperboard.index.embed import DIM, MODEL_NAME, Embedder, package_model_dir, paper_text
from paperboard.index.onnx_model import EmbeddingModelError

LONG_ABSTRACT = (
    "Large language models have shown remarkable abilities on reasoning benchmarks, yet their "
    "behaviour on long-horizon planning remains poorly understood. We introduce a suite of "
    "procedurally generated tasks in which an agent must assemble a plan of up to forty steps, "
    "each step depending on the outcome of earlier ones, and we measure how accuracy decays with "
    "plan length across twelve open and closed models. We find that chain-of-thought prompting "
    "delays but does not prevent the collapse, that self-consistency helps only when the sampled "
    "plans are diverse, and that a simple verifier trained on 10k synthetic traces recovers most "
    "of the lost accuracy. Our analysis attributes the failures to three sources: state tracking "
    "errors, premature commitment, and copying mistakes in long contexts. "
)
TEXTS = [
    "",
    "transformers",
    "graph neural networks for molecule property prediction",
    "Attention Is All You Need",
    paper_text(
        "Denoising Diffusion Probabilistic Models",
        "We present high quality image synthesis results using diffusion probabilistic models.",
    ),
    LONG_ABSTRACT,  # about 200 tokens
    LONG_ABSTRACT * 3,  # truncated at 256 tokens
    "word " * 2000,  # truncated, and longer than the model's 512 positions
    "Über die Quantenmechanik: Schrödinger-Gleichung, Hilbert-Räume und Störungstheorie",
    "深度学习在自然语言处理中的应用",
    "Нейронные сети для распознавания речи",
    (
        "We bound the regret by $\\mathcal{O}(\\sqrt{T \\log T})$ where $T$ is the horizon "
        "and $\\epsilon$-greedy exploration fails when $\\alpha \\to 0$."
    ),
    "\\begin{equation} \\nabla_\\theta \\mathcal{L} = \\mathbb{E}_{x\\sim p}[f(x)] \\end{equation}",
    "GPT-4o vs. Llama-3.1-405B: a head-to-head eval (MMLU 88.7%, GSM8K 96.1%) 🚀🔥",
    "https://github.com/openai/whisper: robust speech recognition, weak supervision",
    "SELF-SUPERVISED LEARNING OF VISUAL FEATURES WITHOUT LABELS",
    "reinforcement learning from human feedback",
    "def forward(self, x): return self.linear(torch.relu(x))",
    "Protein structure prediction with AlphaFold; CASP14 median GDT 92.4",
    "   leading and trailing spaces\n\nand a blank line\t",
]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def int8(cache_dir: Path) -> Embedder:
    return Embedder.load(cache_dir, device="cpu")


@pytest.fixture(scope="session")
def fp32(cache_dir: Path) -> Embedder:
    return Embedder.load(cache_dir, quantized=False, device="cpu")


@pytest.fixture(scope="session")
def sentence_transformer():  # type: ignore[no-untyped-def]
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        pytest.skip(f"sentence-transformers (the reference) cannot be imported: {error}")
    model = SentenceTransformer(str(package_model_dir()), device="cpu")
    assert model.max_seq_length == 256
    return model


@pytest.fixture(scope="session")
def reference(sentence_transformer) -> np.ndarray:  # type: ignore[no-untyped-def]
    return sentence_transformer.encode(TEXTS, convert_to_numpy=True, normalize_embeddings=True)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# -- against sentence-transformers -----------------------------------------------------------------


@pytest.mark.slow
def test_fp32_graph_matches_sentence_transformers(fp32: Embedder, reference: np.ndarray) -> None:
    got = cosines(fp32.embed(TEXTS), reference)
    assert got.min() >= 0.9999, dict(zip(TEXTS, got.round(6), strict=True))


@pytest.mark.slow
def test_int8_model_stays_close_to_sentence_transformers(
    int8: Embedder, reference: np.ndarray
) -> None:
    got = cosines(int8.embed(TEXTS), reference)
    assert got.min() >= 0.98, dict(zip(TEXTS, got.round(4), strict=True))
    assert got.mean() >= 0.99


@pytest.mark.slow
def test_truncation_length_matches_sentence_transformers(  # type: ignore[no-untyped-def]
    fp32: Embedder, sentence_transformer
) -> None:
    texts = [LONG_ABSTRACT, LONG_ABSTRACT * 3]
    sentence_transformer.max_seq_length = 128
    try:
        expected = sentence_transformer.encode(texts, convert_to_numpy=True)
    finally:
        sentence_transformer.max_seq_length = 256
    assert cosines(fp32.embed(texts, max_length=128), expected).min() >= 0.9999
    # and truncation did happen: the 256-token vector differs
    assert cosines(fp32.embed(texts[1:]), expected[1:])[0] < 0.999


# -- behaviour ------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["int8", "fp32"])
def test_rows_are_unit_vectors_in_input_order(variant: str, request: pytest.FixtureRequest) -> None:
    embedder: Embedder = request.getfixturevalue(variant)
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    reversed_vectors = embedder.embed(TEXTS[::-1])
    np.testing.assert_array_equal(reversed_vectors[::-1], vectors)


@pytest.mark.parametrize("variant", ["int8", "fp32"])
def test_batch_and_single_texts_give_the_same_vectors(
    variant: str, request: pytest.FixtureRequest
) -> None:
    embedder: Embedder = request.getfixturevalue(variant)
    texts = TEXTS[:12]  # short, long and truncated ones mixed
    together = embedder.embed(texts, batch_size=5)
    alone = np.stack([embedder.embed([text])[0] for text in texts])
    assert np.abs(together - alone).max() <= 1e-5


def test_padding_does_not_change_a_vector(fp32: Embedder) -> None:
    """The graph masks padding (what batched CUDA runs rely on): a short text padded to a long
    one's length in the same batch gets the vector it gets alone."""
    session = ort.InferenceSession(str(fp32.model_path), providers=["CPUExecutionProvider"])
    short, long = [
        np.asarray(e, dtype=np.int64) for e in ([101, 7099, 102], [101] + [2773] * 40 + [102])
    ]
    ids = np.zeros((2, len(long)), dtype=np.int64)
    mask = np.zeros_like(ids)
    ids[0, : len(short)], mask[0, : len(short)] = short, 1
    ids[1], mask[1] = long, 1
    batched = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    alone = session.run(
        None, {"input_ids": short[None], "attention_mask": np.ones((1, 3), np.int64)}
    )[0]
    assert np.abs(batched[0] - alone[0]).max() <= 1e-5


def test_a_paraphrase_is_closer_than_an_unrelated_text(int8: Embedder) -> None:
    anchor, paraphrase, unrelated = int8.embed(
        [
            "A neural network that translates English sentences into German.",
            "Machine translation from English to German with deep learning.",
            "Measuring the thermal conductivity of suspended graphene sheets.",
        ]
    )
    assert anchor @ paraphrase > anchor @ unrelated + 0.3


def test_a_query_finds_its_paper(int8: Embedder) -> None:
    papers = int8.embed([TEXTS[4], LONG_ABSTRACT, TEXTS[8], TEXTS[18]])
    query = int8.embed_query("diffusion models for image generation")
    assert query.shape == (DIM,)
    assert int(np.argmax(papers @ query)) == 0


def test_query_vector_is_the_embed_vector(int8: Embedder) -> None:
    text = "contrastive learning of sentence embeddings"
    assert np.abs(int8.embed_query(text) - int8.embed([text], max_length=64)[0]).max() <= 1e-6


def test_empty_and_blank_texts_give_unit_vectors(int8: Embedder) -> None:
    vectors = int8.embed(["", "   ", "\n\t"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[1])  # blank is empty to the tokenizer
    assert np.isfinite(int8.embed_query("")).all()


def test_no_texts_give_an_empty_matrix(int8: Embedder) -> None:
    empty = int8.embed([])
    assert empty.shape == (0, DIM) and empty.dtype == np.float32


def test_bad_arguments_are_refused(int8: Embedder, cache_dir: Path) -> None:
    with pytest.raises(ValueError):
        int8.embed(["x"], max_length=1)
    with pytest.raises(ValueError):
        int8.embed(["x"], max_length=513)
    with pytest.raises(ValueError):
        Embedder.load(cache_dir, device="tpu")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(EmbeddingModelError, match="no CUDA provider"):
            Embedder.load(cache_dir, device="cuda")


def test_names_tell_the_variants_apart(int8: Embedder, fp32: Embedder) -> None:
    assert int8.name.startswith(f"{MODEL_NAME}/onnx-int8-pc/")
    assert fp32.name.startswith(f"{MODEL_NAME}/onnx-fp32/")
    assert int8.dim == fp32.dim == DIM


def test_paper_text_joins_title_and_abstract() -> None:
    assert paper_text("Deep  Learning", "We study\nnets. ") == "Deep Learning. We study nets."
    assert paper_text("Is attention enough?", "No.") == "Is attention enough? No."
    assert paper_text("Only a title", None) == "Only a title"
    assert paper_text(None, " only an abstract ") == "only an abstract"
    assert paper_text(None, None) == ""


# -- the model cache ----------------------------------------------------------------------------


def mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("*.onnx*")}


def test_a_second_load_reuses_the_cache(int8: Embedder, fp32: Embedder, cache_dir: Path) -> None:
    before = mtimes(cache_dir)
    assert len(before) == 4  # two models and their sidecars
    again = Embedder.load(cache_dir, device="cpu")
    assert not again.rebuilt and mtimes(cache_dir) == before
    np.testing.assert_array_equal(again.embed(TEXTS[:3]), int8.embed(TEXTS[:3]))


@pytest.fixture
def own_cache(int8: Embedder, tmp_path: Path) -> Path:
    """A copy of the built int8 model, for tests that damage it."""
    folder = tmp_path / "models"
    folder.mkdir()
    for name in (int8.model_path.name, int8.model_path.name + ".json"):
        shutil.copy2(int8.model_path.parent / name, folder / name)
    return folder


def test_a_damaged_model_is_rebuilt(int8: Embedder, own_cache: Path) -> None:
    model = own_cache / int8.model_path.name
    with open(model, "r+b") as stream:  # garbage in the middle, same size
        stream.seek(model.stat().st_size // 2)
        stream.write(os.urandom(4096))
    repaired = Embedder.load(own_cache, device="cpu")
    assert repaired.rebuilt
    meta = json.loads((own_cache / f"{model.name}.json").read_text())
    assert onnx_model.file_sha256(model) == meta["sha256"]
    np.testing.assert_array_equal(repaired.embed(TEXTS[:5]), int8.embed(TEXTS[:5]))


def test_a_model_is_stale_when_cut_or_from_other_weights_or_builder(
    int8: Embedder, own_cache: Path
) -> None:
    model = own_cache / int8.model_path.name
    sidecar = own_cache / f"{model.name}.json"
    source = onnx_model.source_sha256(package_model_dir())
    assert onnx_model.is_current(model, source)
    assert not onnx_model.is_current(model, "0" * 64)  # other weights or tokenizer
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "builder_version": onnx_model.BUILDER_VERSION - 1}))
    assert not onnx_model.is_current(model, source)
    sidecar.write_text(json.dumps(meta))
    with open(model, "r+b") as stream:
        stream.truncate(1000)
    assert not onnx_model.is_current(model, source)
    sidecar.unlink()
    assert not onnx_model.is_current(model, source)


def test_an_unusable_cache_folder_is_a_one_line_error(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    with pytest.raises(EmbeddingModelError) as error:
        Embedder.load(not_a_folder, device="cpu")
    assert "\n" not in str(error.value) and str(not_a_folder) in str(error.value)


@pytest.mark.slow
def test_building_and_serving_never_import_torch(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path\n"
        "for name in ('torch', 'sentence_transformers', 'transformers'): sys.modules[name] = None\n"
        "from paperboard.index.embed import Embedder\n"
        "e = Embedder.load(Path(sys.argv[1]), device='cpu')\n"
        "assert e.rebuilt and e.embed(['a paper']).shape == (1, 384)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "models")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
