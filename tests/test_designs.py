"""The design comparison behind ``pghot bench``."""

from __future__ import annotations

import json
import math

import pytest

from pghot.bench import designs
from pghot.cli import main


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return designs.compare(sizes=["4K"], workloads=["zipf", "moving"],
                           designs=["hash/bucket", "kernel-v2", "pfn-array/default"],
                           progress=False)


def test_rows_cover_every_design_and_workload(rows: list[dict]) -> None:
    got = {(r["workload"], r["design"]) for r in rows}
    want = {(w, d) for w in ("zipf", "moving")
            for d in ("bare-loop", "hash/binary", "hash/bucket", "kernel-v2", "pfn-array/default")}
    assert got == want


def test_ratios_are_to_the_default_design_of_the_same_run(rows: list[dict]) -> None:
    for w in ("zipf", "moving"):
        base = next(r for r in rows if r["workload"] == w and r["design"] == "hash/binary")
        assert base["ns_per_access_ratio"] == 1.0
        for r in rows:
            if r["workload"] == w and "ns_per_access_ratio" in r:
                assert r["ns_per_access_ratio"] == pytest.approx(
                    r["ns_per_access"] / base["ns_per_access"])


def test_metrics_are_sane(rows: list[dict]) -> None:
    for r in rows:
        assert r["ns_per_access"] > 0
        if r["design"] == "bare-loop":
            assert math.isnan(r["topk_accuracy"])
            continue
        assert r["memory_bytes"] > 0
        assert r["bytes_per_pfn"] == pytest.approx(r["memory_bytes"] / r["tracked_pfns"])
        assert r["extracted"] > 0 and r["ns_per_extracted"] > 0
        if r["design"] == "kernel-v2":
            assert math.isnan(r["topk_accuracy"])     # sampled: not measured again
        else:
            assert 0.0 <= r["topk_accuracy"] <= 1.0
    # v2's records are 40 bytes plus pointers: more than the hash store's 16 + 8/4
    v2 = next(r for r in rows if r["design"] == "kernel-v2")
    hb = next(r for r in rows if r["design"] == "hash/binary" and r["workload"] == v2["workload"])
    assert v2["bytes_per_pfn"] > hb["bytes_per_pfn"]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="sizes"):
        designs.compare(sizes=["3K"], progress=False)
    with pytest.raises(ValueError, match="designs"):
        designs.compare(sizes=["4K"], designs=["btree"], progress=False)
    with pytest.raises(ValueError, match="v2_max_pfns"):
        designs.compare(sizes=["4K"], v2_max_pfns=-1, progress=False)
    with pytest.raises(ValueError, match="seed"):
        designs.compare(sizes=["4K"], seed=1.5, progress=False)  # type: ignore[arg-type]


def test_v2_skipped_above_its_limit() -> None:
    rows = designs.compare(sizes=["4K"], workloads=["uniform"], designs=["kernel-v2"],
                           v2_max_pfns=1024, progress=False)
    v2 = next(r for r in rows if r["design"] == "kernel-v2")
    assert "skipped" in v2
    assert "skipped" in designs.format_table(rows)


def test_table_and_plot(rows: list[dict], tmp_path) -> None:
    table = designs.format_table(rows).splitlines()
    assert len(table) == 2 + len(rows)
    png = tmp_path / "b.png"
    designs.plot(rows, str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_cli_json(tmp_path, capsys) -> None:
    argv = ["bench", "--sizes", "4K", "--workloads", "uniform", "--designs", "hash/quaternary",
            "--no-progress"]
    out = tmp_path / "b.json"
    assert main(argv + ["--json", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert {r["design"] for r in data} == {"bare-loop", "hash/binary", "hash/quaternary"}
    assert capsys.readouterr().out == ""
    assert main(argv + ["--json"]) == 0
    assert {r["design"] for r in json.loads(capsys.readouterr().out)} == {r["design"] for r in data}
    assert main(argv) == 0
    assert "| size | workload | design |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["bench", "--sizes", "12K", "--no-progress"])
