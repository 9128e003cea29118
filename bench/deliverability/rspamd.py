"""rspamd (Debian's 3.4, its stock configuration) scanning each email as a receiving MX
would: from our relay's address, with SPF, DKIM and DMARC records for the sending domain
served by a local DNS server (which answers NXDOMAIN for every other name, so blocklists
find nothing and nothing leaves the machine)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.deliverability.mailings import DKIM_SELECTOR, DOMAIN
from tests.deliverability.spamassassin import RELAY_HELO, RELAY_IP
from tests.doctor.dns_server import Zone, serve_zone

START_SECONDS = 180.0  # the first start compiles its regular expressions


def sending_domain_zone(dkim_record: bytes) -> Zone:
    """What a well-set-up operator publishes for the sending domain and its relay."""
    from dnslib import MX, PTR, TXT, A

    zone = Zone()
    zone.add(DOMAIN, "A", A(RELAY_IP))
    zone.add(DOMAIN, "MX", MX(RELAY_HELO, 10))
    zone.add(DOMAIN, "TXT", TXT(f"v=spf1 ip4:{RELAY_IP} -all"))
    zone.add(RELAY_HELO, "A", A(RELAY_IP))
    zone.add(f"_dmarc.{DOMAIN}", "TXT", TXT(f"v=DMARC1; p=reject; rua=mailto:dmarc@{DOMAIN}"))
    record = dkim_record.decode()
    chunks = [record[i : i + 255] for i in range(0, len(record), 255)]
    zone.add(f"{DKIM_SELECTOR}._domainkey.{DOMAIN}", "TXT", TXT(chunks))
    reverse = ".".join(reversed(RELAY_IP.split("."))) + ".in-addr.arpa"
    zone.add(reverse, "PTR", PTR(RELAY_HELO))
    return zone


@dataclass(frozen=True)
class RspamdVerdict:
    action: str
    score: float
    symbols: dict[str, float]

    def describe(self) -> str:
        shown = [f"{name} {score:+g}" for name, score in self.symbols.items() if score]
        return ", ".join(shown) or "no scoring symbol"


class Rspamd:
    def __init__(self, port: int) -> None:
        self.port = port

    def check(self, message: bytes, mail_from: str, rcpt: str, *, rdns: bool) -> RspamdVerdict:
        """Scan as the MX does; without `rdns` the MTA passes no client hostname (its
        "unknown" means the same to rspamd's hfilter only when left out)."""
        hostname = ["--hostname", RELAY_HELO] if rdns else []
        command = ["rspamc", "-h", f"127.0.0.1:{self.port}", "-j", "-t", "60", "--ip", RELAY_IP]
        command += ["--helo", RELAY_HELO, *hostname, "--from", mail_from, "--rcpt", rcpt]
        answer = subprocess.run(
            command,
            input=message,
            capture_output=True,
            timeout=120,
        )
        if answer.returncode != 0:
            raise RuntimeError(f"rspamc failed: {answer.stderr.decode(errors='replace')}")
        reply = json.loads(answer.stdout)
        symbols = {
            name: float(found.get("score", 0.0))
            for name, found in sorted(reply.get("symbols", {}).items())
        }
        return RspamdVerdict(str(reply["action"]), float(reply["score"]), symbols)


LOCAL_CONFIG = {
    "override.d/worker-normal.inc": 'bind_socket = "127.0.0.1:{normal}";\ncount = 1;\n',
    "override.d/worker-controller.inc": 'bind_socket = "127.0.0.1:{controller}";\n',
    "override.d/worker-proxy.inc": 'bind_socket = "127.0.0.1:{proxy}";\ncount = 1;\n',
    "override.d/logging.inc": 'type = "file";\nlevel = "warning";\n',
    "local.d/options.inc": (
        'dns {{\n  nameserver = ["127.0.0.1:{dns}"];\n  timeout = 1s;\n  retransmits = 1;\n}}\n'
    ),
    # The fuzzy hashes are asked of rspamd.com's servers: nothing to ask here.
    "local.d/fuzzy_check.conf": "enabled = false;\n",
}


@contextmanager
def running_rspamd(folder: Path, ports: dict[str, int], dkim_record: bytes) -> Iterator[Rspamd]:
    """rspamd on `ports` (normal, controller, proxy), its state and logs in `folder`."""
    if shutil.which("rspamd") is None:
        raise RuntimeError("rspamd is not installed: apt-get install rspamd")
    with serve_zone(sending_domain_zone(dkim_record)) as dns_port:
        local = folder / "local"
        for name, text in LOCAL_CONFIG.items():
            path = local / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text.format(dns=dns_port, **ports), encoding="utf-8")
        variables = {"LOCAL_CONFDIR": local}
        for name in ("DBDIR", "RUNDIR", "LOGDIR"):
            variables[name] = folder / name.lower()
            variables[name].mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(variables[name], "nobody", "nogroup")
        command = ["rspamd", "-f", "-c", "/etc/rspamd/rspamd.conf"]
        command += [f"--var={name}={path}" for name, path in variables.items()]
        if os.geteuid() == 0:
            command += ["-u", "nobody", "-g", "nogroup"]
        log = folder / "stderr.log"
        with log.open("wb") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
            try:
                _wait_until_up(process, ports["normal"], folder)
                yield Rspamd(ports["normal"])
            finally:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _wait_until_up(process: subprocess.Popen[bytes], port: int, folder: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as answer:
                if answer.read().strip() == b"pong":
                    return
        except OSError:
            pass
        time.sleep(1)
    logs = [(folder / "stderr.log"), (folder / "logdir" / "rspamd.log")]
    text = "\n".join(p.read_text(errors="replace")[-3000:] for p in logs if p.exists())
    raise RuntimeError(f"rspamd did not start:\n{text}")
