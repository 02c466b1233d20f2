"""Nothing dropped silently, migration cost by default, migration results (issue 12).

- The default migration costs are the published ones (``pghot.machine.costs``):
  a promotion in the fault path (``second-access``) at the single-page cost,
  kpromoted's promotions and kswapd's demotions at the batched cost; all of it
  in the estimated time, the fault path's part reported apart.
- Per policy: migration traffic in MiB/s over the trace's duration, time spent
  migrating, the share of promotions that were ping-pongs; in the result, the
  JSON and the text table, with the candidates the tracker or kpromoted lost.
- What reading a trace dropped or skipped (perf samples without a physical
  address, malformed lines under ``--skip-bad``, CPUs without a node) and time
  stamps that never advance are counted in the notes and ``trace["reading"]``.

Every expected number is computed by hand in the comments.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import numpy as np
import pytest

from pghot.cli import main
from pghot.machine import costs
from pghot.sim import SimConfig, demo_trace, replay
from pghot.sim.results import migration_metrics
from pghot.traces import TraceChunk, cache_reading, open_trace

DATA = pathlib.Path(__file__).parent / "data"
PERF = str(DATA / "minor_faults.perf")  # 121 samples, 2 of them with phys_addr 0
EVERY_ACCESS = [{"name": "hw-hints", "sample_every": 1}]
B, S = 1237.0, 4847.0  # ns per 4 KiB page: batched, single (costs.MIGRATE_4K_*)


def chunk(pages: list[int], times_ms: list[int]) -> TraceChunk:
    return TraceChunk(
        time_ns=np.asarray(times_ms, dtype=np.int64) * 1_000_000, pfn=np.asarray(pages, dtype=np.uint64)
    )


def small(**kw: Any) -> SimConfig:
    base: dict[str, Any] = dict(top_pages=2, lower_pages=4, sources=EVERY_ACCESS)
    base.update(kw)
    return SimConfig(**base)


# -- migration costs ----------------------------------------------------------------------


def test_default_costs_are_the_published_ones() -> None:
    assert SimConfig().migration_ns is None
    assert (
        SimConfig().migration_costs_ns()
        == (B, S)
        == (costs.MIGRATE_4K_BATCHED_NS, costs.MIGRATE_4K_SINGLE_NS)
    )
    # a THP: 2 MiB at 11.02 GB/s, batched or not
    assert SimConfig(page_size=2 << 20).migration_costs_ns() == (190304.0, 190304.0)
    # 8 KiB pages copy twice the bytes of 4 KiB ones; 4 MiB twice a THP
    assert SimConfig(page_size=8192).migration_costs_ns() == (2 * B, 2 * S)
    assert SimConfig(page_size=4 << 20).migration_costs_ns() == (2 * 190304.0, 2 * 190304.0)
    # set: one cost for every migration; 0 is free
    assert SimConfig(migration_ns=700).migration_costs_ns() == (700.0, 700.0)
    assert SimConfig(migration_ns=0).migration_costs_ns() == (0.0, 0.0)
    # --set migration_ns=none goes back to the default
    c = SimConfig(migration_ns=5).with_overrides({"migration_ns": None})
    assert c.migration_ns is None and c.migration_costs_ns() == (B, S)


@pytest.mark.parametrize(
    ("value", "exc", "text"),
    [
        (-1, ValueError, "migration_ns"),
        ("fast", TypeError, "migration_ns"),
        (True, TypeError, "migration_ns"),
    ],
)
def test_bad_migration_ns_names_the_key(value: Any, exc: type[Exception], text: str) -> None:
    with pytest.raises(exc, match=text):
        SimConfig(migration_ns=value)


@pytest.mark.parametrize(
    ("args", "kwargs", "exc"),
    [
        ((True,), {}, TypeError),
        ((4096.0,), {}, TypeError),
        (("4096",), {}, TypeError),
        ((0,), {}, ValueError),
        ((-4096,), {}, ValueError),
        ((3000,), {}, ValueError),
        ((4096,), {"batched": 1}, TypeError),
    ],
)
def test_page_migration_ns_refuses_bad_input(
    args: tuple[Any, ...], kwargs: dict[str, Any], exc: type
) -> None:
    with pytest.raises(exc):
        costs.page_migration_ns(*args, **kwargs)


def test_second_access_pays_the_single_cost_in_the_fault_path() -> None:
    # Page 2 at t=2 and t=4: second-access promotes it at t=4 (one page, in the fault
    # path: 4847 ns, the faulting thread's) and kswapd demotes the CLOCK victim
    # (batched: 1237 ns).  Hits: t=0,1 (pages 0, 1) and t=5..7 (page 2) = 5 of 8.
    trace = [chunk([0, 1, 2, 3, 2, 2, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7])]
    r = replay(trace, small(promoter={"interval_ms": 4}), baselines=("none", "second-access"), progress=False)
    sa = r["second-access"]
    assert (sa.top_tier_hits, sa.promotions, sa.demotions) == (5, 1, 1)
    assert sa.migration_time_ns == S + B and sa.fault_path_migration_ns == S
    assert sa.est_time_ns == 5 * 100 + 3 * 250 + S + B
    # the trace lasts 8 jiffies (0..7) = 0.008 s: one 4 KiB page each way
    assert sa.promoted_mbps == sa.demoted_mbps == pytest.approx(4096 / 2**20 / 0.008)
    assert sa.ping_pong_share == 0.0
    # pghot's round at 4 found page 2 with one report: nothing migrated, nothing charged
    p = r["pghot"]
    assert (p.promotions, p.migration_time_ns, p.promoted_mbps, p.ping_pong_share) == (0, 0.0, 0.0, None)
    assert p.est_time_ns == 2 * 100 + 6 * 250
    # one cost for all when migration_ns is set
    r = replay(trace, small(migration_ns=1000), baselines=("second-access",), progress=False)
    sa = r["second-access"]
    assert (sa.est_time_ns, sa.fault_path_migration_ns) == (5 * 100 + 3 * 250 + 2 * 1000, 1000.0)


def test_kpromoted_pays_the_batched_cost_and_the_rates_are_per_second() -> None:
    # pghot promotes pages 2 and 3 in its rounds at 5 and 6 (demoting 0 and 1): 4 pages
    # moved by kernel threads, 1237 ns each; over 0.008 s, 2 pages of 4 KiB each way
    trace = [chunk([0, 1, 2, 3, 2, 3, 2, 3], [0, 1, 2, 3, 4, 5, 6, 7])]
    r = replay(trace, small(promoter={"interval_ms": 1}), baselines=("none",), progress=False)
    p = r["pghot"]
    assert (p.promotions, p.demotions, p.ping_pong) == (2, 2, 0)
    assert (p.migration_time_ns, p.fault_path_migration_ns) == (4 * B, 0.0)
    assert p.promoted_mbps == p.demoted_mbps == pytest.approx(2 * 4096 / 2**20 / 0.008)
    d = json.loads(r.to_json())["policies"]["pghot"]
    assert d["migration_time_ns"] == 4 * B and d["ping_pong_share"] == 0.0
    assert d["promoted_mbps"] == pytest.approx(0.9765625) and d["fault_path_migration_ns"] == 0.0


@pytest.mark.parametrize("share", [0.0, 0.25, 1.0])
def test_kthread_share_charges_part_of_the_kernel_threads_time(share: float) -> None:
    """The two traces above, with ``kthread_share``: the faulting thread's promotion is always
    charged; kpromoted's and kswapd's moves at the share; the migration time reported whole."""
    trace = [chunk([0, 1, 2, 3, 2, 2, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7])]
    cfg = small(promoter={"interval_ms": 4}, kthread_share=share)
    sa = replay(trace, cfg, baselines=("second-access",), progress=False)["second-access"]
    assert sa.migration_time_ns == S + B and sa.fault_path_migration_ns == S
    assert sa.est_time_ns == 5 * 100 + 3 * 250 + S + share * B  # the demotion is kswapd's
    trace = [chunk([0, 1, 2, 3, 2, 3, 2, 3], [0, 1, 2, 3, 4, 5, 6, 7])]
    r = replay(
        trace, small(promoter={"interval_ms": 1}, kthread_share=share), baselines=("none",), progress=False
    )
    p = r["pghot"]
    assert p.migration_time_ns == 4 * B and p.fault_path_migration_ns == 0.0
    base = p.top_tier_hits * 100 + (8 - p.top_tier_hits) * 250
    assert p.est_time_ns == base + share * 4 * B
    text = r.summary()
    assert ("kthread_share" in text) == (share != 1)


@pytest.mark.parametrize(
    ("value", "exc", "text"),
    [
        (1.5, ValueError, r"kthread_share must be in \[0, 1\]"),
        (-0.1, ValueError, "kthread_share"),
        ("half", TypeError, "kthread_share"),
    ],
)
def test_bad_kthread_share_names_the_key(value: Any, exc: type[Exception], text: str) -> None:
    with pytest.raises(exc, match=text):
        SimConfig(kthread_share=value)


def test_ping_pong_share_of_the_promotions() -> None:
    # three lower-tier pages take turns for two top-tier PFNs (second-access, every
    # access reported): 2, 3, 4, 2, 3, 4 ... after the first two promotions each
    # promotion demotes a page promoted a few ms before
    pages = [0, 1, 2, 2, 3, 3, 4, 4, 2, 2, 3, 3, 4, 4]
    r = replay([chunk(pages, list(range(len(pages))))], small(lower_pages=8), baselines=("second-access",))
    sa = r["second-access"]
    assert sa.promotions == 6 and sa.ping_pong == 4  # the 3rd..6th promotions demote a promoted page
    assert sa.ping_pong_share == pytest.approx(4 / 6)
    assert "66.7%" in r.summary()


def test_migration_metrics_by_hand() -> None:
    # 10 promotions by kpromoted, 4 demotions, 2 other moves, 8 KiB pages over 0.5 s
    m = migration_metrics(
        10, 16, 4, page_size=8192, duration_s=0.5, batched_ns=2.0, single_ns=9.0, fault_path=False
    )
    assert m == {
        "promoted_mbps": 10 * 8192 / 2**20 / 0.5,
        "demoted_mbps": 4 * 8192 / 2**20 / 0.5,
        "migration_time_ns": 16 * 2.0,
        "fault_path_migration_ns": 0.0,
    }
    m = migration_metrics(
        10, 16, 4, page_size=8192, duration_s=0.5, batched_ns=2.0, single_ns=9.0, fault_path=True
    )
    assert (m["migration_time_ns"], m["fault_path_migration_ns"]) == (10 * 9.0 + 6 * 2.0, 90.0)


# -- the text table -------------------------------------------------------------------------


def _table_rows(text: str, column: str) -> dict[str, list[str]]:
    """The rows (split on two spaces) of the table with the column ``column``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("policy") and column in line)
    rows: dict[str, list[str]] = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        cells = [c.strip() for c in line.split("  ") if c.strip()]
        rows[cells[0]] = cells[1:]
    return rows


