import pytest

from digest.errors import ConfigError
from digest.mail.smtp import SmtpConfig


def test_smtp_urls_are_parsed() -> None:
    plain = SmtpConfig.from_url("smtp://localhost:1025")
    assert (plain.host, plain.port, plain.use_ssl, plain.starttls) == (
        "localhost",
        1025,
        False,
        False,
    )
    secure = SmtpConfig.from_url("smtps://user%40x:p%3Ass@mail.example.org")
    assert (secure.port, secure.use_ssl, secure.username, secure.password) == (
        465,
        True,
        "user@x",
        "p:ss",
    )
    assert SmtpConfig.from_url("smtp://mail.example.org:587?starttls=1").starttls


@pytest.mark.parametrize("url", ["http://x", "smtp://", "smtp://host:notaport", "mail.example.org"])
def test_bad_smtp_urls_are_refused_clearly(url: str) -> None:
    with pytest.raises(ConfigError, match="DIGEST_MAIL_URL"):
        SmtpConfig.from_url(url)
