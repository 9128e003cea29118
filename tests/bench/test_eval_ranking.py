"""The offline ranking evaluation: metrics, file format, simulator, a tiny end-to-end run."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from bench.eval.data import (
    EvalFormatError,
    EvalPaper,
    EvalSubscriber,
    Rating,
    load_papers,
    load_subscribers,
    load_typed_follows,
    paper_record,
    subscriber_record,
    write_lines,
)
from bench.eval.methods import (
    CachedEmbedder,
    MethodOptions,
    build_digest_pool,
    embedding_rocchio,
    follows_of,
    hybrid_rocchio,
)
from bench.eval.metrics import (
    best_match_recall,
    ndcg_at,
    precision_at,
    theme_grade,
    trend_grades,
)
from bench.eval.simulate import (
    BROAD_FOLLOWS,
    TYPED_FOLLOWS,
    make_split,
    synthetic_papers,
    typed_follows,
)
from bench.eval_ranking import evaluate, main, run
from digest.papers import PaperText
from digest.rank.pool import PoolPaper
from tests.rank.support_embed import WordHashEmbedder


def _paper(paper_id: str, themes: tuple[str, ...], **changes: object) -> EvalPaper:
    fields: dict[str, object] = {
        "id": paper_id,
        "title": f"Paper {paper_id}",
        "abstract": "An abstract.",
        "authors": ("Ada Lovelace",),
        "themes": themes,
    }
    fields.update(changes)
    return EvalPaper(**fields)  # type: ignore[arg-type]


def test_precision_counts_empty_slots_of_a_short_edition_as_misses() -> None:
    grades = {"a": 2, "b": 0, "c": 1, "d": 3}
    assert precision_at(["a", "b", "c"], grades, k=4) == pytest.approx(2 / 4)
    assert precision_at(["b"], grades, k=1) == 0.0
    assert precision_at(["a", "c", "d", "b"], grades, k=3) == 1.0


def test_ndcg_is_one_for_the_ideal_order_and_less_for_any_other() -> None:
    grades = {"a": 3, "b": 2, "c": 0, "d": 1}
    assert ndcg_at(["a", "b", "d"], grades, k=3) == pytest.approx(1.0)
    worse = ndcg_at(["d", "b", "a"], grades, k=3)
    ideal = 3 + 2 / 1.584962500721156 + 1 / 2
    assert worse == pytest.approx((1 + 2 / 1.584962500721156 + 3 / 2) / ideal)
    assert ndcg_at(["c"], grades, k=3) == 0.0
    assert ndcg_at(["a"], {"a": 0}, k=3) == 0.0


def test_best_match_recall_is_the_share_of_top_graded_papers_in_the_edition() -> None:
    assert best_match_recall(["b", "a"], {"a": 3, "b": 2}, k=2) == 1.0
    assert best_match_recall(["b", "c"], {"a": 3, "b": 2, "c": 1}, k=2) == 0.0
    assert best_match_recall(["a", "x"], {"a": 2, "b": 2, "c": 2}, k=2) == pytest.approx(0.5)
    assert best_match_recall(["a"], {"a": 0}, k=2) == 0.0


def test_grades_weigh_the_main_theme_over_the_others() -> None:
    paper = _paper("p", ("AGENT", "REASON", "CODE"))
    assert theme_grade(paper, ["AGENT"]) == 2
    assert theme_grade(paper, ["CODE"]) == 1
    assert theme_grade(paper, ["AGENT", "REASON"]) == 3
    assert theme_grade(paper, ["GEN"]) == 0
    day2 = [_paper(str(i), ("ML",)) for i in range(12)]
    grades = trend_grades(day2)
    assert [grades[str(i)] for i in range(10)] == [3, 2, 2, 1, 1, 1, 1, 1, 1, 1]
    assert "10" not in grades


def test_files_round_trip(tmp_path: Path) -> None:
    papers = [
        _paper("p1", ("VLM", "GEN"), day=1, upvotes=5, categories=("cs.CV",), keywords=("vlm",)),
        _paper("p2", ("AGENT",), day=2, upvotes=None, authors=()),
    ]
    subscribers = [
        EvalSubscriber("s1", ("multi-agent", "cat:cs.CV"), (Rating("p1", False),), ("AGENT",)),
        EvalSubscriber("s2", (), (), ("VLM", "GEN")),
    ]
    write_lines(tmp_path / "papers.jsonl", map(paper_record, papers))
    write_lines(tmp_path / "subscribers.jsonl", map(subscriber_record, subscribers))
    loaded = load_papers(tmp_path / "papers.jsonl")
    assert loaded == papers
    assert load_subscribers(tmp_path / "subscribers.jsonl", loaded) == subscribers
    assert [s.group for s in subscribers] == ["both", "neither"]
    follows = follows_of(subscribers[0])
    assert (follows.topics, follows.categories) == (("multi-agent",), ("cs.CV",))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "papers.jsonl:2: not JSON"),
        ("[1, 2]", "papers.jsonl:2: expected a JSON object"),
        ('{"id": "x", "abstract": "", "themes": ["ML"]}', "papers.jsonl:2: `title` must be"),
        ('{"id": "x", "title": "T", "themes": []}', "papers.jsonl:2: `themes` must not be"),
        ('{"id": "x", "title": "T", "themes": ["ML"], "upvotes": -1}', ":2: `upvotes` must be"),
        ('{"id": "x", "title": "T", "themes": ["ML"], "day": 3}', ":2: `day` must be 1"),
        ('{"id": "a", "title": "T", "themes": ["ML"]}', ":2: paper id 'a' appears twice"),
    ],
)
def test_a_malformed_paper_line_is_named(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "papers.jsonl"
    path.write_text('{"id": "a", "title": "T", "themes": ["ML"]}\n' + line + "\n")
    with pytest.raises(EvalFormatError) as caught:
        load_papers(path)
    assert message in str(caught.value)


def test_a_rating_must_name_a_day_one_paper(tmp_path: Path) -> None:
    papers = [_paper("p1", ("ML",), day=1), _paper("p2", ("ML",), day=2)]
    path = tmp_path / "subscribers.jsonl"
    path.write_text('{"id": "s", "themes": ["ML"], "ratings": [{"paper": "p2", "vote": "up"}]}\n')
    with pytest.raises(EvalFormatError, match=r":1: rating of 'p2', which is no day-1 paper"):
        load_subscribers(path, papers)
    path.write_text('{"id": "s", "themes": ["ML"], "ratings": [{"paper": "p1", "vote": "meh"}]}')
    with pytest.raises(EvalFormatError, match="each rating must be"):
        load_subscribers(path, papers)


def test_the_command_reports_a_bad_file_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "papers.jsonl"
    path.write_text('{"id": 7}\n')
    assert main(["--papers", str(path)]) == 2
    assert "papers.jsonl:1: `id` must be a non-empty string" in capsys.readouterr().err
    assert main(["--papers", str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read it" in capsys.readouterr().err
    assert main(["--set", "relevance_weight=lots"]) == 2
    assert "'lots' is not a float" in capsys.readouterr().err


def test_the_simulator_is_deterministic_for_a_seed() -> None:
    papers = synthetic_papers(40, random.Random(1))
    assert papers == synthetic_papers(40, random.Random(1))
    no_counts = [EvalPaper(**{**p.__dict__, "upvotes": None}) for p in papers]
    first = make_split(no_counts, None, 30, random.Random("0/0"))
    again = make_split(no_counts, None, 30, random.Random("0/0"))
    other = make_split(no_counts, None, 30, random.Random("0/1"))
    assert first == again
    assert first != other
    assert all(p.upvotes is not None for p in first.papers)
    assert {p.day for p in first.day1} == {1} and {p.day for p in first.day2} == {2}
    upvotes = [p.upvotes or 0 for p in first.day2]
    assert upvotes == sorted(upvotes, reverse=True)
    assert {s.group for s in first.subscribers} >= {"follows", "ratings", "both"}


def test_typed_follows_come_from_the_themes_lists() -> None:
    rng = random.Random(3)
    for _ in range(50):
        typed = typed_follows(["AGENT"], rng)
        assert 1 <= len(typed) <= 3
        assert any(
            t.lower().replace("-", "").replace(" ", "")
            in {p.lower().replace("-", "").replace(" ", "") for p in TYPED_FOLLOWS["AGENT"]}
            for t in typed
        )


def test_the_adapter_drops_options_the_pool_does_not_take() -> None:
    pool = build_digest_pool([PoolPaper(1, PaperText("A paper"), 1.0)], no_such_option=1)
    assert len(pool) == 1


def test_a_tiny_synthetic_run_end_to_end() -> None:
    output = run(
        ["--splits", "2", "--per-split", "30", "--synthetic-papers", "50", "--json", "--jobs", "1"]
    )
    report = json.loads(output)
    assert set(report["results"]) == {"trending", "svm", "rocchio", "hybrid", "digest"}
    for groups in report["results"].values():
        for group, metrics in groups.items():
            assert set(metrics) == {"precision", "ndcg", "best", "length"}
            if report["subscribers"][group]:
                assert 0.0 <= metrics["precision"]["mean"] <= 1.0
    assert report["results"]["trending"]["neither"]["precision"]["mean"] == 1.0
    assert set(report["breakdowns"]) == {"follow", "theme"}
    best_of = ("svm", "rocchio", "hybrid")
    for group in ("all", "follows", "ratings", "both"):
        best = report["best_baseline"][group]
        assert best["method"] in {"svm", "rocchio", "hybrid"}
        baseline = report["results"][best["method"]][group]["precision"]["mean"]
        results = report["results"]
        assert max(results[m][group]["precision"]["mean"] for m in best_of) == baseline
        ours = report["results"]["digest"][group]["precision"]["mean"]
        assert best["ratio"] == pytest.approx(ours / baseline, abs=1e-4)
    table = run(["--splits", "1", "--per-split", "20", "--synthetic-papers", "40", "--by", "theme"])
    assert "follows (" in table and "digest (personalize)" in table
    assert "MiniLM Rocchio" in table and "tf-idf + MiniLM Rocchio, max-scaled" in table
    assert "digest / best baseline, P@10: all " in table
    assert "by theme" in table


def test_a_saved_split_evaluates_the_same_from_its_files(tmp_path: Path) -> None:
    papers = synthetic_papers(50, random.Random(5))
    simulated = evaluate(papers, splits=1, per_split=40, seed=2, save=tmp_path)
    saved_papers = load_papers(tmp_path / "split-01" / "papers.jsonl")
    saved = load_subscribers(tmp_path / "split-01" / "subscribers.jsonl", saved_papers)
    again = evaluate(saved_papers, saved, seed=9)
    assert again.results == simulated.results


def test_splits_give_the_same_figures_in_one_process_or_two() -> None:
    papers = synthetic_papers(40, random.Random(6))
    alone = evaluate(papers, splits=2, per_split=20, seed=4, methods=["trending", "digest"])
    shared = evaluate(
        papers, splits=2, per_split=20, seed=4, methods=["trending", "digest"], jobs=2
    )
    assert alone.results == shared.results


def test_other_phrasings_can_be_simulated_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "typed.json"
    path.write_text(json.dumps({"AGENT": ["zzagent"], "GEN": ["zzgen"]}))
    typed = load_typed_follows(path)
    papers = synthetic_papers(60, random.Random(2))
    split = make_split(papers, None, 40, random.Random(1), typed)
    assert {t for s in split.subscribers for t in s.themes} <= {"AGENT", "GEN"}
    phrases = {f.lower() for s in split.subscribers for f in s.follows}
    assert phrases and phrases <= {"zzagent", "zzgen"} | {b.lower() for b in BROAD_FOLLOWS}
    path.write_text('{"AGENT": []}')
    with pytest.raises(EvalFormatError, match="non-empty lists"):
        load_typed_follows(path)


def test_the_rocchio_baselines_rank_by_what_a_subscriber_follows_and_rated() -> None:
    papers = [
        _paper("a1", ("AGENT",), day=1, title="Web agents that browse", upvotes=1),
        _paper("g1", ("GEN",), day=1, title="Diffusion for images", upvotes=1),
        _paper("a2", ("AGENT",), day=2, title="Agents that browse the web", upvotes=1),
        _paper("g2", ("GEN",), day=2, title="Image diffusion models", upvotes=9),
        _paper("o2", ("ML",), day=2, title="Kernel methods", upvotes=5),
    ]
    subscribers = [
        EvalSubscriber("follows", ("diffusion",), (), ("GEN",)),
        EvalSubscriber("rates", (), (Rating("a1", True), Rating("g1", False)), ("AGENT",)),
        EvalSubscriber("neither", (), (), ("ML",)),
    ]
    split = make_split(papers, subscribers, 0, random.Random(0))
    options = MethodOptions(size=1, pool_options={"embedder": WordHashEmbedder(64)})
    for method in (embedding_rocchio, hybrid_rocchio):
        assert method(split, options) == [["g2"], ["a2"], ["g2"]]  # neither: the trend


def test_embeddings_are_kept_on_disk_between_runs(tmp_path: Path) -> None:
    model = WordHashEmbedder()
    first = CachedEmbedder(model, tmp_path / "vectors.npz")
    vectors = first.encode(["agents that browse", "image diffusion"])
    calls = len(model.calls)
    again = CachedEmbedder(lambda: None, tmp_path / "vectors.npz")  # no model at all
    assert np.array_equal(again.encode(["image diffusion", "agents that browse"]), vectors[::-1])
    assert again.dimensions == model.dimensions and len(model.calls) == calls
    (tmp_path / "vectors.npz").write_bytes(b"not numpy")
    assert CachedEmbedder(model, tmp_path / "vectors.npz").encode(["x"]).shape == (1, 16)


def test_a_half_of_the_papers_is_evaluated_alone(tmp_path: Path) -> None:
    path = tmp_path / "papers.jsonl"
    papers = synthetic_papers(60, random.Random(8))
    write_lines(path, map(paper_record, papers))
    halves = [
        json.loads(run(["--papers", str(path), "--half", h, "--splits", "1", "--per-split", "10",
                        "--method", "trending", "--json", "--jobs", "1"]))
        for h in ("1", "2")
    ]  # fmt: skip
    assert sorted(h["papers"] for h in halves) != [60, 60]
    assert sum(h["papers"] for h in halves) == 60
