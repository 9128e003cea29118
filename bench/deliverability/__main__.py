"""How the emails and pages fare under tools nobody here wrote; prints Markdown tables.

    bash .ci/install-checkers --bench       # once: rspamd, Lighthouse, axe-core, caniemail
    .venv/bin/python -m bench.deliverability

Every email kind is sent through the real pipeline with production-like settings
(tests/deliverability/mailings.py) and every page is visited from the emails' links
(tests/deliverability/pages.py), on loopback only. Then: SpamAssassin (spamd -L) and
rspamd (with SPF, DKIM and DMARC records served by a local DNS server) on each email, as
sent through a relay with and without reverse DNS; caniemail's support data on the digest
and the confirmation; the W3C Nu checker and axe-core on every email and page; Lighthouse
on the landing, a preferences and an archive day page.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.deliverability import axe, caniemail, lighthouse
from bench.deliverability.rspamd import running_rspamd
from bench.deliverability.site import Site, serve
from bench.support import free_port
from tests.deliverability.nu import check_html
from tests.deliverability.spamassassin import relayed, running_spamd
from tests.render.factories import dkim_test_key

LIGHTHOUSE_PAGES = ("landing", "preferences", "archive-day")
CANIEMAIL_EMAILS = ("digest-10", "confirm")


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _with_clean_rows_folded(rows: list[list[str]]) -> list[list[str]]:
    """Rows with a count of 0 (second cell) folded into one that names them."""
    clean = [row[0] for row in rows if row[1] == "0"]
    kept = [row for row in rows if row[1] != "0"]
    if clean:
        kept.append([f"{len(clean)} others: {', '.join(clean)}", "0", ""])
    return kept


def _size(site: Site) -> str:
    rows = [[kind, f"{len(c.data):,}", f"{len(c.html_bytes()):,}"] for kind, c in site.mail.items()]
    return table(["email", "message bytes", "HTML part bytes"], rows)


def _spamassassin(site: Site, folder: Path) -> str:
    rows = []
    with running_spamd(free_port(), folder / "spamd.log") as spamd:
        for kind, c in site.mail.items():
            alone = spamd.check(c.data)
            named = spamd.check(relayed(c.data, c.mail_from, c.rcpt_tos[0], rdns=True))
            unnamed = spamd.check(relayed(c.data, c.mail_from, c.rcpt_tos[0], rdns=False))
            added = sorted(set(unnamed.rules) - set(named.rules))
            rows.append(
                [kind, f"{alone.score:+.3f}", alone.describe().split(" (", 1)[1].rstrip(")"),
                 f"{named.score:+.3f}", f"{unnamed.score:+.3f}", ", ".join(added)]
            )  # fmt: skip
    return table(
        ["email", "as sent", "rules as sent", "relay with rDNS", "relay without rDNS",
         "rules the relay without rDNS adds"],
        rows,
    )  # fmt: skip


def _rspamd(site: Site, folder: Path) -> str:
    rows = []
    ports = {"normal": free_port(), "controller": free_port(), "proxy": free_port()}
    with running_rspamd(folder, ports, dkim_test_key().record) as rspamd:
        for kind, c in site.mail.items():
            named = rspamd.check(c.data, c.mail_from, c.rcpt_tos[0], rdns=True)
            unnamed = rspamd.check(c.data, c.mail_from, c.rcpt_tos[0], rdns=False)
            added = sorted(set(unnamed.symbols) - set(named.symbols))
            rows.append(
                [kind, named.action, f"{named.score:+.2f}", named.describe(),
                 unnamed.action, f"{unnamed.score:+.2f}", ", ".join(added)]
            )  # fmt: skip
    return table(
        ["email", "action", "score", "symbols with a score", "without rDNS: action",
         "score", "symbols added"],
        rows,
    )  # fmt: skip


def _caniemail(site: Site, folder: Path) -> str:
    html = {kind: site.mail[kind].html_bytes() for kind in CANIEMAIL_EMAILS}
    found = caniemail.support(html, folder)
    rows = []
    for family in caniemail.CLIENTS:
        row = [family]
        for kind in CANIEMAIL_EMAILS:
            unsupported, partial = found[kind][family]
            row += [", ".join(unsupported) or "none", ", ".join(partial) or "none"]
        rows.append(row)
    header = ["client"]
    for kind in CANIEMAIL_EMAILS:
        header += [f"{kind}: not supported", f"{kind}: partly"]
    return table(header, rows)


def _nu(site: Site, folder: Path) -> str:
    documents = {f"{kind} email": c.html_bytes() for kind, c in site.mail.items()}
    documents |= {f"{name} page": page.html.encode() for name, page in site.pages.items()}
    problems = check_html(documents, folder)
    rows = []
    for document in documents:
        mine = [p for p in problems if p.document == document]
        messages = sorted({p.message for p in mine})
        rows.append([document, str(len(mine)), "; ".join(messages)])
    return table(["document", "errors", "distinct messages"], _with_clean_rows_folded(rows))


def _axe(site: Site) -> str:
    rows = []
    with axe.chromium() as browser:
        for kind, c in site.mail.items():
            for width in (600, 375):
                found = axe.check_html(browser, c.part("html"), width)
                rows.append([f"{kind} email at {width} px", str(len(found)), ", ".join(found)])
        for name, page in site.pages.items():
            if page.method == "GET":
                found = axe.check_url(browser, site.url + page.path)
            else:
                found = axe.check_captured(browser, site.url, page.html)
            rows.append([f"{name} page ({page.status})", str(len(found)), ", ".join(found)])
    return table(["document", "violations", "rules (elements)"], _with_clean_rows_folded(rows))


def _lighthouse(site: Site) -> str:
    rows = []
    for name in LIGHTHOUSE_PAGES:
        scores = lighthouse.audit(site.url + site.pages[name].path)
        rows.append(
            [name, *(str(scores.categories[c]) for c in lighthouse.CATEGORIES),
             str(scores.seo_if_indexable), ", ".join(scores.failing)]
        )  # fmt: skip
    header = ["page", *lighthouse.CATEGORIES, "seo without is-crawlable", "audits not passed"]
    return table(header, rows)


SECTIONS = ("size", "spamassassin", "rspamd", "caniemail", "nu", "axe", "lighthouse")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    chosen = parser.parse_args().only
    with tempfile.TemporaryDirectory(prefix="bench-deliverability-") as tmp:
        folder = Path(tmp)
        (folder / "site").mkdir()
        with serve(folder / "site", dkim_test_key()) as site:
            makers = {
                "size": lambda: _size(site),
                "spamassassin": lambda: _spamassassin(site, folder),
                "rspamd": lambda: _rspamd(site, folder / "rspamd"),
                "caniemail": lambda: _caniemail(site, folder / "caniemail"),
                "nu": lambda: _nu(site, folder / "nu"),
                "axe": lambda: _axe(site),
                "lighthouse": lambda: _lighthouse(site),
            }
            for name in chosen:
                started = time.monotonic()
                text = makers[name]()
                print(f"\n### {name} ({time.monotonic() - started:.0f} s)\n\n{text}", flush=True)


if __name__ == "__main__":
    main()
