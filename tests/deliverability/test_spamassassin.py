"""SpamAssassin judges every email kind as sent: nothing in our mail counts against it, and
a relay without reverse DNS costs only the rule about the relay.

A mail filter sums the points of the rules a message hits; 5 is spam by default, and many
providers file mail lower than that in the spam folder. An email that scores above zero on
its own content starts each delivery with a handicap that a self-hosted server's missing
reverse DNS (RDNS_NONE, 2.4 points) can push over the edge: such content rules are named
…_NORDNS because they fire only then.
"""

from __future__ import annotations

from tests.deliverability.conftest import RELAYS
from tests.deliverability.spamassassin import ABOUT_RECEIVED_HEADERS, Verdict

AS_SENT, WITH_RDNS, WITHOUT_RDNS = RELAYS


def test_every_email_kind_scores_at_most_zero_as_sent(
    spam_verdicts: dict[str, dict[str, Verdict]],
) -> None:
    over = {
        kind: found[AS_SENT].describe()
        for kind, found in spam_verdicts.items()
        if found[AS_SENT].score > 0
    }
    report = "\n".join(f"  {kind}: {text}" for kind, text in over.items())
    assert not over, f"SpamAssassin scores above 0 (rules hit):\n{report}"


def test_a_relay_without_reverse_dns_adds_only_rdns_none(
    spam_verdicts: dict[str, dict[str, Verdict]],
) -> None:
    problems: dict[str, str] = {}
    for kind, found in spam_verdicts.items():
        alone, named, unnamed = found[AS_SENT], found[WITH_RDNS], found[WITHOUT_RDNS]
        gained = set(unnamed.rules) - set(named.rules)
        lost = set(named.rules) - set(unnamed.rules)
        if gained != {"RDNS_NONE"} or lost:
            problems[kind] = (
                f"gained {sorted(gained)}, lost {sorted(lost)}; "
                f"with reverse DNS {named.describe()}; without {unnamed.describe()}"
            )
        # A relay with reverse DNS, as a well-run server has, changes nothing about content.
        changed = set(named.rules) ^ set(alone.rules)
        if changed - ABOUT_RECEIVED_HEADERS:
            problems[f"{kind} (relay with reverse DNS)"] = (
                f"rules changed: {sorted(changed)}; as sent {alone.describe()}, "
                f"relayed {named.describe()}"
            )
    report = "\n".join(f"  {kind}: {text}" for kind, text in problems.items())
    assert not problems, f"rules a relay without reverse DNS adds beyond RDNS_NONE:\n{report}"
