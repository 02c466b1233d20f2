"""The ``pghot`` command: the demo end to end (a replay of the built-in workload)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pghot import sim
from pghot.cli import main, run_demo

DATA = Path(__file__).resolve().parent / "data"


def test_demo_small_promotes_hot_pages() -> None:
    r = run_demo(top_pages=500, working_set_pages=2000, accesses=50_000, duration_ms=4000, seed=2)
    assert list(r.policies) == ["pghot", "none", "v2", "second-access"]
    p, none = r["pghot"], r["none"]
    assert r.trace["accesses"] == p.accesses == 50_000
    assert r.trace["footprint_pages"] <= 2000
    assert r.config.top_pages == 500 and r.config.lower_pages == 2 * r.trace["footprint_pages"]
    s = p.stats["tracker"]
    assert s["pghot_recorded_hintfaults"] == s["pghot_recorded_accesses"] > 0
    assert 0 < p.promotions == p.stats["memory"]["pgpromote_success"]
    assert none.promotions == 0 and none.time_vs_none == 1.0
    assert p.hit_ratio is not None and none.hit_ratio is not None
    assert 0 < p.hit_ratio < 1 and 0 < none.hit_ratio < 1
    assert p.precision is not None and 0 < p.precision <= 1
    assert p.time_vs_all_top is not None and p.time_vs_all_top >= 1


def test_demo_default_helps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "2,000,000 accesses over 10.000 s" in out and "top tier 8,192 pages" in out
    first_table = out.split("\n\n")[1]  # the placement table; the migrations' table follows
    rows = {
        line.split()[0]: line.split()
        for line in first_table.splitlines()
        if line.split() and line.split()[0] in ("pghot", "none", "v2", "second-access")
    }
    assert set(rows) == {"pghot", "none", "v2", "second-access"}
    # the "x none" column, before the tracker memory ("-" or "712.7 KiB")
    x_none = {k: float(v[-2] if v[-1] == "-" else v[-3]) for k, v in rows.items()}
    hits = {k: float(v[1].rstrip("%")) for k, v in rows.items()}
    assert x_none["none"] == 1.0
    # promotion raises the top tier's share of the accesses; with the published migration
    # costs charged, the demo's ping-pong (89 % of the promotions) makes both promoting
    # policies slower than none, and second-access (in the fault path, 4x the cost per
    # page) the slowest
    assert hits["pghot"] > hits["none"] and hits["second-access"] > hits["none"]
    assert 1.0 < x_none["pghot"] < x_none["second-access"]


def test_demo_cli_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "demo",
        "--accesses",
        "20000",
        "--working-set-pages",
        "2000",
        "--top-pages",
        "500",
        "--no-progress",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "precision" in out and "second-access" in out and "20,000 accesses" in out
    assert main(args + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["trace"]["accesses"] == 20000
    for p in data["policies"].values():
        assert p["accesses"] == 20000 and 0 <= p["top_tier_hits"] <= 20000
        assert len(p["hit_ratio_series"]) == len(data["accesses_series"]) == 100  # 100 ms bins of 10 s


def test_demo_cli_bad_argument(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["demo", "--threshold", "9", "--no-progress"])
    assert e.value.code == 2
    assert "threshold" in capsys.readouterr().err


def test_replay_dash_is_passed_to_the_reader_untouched(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replay, real_exists = sim.replay, os.path.exists
    paths: list[Any] = []
    checked: list[Any] = []

    def replay(chunks: Any, config: sim.SimConfig, **kw: Any) -> sim.Result:
        paths.append(chunks)  # a stand-in for the reader of standard input
        return real_replay(
            [sim.demo_trace(2000, 200)], config, name="<stdin>", baselines=kw["baselines"], progress=False
        )

    def exists(path: Any) -> bool:
        checked.append(path)
        return real_exists(path)

    monkeypatch.setattr(sim, "replay", replay)
    monkeypatch.setattr(os.path, "exists", exists)
    assert main(["replay", "-", "--no-progress"]) == 0
    assert paths == ["-"] and "-" not in checked
    assert "replay of <stdin>" in capsys.readouterr().out


# -- one meaning of --json and -o/--output in every command; plain-text help --------------

SMALL = {
    "demo": ["demo", "--accesses", "3000", "--working-set-pages", "300", "--top-pages", "100"],
    "replay": ["replay", str(DATA / "sample.csv")],
    "sweep": ["sweep", str(DATA / "sample.csv"), "-j", "1", "--grid", "tracker.threshold=2,3"],
    "bench": ["bench", "--sizes", "4K", "--workloads", "uniform", "--designs", "hash/binary"],
}


@pytest.mark.parametrize("command", sorted(SMALL))
def test_json_and_output_mean_the_same_in_every_command(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = SMALL[command] + ["--no-progress"]
    assert main(argv) == 0
    table = capsys.readouterr().out
    with pytest.raises(json.JSONDecodeError):
        json.loads(table)
    assert main(argv + ["--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    out = tmp_path / "out.json"
    assert main(argv + ["--json", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and f"written to {out}" in captured.err
    written = json.loads(out.read_text())
    assert type(written) is type(printed) and len(written) == len(printed)
    if command in ("sweep", "bench"):  # rows: the same configurations or designs
        key = "design" if command == "bench" else "tracker.threshold"
        assert [r.get(key) for r in written] == [r.get(key) for r in printed]
    else:  # a result: the same deterministic replay
        assert written["trace"] == printed["trace"]
    text = tmp_path / "out.txt"
    assert main(argv + ["--output", str(text)]) == 0
    assert capsys.readouterr().out == ""
    assert text.read_text().splitlines()[0] == table.splitlines()[0]
    assert main(argv + ["-o", "-"]) == 0  # "-" is standard output
    assert capsys.readouterr().out.splitlines()[0] == table.splitlines()[0]


@pytest.mark.parametrize("command", [None, "demo", "replay", "sweep", "bench"])
def test_help_is_plain_text(command: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--help"] if command is None else [command, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: pghot")
    assert "``" not in out and ":func:" not in out and ":class:" not in out
    for option in ("--json", "-o FILE, --output FILE") if command else ():
        assert option in out


@pytest.mark.parametrize(("flag", "want"), [([], "closed"), (["--time-model", "open"], "open")])
def test_replay_time_model_option(capsys: pytest.CaptureFixture[str], flag: list[str], want: str) -> None:
    argv = ["replay", str(DATA / "tiny.lackey"), "--no-progress", "--policies", "none", "--json", *flag]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["trace"]["time_model"] == want
    assert out["config"].get("time_model", "auto") == ("auto" if not flag else want)
