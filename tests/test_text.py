"""Titles and abstracts as a reader sees them: LaTeX made readable, formulas left whole."""

from __future__ import annotations

import pytest

from digest.text import html_to_text, readable


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Attention\n   Is All\tYou Need ", "Attention Is All You Need"),
        ("$\\alpha$-Divergence Bounds", "\u03b1-Divergence Bounds"),
        ("The $k$-Means of $L_2$ and $x^2$", "The k-Means of L\u2082 and x\u00b2"),
        ("An $O(n \\log n)$ Sort", "An $O(n \\log n)$ Sort"),  # too rich: kept as written
        ("\\emph{Fast} and \\textbf{Exact}", "Fast and Exact"),
        (
            "Schr\\\"odinger Bridges, Caf\\'e and Gar\\c{c}on",
            "Schr\u00f6dinger Bridges, Caf\u00e9 and Gar\u00e7on",
        ),
        ("50\\% Fewer \\& Better", "50% Fewer & Better"),
        ("Pages 1--10 --- or ``more''", "Pages 1\u201310 \u2014 or \u201cmore\u201d"),
        ("It costs $5 and $10 now", "It costs $5 and $10 now"),  # money, not math
    ],
)
def test_readable(raw: str, shown: str) -> None:
    assert readable(raw) == shown


def test_html_to_text_keeps_comparisons_and_drops_tags() -> None:
    assert html_to_text("<p>We show $x &lt; y$ and <b>more</b>.</p>") == "We show $x < y$ and more."
