"""An expected error is one line on stderr whatever its message holds."""

from __future__ import annotations

import pytest

import digest.cli as cli
from digest.errors import DigestError


def test_a_message_with_line_breaks_is_printed_on_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fails(**_: object) -> None:
        raise DigestError("the source answered:\r\n<html>\n  broken</html>")

    monkeypatch.setattr(cli, "app", fails)
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 1
    assert capsys.readouterr().err == "digest: the source answered: <html> broken</html>\n"
