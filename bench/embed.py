"""Embedding benchmark: abstracts per second and query latency, torch against ONNX Runtime.

Embeds ~500 real abstracts ("title. abstract", every 80th record of
``../shared/data/arxiv-2025.jsonl.gz``) at max_length 128 and 256 with:

- torch: sentence-transformers on CPU (the reference; serving never uses it);
- ONNX fp32 and ONNX int8: ``paperboard.index.embed.Embedder`` (one text per call, one worker
  thread per core, single-threaded kernels);
- ONNX int8 batched: the same int8 model run the usual way, sorted padded batches of 32 in one
  session with intra-op threads = cores (kept to show why the embedder does not).

Then the facet vectors of the same abstracts (each sentence embedded, tagged and averaged per
role, as ``paperboard index`` does after the paper vectors), query latency (p50/p95 over 200 short
queries, ``embed_query``), and the cosine of the int8 vectors to the fp32 and torch ones. Prints
markdown tables.

Other work on the machine skews wall-clock figures, so the load average is printed, and each
throughput is also given as "CPU-bound": abstracts per CPU-second of this process times the cores,
what an idle machine would do if every configuration kept all cores busy (threads that spin
while waiting count as busy, as they would on an idle machine).

    python bench/embed.py                # 500 abstracts
    python bench/embed.py --count 200 --repeat 3
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from paperboard.index import embed as embed_module
from paperboard.index.embed import Embedder, cpu_count, paper_text

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data" / "arxiv-2025.jsonl.gz"
LENGTHS = (128, 256)
Runner = Callable[[Sequence[str], int], np.ndarray]  # (texts, max_length) -> vectors


def load_papers(count: int, stride: int = 80) -> tuple[list[str], list[str]]:
    """``count`` paper texts, and short queries made of the first words of their titles."""
    texts, queries = [], []
    with gzip.open(REAL, "rt", encoding="utf-8") as stream:
        for number, line in enumerate(stream):
            if number % stride or len(texts) >= count:
                continue
            record = json.loads(line)
            texts.append(paper_text(record.get("title"), record.get("abstract")))
            queries.append(" ".join((record.get("title") or "").split()[:4]))
    return texts, queries


def best_time(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    """The shortest wall-clock and the shortest CPU time (all threads) of ``repeat`` runs."""
    wall, cpu = [], []
    for _ in range(repeat):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - wall_start)
        cpu.append(time.process_time() - cpu_start)
    return min(wall), min(cpu)


def batched_intra_op(embedder: Embedder, texts: Sequence[str], max_length: int) -> np.ndarray:
    """Sorted, padded batches of 32 through one session with intra-op threads = cores."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = cpu_count()
    session = ort.InferenceSession(
        str(embedder.model_path), options, providers=["CPUExecutionProvider"]
    )
    sequences = embedder._tokenize(list(texts), max_length)
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    for start in range(0, len(order), 32):
        rows = order[start : start + 32]
        ids, mask = embed_module._pad([sequences[i] for i in rows])
        out[rows] = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    return out


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.95)]


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="abstracts to embed")
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure (best is kept)")
    parser.add_argument("--no-torch", action="store_true", help="skip sentence-transformers")
    args = parser.parse_args()

    texts, queries = load_papers(args.count)
    print(f"{len(texts)} abstracts, {cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        int8 = Embedder.load(Path(cache), device="cpu")
        built_int8 = time.perf_counter() - started
        started = time.perf_counter()
        fp32 = Embedder.load(Path(cache), quantized=False, device="cpu")
        built_fp32 = time.perf_counter() - started
        print(f"model build: int8 {built_int8:.1f} s, fp32 {built_fp32:.1f} s")

        torch_model = None
        if not args.no_torch:
            import torch
            from sentence_transformers import SentenceTransformer

            torch.set_num_threads(cpu_count())
            torch_model = SentenceTransformer(str(embed_module.package_model_dir()), device="cpu")

        throughput: dict[str, dict[int, float]] = {}
        cpu_bound: dict[str, dict[int, float]] = {}
        vectors: dict[tuple[str, int], np.ndarray] = {}
        runners: dict[str, Runner] = {
            "ONNX int8": lambda batch, n: int8.embed(batch, max_length=n),
            "ONNX fp32": lambda batch, n: fp32.embed(batch, max_length=n),
            "ONNX int8, batches of 32, intra-op threads": (
                lambda batch, n: batched_intra_op(int8, batch, n)
            ),
        }
        if torch_model is not None:

            def run_torch(batch: Sequence[str], n: int) -> np.ndarray:
                torch_model.max_seq_length = n
                return torch_model.encode(list(batch), batch_size=32, convert_to_numpy=True)

            runners["torch (sentence-transformers)"] = run_torch
        for label, run in runners.items():
            for length in LENGTHS:
                run(texts[:16], length)  # warm-up

                def timed(run: Runner = run, label: str = label, n: int = length) -> None:
                    vectors[label, n] = run(texts, n)

                wall, cpu = best_time(timed, args.repeat)
                throughput.setdefault(label, {})[length] = len(texts) / wall
                cpu_bound.setdefault(label, {})[length] = len(texts) * cpu_count() / cpu
                print(
                    f"  {label} @ {length}: {len(texts) / wall:.1f} abstracts/s,"
                    f" CPU-bound {len(texts) * cpu_count() / cpu:.1f}",
                    flush=True,
                )

        # Facets (paperboard index does this after the paper vectors): every sentence embedded
        # on its own, tagged and averaged per role.
        from paperboard.index.facets import facet_vectors

        facet_vectors(int8, texts[:16])  # warm-up
        wall, cpu = best_time(lambda: facet_vectors(int8, texts), args.repeat)
        facet_speed = (len(texts) / wall, len(texts) * cpu_count() / cpu)
        print(
            f"  facets (ONNX int8, sentences): {facet_speed[0]:.1f} abstracts/s,"
            f" CPU-bound {facet_speed[1]:.1f}",
            flush=True,
        )

        latency: dict[str, tuple[float, float]] = {}
        query_runners: dict[str, Callable[[str], object]] = {
            "ONNX int8": int8.embed_query,
            "ONNX fp32": fp32.embed_query,
        }
        if torch_model is not None:
            torch_model.max_seq_length = 64
            query_runners["torch (sentence-transformers)"] = lambda q: torch_model.encode([q])
        for label, run_query in query_runners.items():
            for query in queries[:20]:
                run_query(query)
            samples = []
            for query in queries[:200]:
                started = time.perf_counter()
                run_query(query)
                samples.append((time.perf_counter() - started) * 1000)
            latency[label] = percentiles(samples)

    print(f"\nload average after: {os.getloadavg()[0]:.2f}\n")
    print(
        "| model | abstracts/s @128 | @256 | CPU-bound abstracts/s @128 | @256"
        " | query p50 ms | query p95 ms |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, figures in throughput.items():
        bound = cpu_bound[label]
        p50, p95 = latency.get(label, (float("nan"), float("nan")))
        print(
            f"| {label} | {figures[128]:.1f} | {figures[256]:.1f} | {bound[128]:.1f}"
            f" | {bound[256]:.1f} | {p50:.1f} | {p95:.1f} |"
        )
    print(
        f"| facets: ONNX int8, each sentence (≤ 96 tokens) | {facet_speed[0]:.1f} | | "
        f"{facet_speed[1]:.1f} | | | |"
    )
    if "torch (sentence-transformers)" in throughput:
        for title, table in (("wall clock", throughput), ("CPU-bound", cpu_bound)):
            torch_speed, int8_speed = table["torch (sentence-transformers)"], table["ONNX int8"]
            ratios = ", ".join(f"{int8_speed[n] / torch_speed[n]:.1f}x @{n}" for n in LENGTHS)
            print(f"ONNX int8 against torch ({title}): {ratios}")
    print("\n| cosine | mean @128 | min @128 | mean @256 | min @256 |")
    print("| --- | ---: | ---: | ---: | ---: |")
    pairs = [("int8 vs fp32", "ONNX int8", "ONNX fp32")]
    if torch_model is not None:
        pairs += [
            ("int8 vs torch", "ONNX int8", "torch (sentence-transformers)"),
            ("fp32 vs torch", "ONNX fp32", "torch (sentence-transformers)"),
        ]
    for label, a, b in pairs:
        cells = []
        for length in LENGTHS:
            cos = row_cosines(vectors[a, length], vectors[b, length])
            cells += [f"{cos.mean():.4f}", f"{cos.min():.4f}"]
        print(f"| {label} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