def test_losses_and_migrations_are_in_the_text_table() -> None:
    # a queue of 8 records and 1 MiB/s: candidates refused by the full queue, others
    # dropped by the rate limit; both must be in the table, as in the JSON
    cfg = SimConfig(
        top_pages=250,
        tracker={"queue_capacity": 8},
        promoter={"rate_limit_mbps": 1, "stale_check": True, "batch": 64},
    )
    r = replay([demo_trace(40_000, 1_000, seed=3)], cfg, baselines=("none", "second-access"), progress=False)
    p = r["pghot"]
    tr, pr = p.stats["tracker"], p.stats["promoter"]
    assert tr["queue_full"] > 0 and pr["kpromoted_rate_limited"] > 0
    text = r.summary()
    rows = _table_rows(text, "queue full")
    assert rows["pghot"] == [
        f"{p.promoted_mbps:,.2f} MiB/s",
        f"{p.demoted_mbps:,.2f} MiB/s",
        rows["pghot"][2],  # a duration
        "0 ns",  # kpromoted pays, not the faulting thread
        f"{100 * p.ping_pong / p.promotions:.1f}%",
        f"{tr['table_full']:,}",
        f"{tr['queue_full']:,}",
        f"{pr['kpromoted_rate_limited']:,}",
        f"{pr['kpromoted_stale']:,}",
        f"{p.promote_fail_no_space:,}",
    ]
    assert rows["none"][-5:] == ["-", "-", "-", "-", "0"] and rows["second-access"][-5:-1] == ["-"] * 4
    assert rows["second-access"][3] != "0 ns"  # second-access promotes in the fault path
    assert "1,237 ns per page migrated by a kernel thread" in text and "4,847 ns per page promoted" in text
    assert (
        "0 ns per migrated page (migration_ns)"
        in replay([demo_trace(2000, 100)], SimConfig(migration_ns=0), progress=False).summary()
    )


