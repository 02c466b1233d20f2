"""The code's habits are checked, not hoped for: ruff (lint and format) and mypy.

Both are configured in ``pyproject.toml`` and run by ``pre-commit`` on each
commit; here they run in the test suite so that CI enforces them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PATHS = ["python", "tests", "bench"]

pytestmark = pytest.mark.skipif(
    not (ROOT / "pyproject.toml").is_file(), reason="needs the source tree (run from a checkout)"
)


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("ruff") or sys.executable
    cmd = [exe, *args] if exe != sys.executable else [exe, "-m", "ruff", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_check() -> None:
    r = _ruff("check", "--no-cache", *PATHS)
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_format() -> None:
    r = _ruff("format", "--check", "--no-cache", *PATHS)
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_on_the_package(tmp_path: Path) -> None:
    from mypy import api as mypy_api

    out, err, status = mypy_api.run(
        [
            str(ROOT / "python" / "pghot"),
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-error-summary",
        ]
    )
    assert status == 0, out + err


def test_version_is_written_once() -> None:
    import importlib.metadata

    import pghot

    assert importlib.metadata.version("pghot") == pghot.__version__
    text = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in text and "\nversion =" not in text
