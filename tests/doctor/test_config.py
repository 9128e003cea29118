"""`digest doctor`'s set-up checks against real SMTP servers (plain and STARTTLS) and a
generated DKIM key."""

from __future__ import annotations

from pathlib import Path

from digest.doctor import Check, Status, config_checks
from digest.settings import Settings
from tests.conftest import TEST_SECRET, SmtpSink, free_port
from tests.conftest import run_digest as run
from tests.doctor.conftest import Tls
from tests.render.factories import signing_settings


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def test_a_good_production_setup_passes_every_check(
    settings: Settings, tmp_path: Path, tls: Tls, starttls_url: str
) -> None:
    good = signing_settings(settings, tmp_path, env="production", mail_url=starttls_url)
    checks = _by_name(config_checks(good, tls_context=tls.client_context()))
    assert [check.status for check in checks.values()] == [Status.OK] * 5, checks
    assert "2048-bit RSA signs and verifies" in checks["dkim key"].detail
    assert "s1._domainkey.example.org" in checks["dkim key"].detail
    assert "STARTTLS (TLSv1." in checks["smtp"].detail
    assert checks["from domain"].detail == "example.org matches the DKIM domain"


def test_an_untrusted_certificate_fails(
    settings: Settings, tmp_path: Path, starttls_url: str
) -> None:
    checks = _by_name(config_checks(settings.model_copy(update={"mail_url": starttls_url})))
    assert checks["smtp"].status is Status.FAIL and "TLS failed" in checks["smtp"].detail


def test_misalignment_and_http_in_production_fail(settings: Settings, tmp_path: Path) -> None:
    bad = signing_settings(
        settings,
        tmp_path,
        env="production",
        dkim_domain="mailer.example.net",
        base_url="http://digest.example.org",
    )
    checks = _by_name(config_checks(bad))
    assert checks["dkim key"].status is Status.OK
    assert checks["from domain"].status is Status.FAIL
    assert "does not match the DKIM domain mailer.example.net" in checks["from domain"].detail
    assert checks["base url"].status is Status.FAIL
    assert checks["smtp"].status is Status.FAIL  # the sink speaks no TLS
    sub = signing_settings(
        settings,
        tmp_path,
        DIGEST_FROM="Papers <digest@news.example.org>",
        dkim_domain="example.org",
    )
    assert _by_name(config_checks(sub))["from domain"].status is Status.OK


def test_development_defaults_only_warn(settings: Settings) -> None:
    checks = _by_name(config_checks(settings))
    assert checks["dkim key"].status is Status.WARN
    assert checks["from domain"].status is Status.SKIP
    assert checks["smtp"].status is Status.WARN and "without TLS" in checks["smtp"].detail


def test_a_broken_key_fails(settings: Settings, tmp_path: Path) -> None:
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")
    checks = _by_name(
        config_checks(settings.model_copy(update={"dkim_key_file": broken, "dkim_selector": "s9"}))
    )
    assert checks["dkim key"].status is Status.FAIL


def test_the_command_prints_one_line_per_check_and_exit_status(
    tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    env = {
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'doctor.db'}",
        "DIGEST_SECRET_KEY": TEST_SECRET,
        "DIGEST_MAIL_URL": smtp_sink.url,
        # Never the system's resolver; nothing listens there, a lookup would fail the run.
        "DIGEST_DNS_RESOLVER": f"127.0.0.1:{free_port()}",
    }
    ok = run(["doctor"], env, tmp_path)
    assert ok.returncode == 0, ok.stderr
    lines = ok.stdout.splitlines()
    assert [line.split(":")[0].split(maxsplit=1)[1] for line in lines] == [
        "dkim key",
        "from domain",
        "message-id domain",
        "base url",
        "smtp",
        "dns",
    ]
    assert lines[4].startswith("warn  smtp: 127.0.0.1:")
    assert lines[5] == (
        "skip  dns: localhost is not a public domain (DIGEST_FROM), nothing to look up"
    )
    down = run(["doctor"], {**env, "DIGEST_MAIL_URL": f"smtp://127.0.0.1:{free_port()}"}, tmp_path)
    assert down.returncode == 1
    assert "FAIL  smtp: 127.0.0.1:" in down.stdout and "unreachable" in down.stdout
    assert down.stderr.strip() == "digest: doctor: 1 check failed"