# -- nothing dropped silently ---------------------------------------------------------------


def test_perf_samples_without_a_physical_address_are_counted() -> None:
    r = replay(PERF, SimConfig(), progress=False)
    reading = r.trace["reading"]
    assert (reading["format"], reading["records"], reading["no_phys_addr"]) == ("perf", 119, 2)
    assert r.trace["accesses"] == 119 and r.trace["address_space"] == "physical"
    note = "reading: 2 of 121 perf samples (1.7%) had no physical address (phys_addr 0) and were dropped"
    assert any(n.startswith(note) for n in r.notes) and note in r.summary()
    assert json.loads(r.to_json())["trace"]["reading"]["no_phys_addr"] == 2
    # kept by their virtual addresses: every sample, nothing dropped
    r = replay(PERF, SimConfig(), progress=False, open_options={"perf_space": "vaddr"})
    assert r.trace["accesses"] == 121 and r.trace["address_space"] == "virtual"
    assert r.trace["reading"]["no_phys_addr"] == 0 and not any(n.startswith("reading:") for n in r.notes)


def test_samples_kept_on_pfn_0_are_counted() -> None:
    with open_trace(PERF, keep_unmapped=True) as r:
        c = TraceChunk.concat(list(r))
    assert len(c) == 121 and (r.no_phys_addr, r.unmapped_kept) == (0, 2)
    assert int(np.count_nonzero(c.get("pfn") == 0)) == 2
    r2 = replay(PERF, SimConfig(), progress=False, open_options={"keep_unmapped": True})
    assert r2.trace["accesses"] == 121 and r2.trace["reading"]["unmapped_kept"] == 2
    assert any(
        n.startswith("reading: 2 perf samples had no physical address") and "PFN 0" in n for n in r2.notes
    )


