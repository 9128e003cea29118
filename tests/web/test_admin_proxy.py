"""Behind a reverse proxy, `digest serve` counts dashboard logins per real client: it
believes X-Forwarded-For from the proxy it is told of, and from no one else."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import TEST_SECRET, run_digest
from tests.web.admin_support import ADMIN_USER, OPERATOR, basic
from tests.web.served import digest_serve

ROOT = Path(__file__).resolve().parents[2]
PROXY = "127.0.0.1"
STRANGER = "127.0.0.2"  # another loopback address: a peer that is not the proxy
WRONG = basic(ADMIN_USER, "guess")
CLIENT_A = "198.51.100.7"
CLIENT_B = "203.0.113.20"


@contextmanager
def from_peer(url: str, address: str) -> Iterator[httpx.Client]:
    """A client whose connections leave from `address`."""
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=url, transport=transport, timeout=10) as http:
        yield http


def lock_out(http: httpx.Client, forwarded_for: str) -> list[int]:
    """Four wrong logins (the limit is 3) said to come from `forwarded_for`."""
    headers = {**WRONG, "X-Forwarded-For": forwarded_for}
    return [http.get("/admin", headers=headers).status_code for _ in range(4)]


def operator_from(http: httpx.Client, forwarded_for: str) -> int:
    headers = {**OPERATOR, "X-Forwarded-For": forwarded_for}
    return http.get("/admin", headers=headers).status_code


def test_clients_behind_the_trusted_proxy_count_apart(tmp_path: Path) -> None:
    args = ("--forwarded-allow-ips", PROXY)
    with digest_serve(tmp_path, attempts=3, extra_args=args) as served:
        with from_peer(served.url, PROXY) as proxy:
            attacker = lock_out(proxy, CLIENT_A)
            operator = operator_from(proxy, CLIENT_B)
            attacker_with_password = operator_from(proxy, CLIENT_A)
            # A chain: the proxy appends the peer it saw; a client's own entry is not believed.
            spoofed = operator_from(proxy, f"{CLIENT_B}, {CLIENT_A}")
        with from_peer(served.url, STRANGER) as stranger:
            # Not the proxy: its header is ignored, so naming client B helps nothing.
            stranger_answers = lock_out(stranger, CLIENT_B)
            stranger_as_b = operator_from(stranger, CLIENT_B)
        with from_peer(served.url, PROXY) as proxy:
            operator_again = operator_from(proxy, CLIENT_B)

    assert attacker == [401, 401, 401, 429]
    assert operator == 200
    assert attacker_with_password == 429
    assert spoofed == 429  # counted as client A, the address the proxy saw
    assert stranger_answers == [401, 401, 401, 429]
    assert stranger_as_b == 429  # counted as 127.0.0.2, which is locked out
    assert operator_again == 200  # the stranger's guesses were never client B's


def test_the_proxy_can_be_named_in_the_environment(tmp_path: Path) -> None:
    # As docker-compose.yml does: FORWARDED_ALLOW_IPS names the proxy, here not us.
    env = {"FORWARDED_ALLOW_IPS": STRANGER}
    with digest_serve(tmp_path, attempts=3, extra_env=env) as served:
        with from_peer(served.url, PROXY) as untrusted:
            lock_out(untrusted, CLIENT_A)
            ignored = operator_from(untrusted, CLIENT_B)
        with from_peer(served.url, STRANGER) as proxy:
            believed = operator_from(proxy, CLIENT_B)

    assert ignored == 429  # 127.0.0.1 is not the proxy: every request counted as itself
    assert believed == 200


def test_a_proxy_that_is_not_an_address_stops_serve_with_one_line(tmp_path: Path) -> None:
    env = {
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "DIGEST_SECRET_KEY": TEST_SECRET,
    }
    result = run_digest(["serve", "--forwarded-allow-ips", "proxy.internal"], env, tmp_path)
    assert result.returncode != 0
    assert "'proxy.internal' is not an IP address or network" in result.stderr
    assert "Traceback" not in result.stderr


def test_compose_names_the_proxy_of_the_web_service() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    web = re.search(r"\n  web:\n(.*?)\n  \w+:\n", compose, re.S)
    assert web is not None
    setting = re.search(r"FORWARDED_ALLOW_IPS: \$\{FORWARDED_ALLOW_IPS:-([0-9.]+)\}", web[1])
    assert setting is not None, "the web service does not name its proxy"
    gateway = re.search(r"gateway: ([0-9.]+)", compose)
    assert gateway is not None and gateway[1] == setting[1]
