"""Tokenisation: hyphenated phrases and acronyms a reader types meet the abstract's words."""

from __future__ import annotations

import pytest

from digest.papers import PaperText
from digest.rank.features import Follows, matched_follows, paper_features, topic_features, words


def _shares(topic: str, text: str) -> set[str]:
    return set(topic_features(topic)) & set(paper_features(PaperText(text)))


def test_a_hyphenated_word_gives_its_parts() -> None:
    assert words("Multi-Agent text-to-image") == ["multi", "agent", "text", "image"]


@pytest.mark.parametrize(
    ("topic", "text", "shared"),
    [
        ("multi-agent", "A multi agent system", "multi agent"),
        ("multi-agent", "Multiagent debate", "multiagent"),
        ("multi agent", "Multi-agent debate", "multi agent"),
        ("multi agent", "Multiagent debate", "multiagent"),
        ("multiagent", "Multi-agent debate", "multiagent"),
        ("text-to-image", "Text to image synthesis", "text image"),
        ("vision-language", "Vision language models", "vision language"),
        ("vision language", "Vision-language models", "visionlanguage"),
    ],
)
def test_hyphenated_phrases_match_as_the_phrase_and_as_parts(
    topic: str, text: str, shared: str
) -> None:
    assert shared in _shares(topic, text)


@pytest.mark.parametrize(
    ("acronym", "text", "shared"),
    [
        ("VLM", "Large vision-language models see", "vision language"),
        ("VLMs", "Large vision-language models see", "vision language"),
        ("MLLM", "Multimodal large language models", "multimodal large"),
        ("LLM", "Large language models reason", "large language"),
        ("RL", "Reinforcement learning for math", "reinforcement learning"),
        ("RLHF", "Reinforcement learning from human feedback", "human feedback"),
    ],
)
def test_acronyms_match_their_expansion(acronym: str, text: str, shared: str) -> None:
    assert shared in _shares(acronym, text)


def test_acronyms_do_not_match_a_lone_generic_word() -> None:
    assert "model" not in topic_features("VLM")


def test_agentic_meets_agents() -> None:
    assert "agent" in _shares("agentic", "Web agents that browse")


def test_the_why_line_names_a_hyphenated_follow_matched_another_way() -> None:
    features = paper_features(PaperText("Multiagent debate", "Agents argue."))
    assert matched_follows(Follows(topics=["multi-agent", "robots"]), features) == ["'multi-agent'"]
