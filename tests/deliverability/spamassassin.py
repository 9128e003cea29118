"""SpamAssassin (Debian's 4.0, local rules only) as a mail server's filter runs it: one spamd
for the session, spamc for each message.

`spamd -L` runs no network test (no DNS blocklists, no DKIM or SPF look-ups) and, with Bayes
off, what is left are the rules on the message itself: its headers, its HTML and text, and
the Received chain. `relayed` adds the line a receiving MX writes, from a relay with or
without reverse DNS, as a self-hosted server's mail arrives.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

# A public address, as a relay's would be (no traffic goes to it: it is text in a header).
RELAY_IP = "93.184.216.34"
RELAY_HELO = "mail.papers.example.org"
MX = "mx.example.net"
MAX_MESSAGE_BYTES = 5_000_000  # spamc's default of 500 KB would pass bigger mail unscanned
START_SECONDS = 60.0
SPAMD = ("/usr/sbin/spamd", "spamd")
SPAMC = ("/usr/bin/spamc", "spamc")
# Rules whose only input is the number of Received headers: a message caught at our SMTP
# server has none, the same message at a recipient's MX has one more.
ABOUT_RECEIVED_HEADERS = frozenset({"NO_RECEIVED", "NO_RELAYS"})


class SpamAssassinMissing(RuntimeError):
    """spamd or spamc is not installed (`.ci/run` installs Debian's)."""


@dataclass(frozen=True)
class Verdict:
    """What SpamAssassin said of one message: each rule hit with its points."""

    rules: dict[str, float]

    @property
    def score(self) -> float:
        return round(sum(self.rules.values()), 3)

    def describe(self) -> str:
        hits = ", ".join(f"{name} {points:+g}" for name, points in sorted(self.rules.items()))
        return f"score {self.score:+g} ({hits or 'no rule'})"


def _program(candidates: tuple[str, ...]) -> str:
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    raise SpamAssassinMissing(
        f"{candidates[-1]} is not installed: `bash .ci/run` installs Debian's spamassassin, "
        "spamd and spamc (apt-get install --no-install-recommends spamassassin spamd spamc)"
    )


class Spamd:
    """A running spamd on a loopback port, and the spamc that asks it."""

    def __init__(self, port: int, spamc: str) -> None:
        self.port = port
        self.spamc = spamc
        self._server = ("-d", "127.0.0.1", "-p", str(port))

    def ping(self) -> bool:
        answer = subprocess.run(
            [self.spamc, "-x", "-K", *self._server],
            capture_output=True,
            timeout=30,
        )
        return answer.returncode == 0

    def check(self, message: bytes) -> Verdict:
        """Score one message (-x: an unreachable spamd is an error, never a pass)."""
        answer = subprocess.run(
            [self.spamc, "-x", "-R", "-s", str(MAX_MESSAGE_BYTES), *self._server],
            input=message,
            capture_output=True,
            timeout=120,
        )
        report = answer.stdout.decode("utf-8", "replace")
        if answer.returncode not in (0, 1) or "\n" not in report:
            raise RuntimeError(f"spamc failed ({answer.returncode}): {answer.stderr!r} {report!r}")
        return Verdict(_rules(report.split("\n", 1)[1]))


def _rules(report: str) -> dict[str, float]:
    """`RULE=points,RULE=points` (the report template set below) as a dict."""
    rules: dict[str, float] = {}
    for item in report.strip().split(","):
        if "=" in item:
            name, points = item.split("=", 1)
            rules[name.strip()] = float(points)
    return rules


@contextmanager
def running_spamd(port: int, log: Path) -> Iterator[Spamd]:
    """spamd with local tests only, no Bayes and no per-user settings, on `port`."""
    spamd, spamc = _program(SPAMD), _program(SPAMC)
    command = [
        spamd,
        "--local",
        "--nouser-config",
        f"--listen=127.0.0.1:{port}",
        "--max-children=2",
        "--min-children=1",
        "--syslog=stderr",
        "--cf=use_bayes 0",
        "--cf=bayes_auto_learn 0",
        "--cf=clear_report_template",
        "--cf=report _TESTSSCORES(,)_",  # every rule hit with its exact points
    ]
    if os.geteuid() == 0:
        command.append("--username=nobody")  # spamd will not run as root
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        server = Spamd(port, spamc)
        try:
            deadline = time.monotonic() + START_SECONDS
            while not server.ping():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"spamd did not start: {log.read_text(errors='replace')[-2000:]}"
                    )
                time.sleep(0.2)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def relayed(message: bytes, envelope_from: str, recipient: str, *, rdns: bool) -> bytes:
    """`message` as the recipient's MX stores it: Return-Path from the envelope and the
    Received line for our relay, which has reverse DNS (`rdns`) or not ("unknown")."""
    head = message.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    sent = None
    for line in head.split("\r\n"):
        if line.lower().startswith("date:"):
            sent = parsedate_to_datetime(line.split(":", 1)[1].strip())
    assert sent is not None, "the message has no Date header"
    received_at = format_datetime(sent + timedelta(seconds=3))
    name = RELAY_HELO if rdns else "unknown"
    added = (
        f"Return-Path: <{envelope_from}>\r\n"
        f"Received: from {RELAY_HELO} ({name} [{RELAY_IP}])\r\n"
        f"\tby {MX} (Postfix) with ESMTPS id 4ZkQ2m1xYzz9sW\r\n"
        f"\tfor <{recipient}>; {received_at}\r\n"
    )
    return added.encode("ascii") + message
