"""SpamAssassin judges every email kind as sent: nothing in our mail counts against it, and
a relay without reverse DNS costs only the rule about the relay.

A mail filter sums the points of the rules a message hits; 5 is spam by default, and many
providers file mail lower than that in the spam folder. An email that scores above zero on
its own content starts each delivery with a handicap that a self-hosted server's missing
reverse DNS (RDNS_NONE, 2.4 points) can push over the edge: such content rules are named
…_NORDNS because they fire only then.
"""

from __future__ import annotations

from tests.deliverability.mailings import Caught
from tests.deliverability.spamassassin import ABOUT_RECEIVED_HEADERS, Spamd, Verdict, relayed


def _table(verdicts: dict[str, Verdict]) -> str:
    return "\n".join(f"  {kind}: {verdict.describe()}" for kind, verdict in verdicts.items())


def test_every_email_kind_scores_at_most_zero_as_sent(
    mailings: dict[str, Caught], spamd: Spamd
) -> None:
    verdicts = {kind: spamd.check(caught.data) for kind, caught in mailings.items()}
    over = {kind: verdict for kind, verdict in verdicts.items() if verdict.score > 0}
    assert not over, f"SpamAssassin scores above 0 (rules hit):\n{_table(over)}"


def test_a_relay_without_reverse_dns_adds_only_rdns_none(
    mailings: dict[str, Caught], spamd: Spamd
) -> None:
    problems: dict[str, str] = {}
    for kind, caught in mailings.items():
        recipient = caught.rcpt_tos[0]
        named = spamd.check(relayed(caught.data, caught.mail_from, recipient, rdns=True))
        unnamed = spamd.check(relayed(caught.data, caught.mail_from, recipient, rdns=False))
        alone = spamd.check(caught.data)
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
