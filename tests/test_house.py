"""The house rules: packages import only downward, no import circles, no module over 400 lines.

The import contracts live in pyproject.toml ([tool.importlinter]); `.ci/run` runs `lint-imports`
too. These tests run it on the real tree and on a copy with one wrong arrow, so a contract that
stopped biting would fail here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_LINES = 400


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(REPO)): lines
        for path in (REPO / "service").rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these modules (at most {MAX_LINES} lines each): {long}"


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_import_contracts_hold() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "arrow", "contract"),
    [
        ("service/storage/store.py", "import service.delivery.planning", "import only downward"),
        ("service/ranking/rank.py", "import sqlalchemy", "pure"),
        ("service/web/app.py", "import service.delivery.scheduler", "front door"),
        ("service/digest/text.py", "import service.digest.render", "circles"),
    ],
)
def test_a_wrong_arrow_breaks_a_contract(
    tmp_path: Path, module: str, arrow: str, contract: str
) -> None:
    tree = tmp_path / "house"
    shutil.copytree(REPO / "service", tree / "service", ignore=shutil.ignore_patterns("data"))
    shutil.copy(REPO / "pyproject.toml", tree / "pyproject.toml")
    target = tree / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{arrow}  # noqa\n", encoding="utf-8")
    result = _lint(tree)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(contract in line for line in broken), result.stdout
