"""`digest bounces import` of messages built to cost CPU: quick, and the genuine report
among them is still applied."""

from __future__ import annotations

import resource
import time
from pathlib import Path

from digest.store.models import SubscriberState
from tests.conftest import run_digest as run
from tests.mail.reports import arf, filed, make_maildir, multipart_dsn
from tests.mail.test_bounce_cost import MIB, in_status_part
from tests.pipeline.sent_by_cli import send_sample_edition, subscriber_states

# CPU seconds of the whole import process, its start (~1 s of imports) included; the five
# messages below took 5-20 s before report parsing was bounded.
IMPORT_CPU_BUDGET = 3.0


def costly_messages() -> list[bytes]:
    """Five reports of a megabyte of continuation lines or of To: addresses each."""
    continuation = b" x\r\n" * (MIB // 4)
    return [
        in_status_part("message/feedback-report")(continuation),
        in_status_part("text/delivery-status")(continuation),
        in_status_part("message/global-delivery-status")(continuation),
        in_status_part("message/delivery-status")(continuation),
        arf(original_to="someone@example.net, " * (MIB // 21)),
    ]


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def test_costly_reports_are_imported_quickly_and_the_genuine_one_is_applied(
    tmp_path: Path,
) -> None:
    env, sent = send_sample_edition(tmp_path, "gone@example.com", "stays@example.com")
    gone = sent["gone@example.com"]
    costly = costly_messages()
    genuine = multipart_dsn("gone@example.com", str(gone["Message-ID"]))
    folder = make_maildir(tmp_path / "bounces", *costly[:3], genuine, *costly[3:])

    cpu_before, started = children_cpu_seconds(), time.monotonic()
    imported = run(["bounces", "import", str(folder)], env, tmp_path)
    cpu, elapsed = children_cpu_seconds() - cpu_before, time.monotonic() - started

    print(f"bounces import: {cpu:.2f} s of CPU, {elapsed:.1f} s")
    assert imported.returncode == 0, imported.stderr
    assert "Traceback" not in imported.stderr
    assert cpu < IMPORT_CPU_BUDGET, f"the import took {cpu:.2f} s of CPU ({elapsed:.1f} s)"
    assert "6 reports: 1 bounced" in imported.stdout, imported.stdout
    assert len(filed(folder)) == 6
    assert subscriber_states(env) == {
        "gone@example.com": SubscriberState.BOUNCED,
        "stays@example.com": SubscriberState.ACTIVE,
    }
