"""The layering is a contract: a lower layer importing a higher one fails the build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_module_imports_a_layer_above_its_own() -> None:
    # In a subprocess: import-linter's command line reconfigures logging for the process.
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_orchestration_outside_the_pipeline() -> None:
    """The shells call the pipeline; none of them builds pools, ranks or sends itself."""
    walkers = ("personalize(", "rank_by_trend(", "claim_batch(", "open_sender(", "pick_editions(")
    for shell in [*(ROOT / "digest" / "web").glob("*.py"), *(ROOT / "workers").glob("*.py")]:
        text = shell.read_text(encoding="utf-8")
        assert not [w for w in walkers if w in text], shell
