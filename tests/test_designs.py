"""The design comparison behind ``pghot bench``.

Known answers: the metric helpers on tiny hand-computed inputs, top-k
accuracy on a workload whose hottest pages are known by construction, and
bytes per PFN against each store's documented layout.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pghot
from pghot._core import table_geometry
from pghot.bench import designs
from pghot.cli import main

Row = dict[str, Any]


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return designs.compare(
        sizes=["4K"],
        workloads=["zipf", "moving"],
        designs=["hash/bucket", "kernel-v2", "pfn-array/default"],
        progress=False,
    )


def test_rows_cover_every_design_and_workload(rows: list[Row]) -> None:
    got = {(r["workload"], r["design"]) for r in rows}
    want = {
        (w, d)
        for w in ("zipf", "moving")
        for d in ("bare-loop", "hash/binary", "hash/bucket", "kernel-v2", "pfn-array/default")
    }
    assert got == want


def test_ratios_are_to_the_default_design_of_the_same_run(rows: list[Row]) -> None:
    for w in ("zipf", "moving"):
        base = next(r for r in rows if r["workload"] == w and r["design"] == "hash/binary")
        assert base["ns_per_access_ratio"] == 1.0
        for r in rows:
            if r["workload"] == w and "ns_per_access_ratio" in r:
                assert r["ns_per_access_ratio"] == pytest.approx(r["ns_per_access"] / base["ns_per_access"])


def test_metrics_are_sane(rows: list[Row]) -> None:
    for r in rows:
        assert r["ns_per_access"] > 0
        if r["design"] == "bare-loop":
            assert math.isnan(r["topk_accuracy"])
            continue
        assert r["memory_bytes"] > 0
        assert r["bytes_per_pfn"] == pytest.approx(r["memory_bytes"] / r["tracked_pfns"])
        assert r["extracted"] > 0 and r["ns_per_extracted"] > 0
        if r["design"] == "kernel-v2":
            assert math.isnan(r["topk_accuracy"])  # sampled: not measured again
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
    rows = designs.compare(
        sizes=["4K"], workloads=["uniform"], designs=["kernel-v2"], v2_max_pfns=1024, progress=False
    )
    v2 = next(r for r in rows if r["design"] == "kernel-v2")
    assert "skipped" in v2
    assert "skipped" in designs.format_table(rows)


def test_table_and_plot(rows: list[Row], tmp_path: Path) -> None:
    table = designs.format_table(rows).splitlines()
    assert len(table) == 2 + len(rows)
    png = tmp_path / "b.png"
    designs.plot(rows, str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "bench",
        "--sizes",
        "4K",
        "--workloads",
        "uniform",
        "--designs",
        "hash/quaternary",
        "--no-progress",
    ]
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


# -- known answers -----------------------------------------------------------------------


def test_true_hot_counts_the_last_window_only() -> None:
    pfns = np.array([1, 1, 1, 2, 2, 3, 4], dtype=np.uint64)
    nows = np.array([0, 0, 10, 10, 10, 10, 10], dtype=np.int64)
    # last 5 jiffies (now > 5): PFN 1 once, 2 twice, 3 and 4 once; PFN 1's two
    # accesses at time 0 are outside (counting them would make PFN 1 the hottest)
    hot, kth = designs._true_hot(pfns, nows, 5, 1)
    assert hot.tolist() == [2] and kth == 2
    # k = 2: the 2nd largest count is 1, and every page tied with it is hot
    hot, kth = designs._true_hot(pfns, nows, 5, 2)
    assert hot.tolist() == [1, 2, 3, 4] and kth == 1
    hot, kth = designs._true_hot(pfns, nows, 5, 10)  # k beyond the pages seen
    assert hot.tolist() == [1, 2, 3, 4] and kth == 1
    hot, kth = designs._true_hot(pfns, nows, 20, 1)  # a window holding every access
    assert hot.tolist() == [1] and kth == 3
    hot, kth = designs._true_hot(pfns, nows, 0, 1)  # an empty window
    assert hot.tolist() == [] and kth == 0


K = 128


def _known_workload() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """4096 tracked PFNs: K hot ones accessed 6 times, 3K warm ones 3 times, the rest never.

    Every access falls in one frequency window of every design, so the K
    truly hottest pages are the hot ones, and hot and warm pages all reach
    the threshold (2).  Returns tracked, accessed PFNs, times, hot, warm.
    """
    rng = np.random.default_rng(7)
    lower = rng.choice(designs.LOWER_PAGES, 4096, replace=False)
    tracked = np.sort(lower).astype(np.uint64) + np.uint64(designs._top_pages())
    pick = rng.permutation(len(tracked))
    hot, warm = tracked[pick[:K]], tracked[pick[K : 4 * K]]
    pfns = rng.permutation(np.concatenate([np.repeat(hot, 6), np.repeat(warm, 3)]))
    nows = np.arange(len(pfns), dtype=np.int64) // 64  # 60 jiffies in all
    return tracked, pfns, nows, hot, warm


def test_topk_accuracy_on_a_known_hot_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(designs, "TOP_K", K)
    tracked, pfns, nows, hot, warm = _known_workload()
    hot_set, kth = designs._true_hot(pfns, nows, 1000, K)
    assert sorted(hot_set.tolist()) == sorted(hot.tolist()) and kth == 6
    # the PFN array hands out ready pages in PFN order (a scan), not hottest first:
    # its answer is the share of hot pages among the first K ready PFNs
    ready = np.sort(np.concatenate([hot, warm]))
    scan = float(np.isin(ready[:K], hot).mean())
    assert 0.1 < scan < 0.4  # neither 1 nor a coincidental 0.5
    want = {
        "hash/binary": 1.0,
        "hash/quaternary": 1.0,
        "hash/bucket": 1.0,
        "kernel-v2": 1.0,
        "pfn-array/precise": scan,
        "pfn-array/default": scan,
    }
    assert set(want) == set(designs.DESIGNS)
    topo = pghot.Topology.two_tier(designs._top_pages(), designs.LOWER_PAGES)
    for name, expected in want.items():
        m = designs._run_design(name, topo, tracked, pfns, nows)
        assert m["topk_returned"] == K, name
        assert m["topk_accuracy"] == expected, name


def test_compare_reports_the_known_accuracy_and_its_ratio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(designs, "TOP_K", K)
    tracked, pfns, nows, hot, warm = _known_workload()
    monkeypatch.setattr(designs, "_stream", lambda size, workload, seed: (tracked, pfns, nows))
    got = designs.compare(
        sizes=["4K"], workloads=["uniform"], designs=["hash/bucket", "pfn-array/precise"], progress=False
    )
    by = {r["design"]: r for r in got}
    ready = np.sort(np.concatenate([hot, warm]))
    scan = float(np.isin(ready[:K], hot).mean())
    assert by["hash/binary"]["topk_accuracy"] == by["hash/bucket"]["topk_accuracy"] == 1.0
    assert by["pfn-array/precise"]["topk_accuracy"] == scan
    assert by["pfn-array/precise"]["topk_accuracy_ratio"] == scan  # to hash/binary's 1.0
    assert by["hash/binary"]["accesses"] == len(pfns) == 6 * K + 9 * K


def _layout_bytes(row: Row) -> tuple[int, int]:
    """The bytes a design's documented layout takes, and the slack allowed for headers.

    Hash store: 16 bytes per table slot (``table_geometry``), 8 per queue slot
    of a heap (16 for the bucket queue: slot and link), a movable bit per
    lower-tier PFN.  PFN array: one word per lower-tier PFN (4 bytes precise,
    1 default), the movable bit, a few words per scan section.
    """
    lower = designs.LOWER_PAGES
    kw = designs.DESIGNS[row["design"]]
    if kw["store"] == "hash":
        nshards, slots = table_geometry(row["tracked_pfns"])
        queue_slots = row["tracked_pfns"] // 4  # 25 % of the table, one top-tier node
        per_queue_slot = 16 if kw["queue"] == "bucket" else 8
        return 16 * nshards * slots + per_queue_slot * queue_slots + lower // 8, 256 * (nshards + 1)
    assert kw["store"] == "pfn-array"
    word = 4 if kw["mode"] == "precise" else 1
    sections = lower // 32768
    return word * lower + lower // 8, 32 * sections + 512


def test_bytes_per_pfn_is_the_documented_layout(rows: list[Row]) -> None:
    seen = set()
    for r in rows:
        if r["design"] in ("bare-loop", "kernel-v2"):
            continue
        assert r["bytes_per_pfn"] == r["memory_bytes"] / r["tracked_pfns"]
        assert r["bytes_per_gib"] == r["memory_bytes"] / designs.LOWER_TIER_GIB
        layout, slack = _layout_bytes(r)
        assert 0 <= r["memory_bytes"] - layout < slack, (r["design"], r["memory_bytes"], layout)
        seen.add(r["design"])
    assert seen == {"hash/binary", "hash/bucket", "pfn-array/default"}


def test_with_ratios_divides_by_the_default_design() -> None:
    group: dict[str, Row] = {
        "bare-loop": {"ns_per_access": 5.0, "topk_accuracy": float("nan")},
        "hash/binary": {"ns_per_access": 20.0, "bytes_per_pfn": 16.0, "topk_accuracy": 0.8},
        "hash/bucket": {"ns_per_access": 30.0, "bytes_per_pfn": 24.0, "topk_accuracy": 0.4},
        "kernel-v2": {"skipped": "too big"},
    }
    out = {r["design"]: r for r in designs._with_ratios(group, "4K", "zipf", 100)}
    assert out["bare-loop"]["ns_per_access_ratio"] == 0.25
    assert math.isnan(out["bare-loop"]["topk_accuracy_ratio"])
    assert out["hash/bucket"]["ns_per_access_ratio"] == 1.5
    assert out["hash/bucket"]["bytes_per_pfn_ratio"] == 1.5
    assert out["hash/bucket"]["topk_accuracy_ratio"] == 0.5
    assert out["hash/binary"]["topk_accuracy_ratio"] == 1.0
    assert not any(k.endswith("_ratio") for k in out["kernel-v2"])
    assert out["hash/bucket"]["tracked_pfns"] == 4096 and out["hash/bucket"]["accesses"] == 100


def test_table_cells_are_the_row_values() -> None:
    row = {
        "design": "hash/binary",
        "size": "1M",
        "workload": "zipf",
        "ns_per_access": 1234.56,
        "ns_per_access_ratio": 1.0,
        "ns_per_extracted": float("nan"),
        "bytes_per_pfn": 20.94,
        "bytes_per_pfn_ratio": 0.5,
        "bytes_per_gib": 700.4,
        "topk_accuracy": 0.875,
        "topk_accuracy_ratio": None,
    }
    lines = designs.format_table([row]).splitlines()
    assert lines[0].startswith("| size | workload | design | ns/access |")
    assert lines[2] == ("| 1M | zipf | hash/binary | 1,234.6 | 1.00 | - | - | 20.9 | 0.50 | 700 | 0.88 | - |")