def test_perf_space_is_checked() -> None:
    with pytest.raises(ValueError, match="perf_space must be"):
        open_trace(PERF, perf_space="physical")
    with pytest.raises(ValueError, match="needs the addr column"):
        open_trace(PERF, perf_columns=("phys_addr",), perf_space="vaddr")
    with open_trace(PERF, perf_space="vaddr") as r:
        c = TraceChunk.concat(list(r))
    assert "pfn" not in c.fields() and len(c) == 121 and r.no_phys_addr == 0


def test_cli_perf_vaddr_and_the_dropped_samples(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", PERF, "--no-progress"]) == 0
    assert "2 of 121 perf samples (1.7%) had no physical address" in capsys.readouterr().out
    assert main(["replay", PERF, "--no-progress", "--perf-vaddr", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["trace"]["accesses"] == 121 and data["trace"]["reading"]["no_phys_addr"] == 0
    dst = tmp_path / "p.npy"
    assert main(["convert", PERF, str(dst), "--no-progress"]) == 0
    assert "2 perf samples without a physical address dropped" in capsys.readouterr().out
    assert main(["convert", PERF, str(dst), "--no-progress", "--perf-vaddr"]) == 0
    assert np.load(dst).shape == (121,) and "dropped" not in capsys.readouterr().out


def test_skipped_lines_are_reported_by_replay(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "t.csv"
    src.write_text("pfn,time_ms\n1,0\noops\n2,1\n1,2\n2,3\n")
    r = replay(str(src), SimConfig(top_pages=1), progress=False, open_options={"skip_bad": True})
    assert r.trace["reading"]["bad_lines"] == 1 and r.trace["reading"]["records"] == 4
    assert r.trace["reading"]["first_bad"][0][0] == 3
    assert any(
        n.startswith("reading: 1 malformed lines skipped (--skip-bad); the first at line 3") for n in r.notes
    )
    assert main(["replay", str(src), "--skip-bad", "--no-progress", "--top-pages", "1"]) == 0
    assert "1 malformed lines skipped" in capsys.readouterr().out
    # from the cache too: the first run parses, the second reads the .npy only
    for _ in range(2):
        assert (
            main(["replay", str(src), "--skip-bad", "--cache", "--no-progress", "--top-pages", "1", "--json"])
            == 0
        )
        data = json.loads(capsys.readouterr().out)
        assert data["trace"]["reading"]["format"] == "csv" and data["trace"]["reading"]["bad_lines"] == 1
        assert any("1 malformed lines skipped" in n for n in data["notes"])
    reading = cache_reading(src)
    assert reading is not None and reading["bad_lines"] == 1
    assert cache_reading(tmp_path / "none.csv") is None


def test_unknown_cpus_are_counted() -> None:
    r = replay(PERF, SimConfig(), progress=False, open_options={"cpu_to_node": {0: 0}})
    unknown = r.trace["reading"]["unknown_cpu"]
    assert unknown > 0
    assert any(n.startswith(f"reading: {unknown:,} records came from CPUs") for n in r.notes)


def test_a_lackey_trace_without_instructions_never_advances(tmp_path: pathlib.Path) -> None:
    src = tmp_path / "noinstr.lackey"
    src.write_text(" L 00403000,1\n S 00404000,8\n L 00405000,4\n L 00403000,1\n")
    r = replay(str(src), SimConfig(top_pages=1), progress=False)
    (note,) = [n for n in r.notes if n.startswith("time:")]
    assert note.startswith(
        "time: the trace's 4 records all have the time stamp 0 ns: its time never advances"
    )
    assert "lackey trace without instruction lines 'I'" in note
    # lackey runs on the closed clock (time_model auto): 3 LLC misses, issued at 0, 100 and 350 ns
    assert "the closed clock advances with the memory stalls alone, to 350 ns" in note


def test_a_trace_shorter_than_a_jiffy_is_not_called_frozen() -> None:
    trace = TraceChunk(
        time_ns=np.array([0, 250_000, 500_000], dtype=np.int64), pfn=np.array([1, 2, 1], np.uint64)
    )
    r = replay([trace], SimConfig(top_pages=1), progress=False)
    (note,) = [n for n in r.notes if n.startswith("time:")]
    assert note.startswith("time: the trace lasts 500,000 ns, less than one jiffy (hz=1000)")
    assert "reading" not in r.trace  # chunks, not a file: no reader to count
    r = replay([trace], SimConfig(top_pages=1, hz=10_000), progress=False)  # 5 jiffies of 100 us
    assert not any(n.startswith("time:") for n in r.notes)


def test_promotions_without_room_are_in_the_text_table() -> None:
    # no demotion: the top tier (pages 0, 1) stays full, so second-access's promotions of
    # page 2 find no room; they are counted in the "no room" column
    trace = [chunk([0, 1, 2, 3, 2, 2, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7])]
    r = replay(trace, small(demotion=False), baselines=("second-access",), progress=False)
    sa = r["second-access"]
    assert sa.promotions == 0 and sa.promote_fail_no_space > 0 and sa.migration_time_ns == 0.0
    assert _table_rows(r.summary(), "no room")["second-access"][-1] == f"{sa.promote_fail_no_space:,}"
