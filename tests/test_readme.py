"""The README's examples run as written."""

from __future__ import annotations

import pathlib
import re
from typing import Any

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def test_api_example_runs(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # it saves t.npz
    (code,) = blocks("python")
    ns: dict[str, Any] = {}
    exec(compile(code, str(README), "exec"), ns)
    t = ns["t"]
    assert repr(t.lookup(400_000)) == ("Record(pfn=400000, frequency=1, nid=0, last_update=13, queued=-1)")
    assert ns["hot"].tolist() == [300_000]
    assert ns["t2"].stats() == t.stats()


def test_config_example_loads(tmp_path: pathlib.Path) -> None:
    from pghot.sim import load_config

    (toml,) = blocks("toml")
    path = tmp_path / "c.toml"
    path.write_text(toml)
    cfg = load_config(path).validate()
    assert cfg.tracker["queue"] == "bucket" and cfg.sources[0]["name"] == "hw-hints"


def test_two_commands_are_there() -> None:
    text = README.read_text()
    for marker in ("<!-- main-command -->", "<!-- test-command -->"):
        assert marker in text
    assert 'pip install ".[test]" && python -m pytest' in text
    assert "pip install . && pghot demo" in text
