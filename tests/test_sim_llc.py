"""The last-level-cache filter in front of a replay's memory (issue 12): only its misses reach the tiers."""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np
import pytest

from pghot.machine.cache import DEFAULT_LLC_BYTES
from pghot.sim import SimConfig, replay
from pghot.traces import TraceChunk, open_trace

LACKEY = str(pathlib.Path(__file__).parent / "data" / "tiny.lackey")


def _loop(passes: int, lines: int) -> TraceChunk:
    """``passes`` sweeps over ``lines`` cache lines (64 lines per 4 KiB page), 1 ms apart."""
    addr = np.tile(np.arange(lines, dtype=np.uint64) * np.uint64(64), passes) + np.uint64(0x10000)
    t = np.arange(addr.shape[0], dtype=np.int64) * 1_000_000
    return TraceChunk(time_ns=t, vaddr=addr)


def test_a_loop_that_fits_reaches_memory_once() -> None:
    cfg = SimConfig(top_pages=1, llc_bytes=64 * 15 * 64, llc_ways=15)  # 60 KiB: 960 lines
    r = replay([_loop(10, 256)], cfg, progress=False)
    want = {"size_bytes": 61440, "auto": False, "accesses": 2560, "hits": 2304, "misses": 256, "evictions": 0}
    assert r.trace["llc"] == want
    assert r.trace["accesses"] == 256  # the replay is of the misses
    assert r.trace["footprint_pages"] == 4
    assert "LLC filter: 61,440 bytes absorbed 2,304 of 2,560 trace accesses (90.0%)" in r.summary()


def test_a_footprint_that_fits_the_filter_is_called_out() -> None:
    # 40 passes over 4 pages: 97.5 % absorbed by a 60 KiB filter that holds them all
    cfg = SimConfig(top_pages=1, llc_bytes=64 * 15 * 64, llc_ways=15)
    r = replay([_loop(40, 256)], cfg, progress=False)
    [note] = [n for n in r.notes if n.startswith("LLC: ")]
    assert "the footprint (16.0 KiB) fits in the 60.0 KiB LLC filter, which absorbed 97.5%" in note
    # 10 passes absorb 90 %: below the threshold; a footprint larger than the filter: never
    assert not [n for n in replay([_loop(10, 256)], cfg, progress=False).notes if n.startswith("LLC: ")]
    small = SimConfig(top_pages=1, llc_bytes=64 * 15 * 4, llc_ways=15)
    assert not [n for n in replay([_loop(40, 256)], small, progress=False).notes if n.startswith("LLC: ")]


def test_a_loop_larger_than_the_cache_always_misses() -> None:
    cfg = SimConfig(top_pages=1, llc_bytes=64 * 15 * 4, llc_ways=15)  # 60 lines, LRU
    r = replay([_loop(5, 120)], cfg, progress=False)
    assert r.trace["llc"]["hits"] == 0 and r.trace["accesses"] == 600


def test_without_the_filter_every_access_reaches_memory() -> None:
    r = replay([_loop(10, 256)], SimConfig(top_pages=1), progress=False)
    assert "llc" not in r.trace and r.trace["accesses"] == 2560


def test_both_engines_agree_with_the_filter() -> None:
    cfg = SimConfig(
        top_pages=1,
        llc_bytes=64 * 15,
        sources=[{"name": "hw-hints", "sample_every": 1}],
        promoter={"interval_ms": 1},
    )
    kw: dict[str, Any] = {"open_options": {"ns_per_instr": 1_000_000}, "progress": False}
    a = replay(LACKEY, cfg, engine="reference", **kw).to_dict(heatmap=True)
    b = replay(LACKEY, cfg, engine="compiled", **kw).to_dict(heatmap=True)
    assert a == b
    assert 0 < a["trace"]["llc"]["hits"] < a["trace"]["llc"]["accesses"]


@pytest.mark.parametrize(
    "kw, msg",
    [
        ({"llc_bytes": 1000}, "config: llc_bytes: size_bytes must be a multiple"),
        ({"llc_bytes": -1}, "llc_bytes"),
        ({"llc_bytes": "on"}, "llc_bytes"),
        ({"llc_ways": 0}, "llc_ways"),  # the default filter's knobs too
        ({"llc_bytes": "big"}, "llc_bytes"),
        ({"llc_bytes": 6400, "llc_line_bytes": 48}, "llc_line_bytes"),
        ({"llc_bytes": 6400, "llc_ways": 0}, "llc_ways"),
    ],
)
def test_bad_filter_knobs_are_refused_before_reading(kw: dict[str, Any], msg: str) -> None:
    with pytest.raises((TypeError, ValueError), match=msg):
        replay([_loop(1, 4)], SimConfig(**kw), progress=False)


# -- the default: on for lackey traces, off for memory-level ones ----------------------


def test_a_lackey_trace_gets_the_default_filter() -> None:
    r = replay(LACKEY, SimConfig(top_pages=2), progress=False)
    llc = r.trace["llc"]
    assert llc["size_bytes"] == DEFAULT_LLC_BYTES and llc["auto"] is True
    # tiny.lackey touches 9 distinct 64-byte lines in 69 data accesses: each misses once
    assert (llc["accesses"], llc["hits"], llc["misses"]) == (69, 60, 9)
    assert r.trace["accesses"] == 9
    text = r.summary()
    assert "LLC filter (the default for lackey: a Xeon Platinum 8480+ L3, 105.0 MiB; llc_bytes=0: none)" in (
        text
    )
    assert "absorbed 60 of 69 trace accesses (87.0%)" in text


@pytest.mark.parametrize("off", [0, "off", False])
def test_llc_bytes_0_turns_the_default_off(off: Any) -> None:
    r = replay(LACKEY, SimConfig(top_pages=2, llc_bytes=off), progress=False)
    assert "llc" not in r.trace and r.trace["accesses"] == 69 and "LLC filter" not in r.summary()


def test_auto_is_the_default() -> None:
    assert SimConfig(llc_bytes="auto") == SimConfig() and SimConfig().llc_bytes is None


def test_lackey_chunks_get_the_default_filter_too() -> None:
    # chunks of lackey's reader (they carry `kind`), as a list: not the reader itself
    with open_trace(LACKEY) as reader:
        chunks = list(reader)
    assert chunks[0].kind is not None
    r = replay(chunks, SimConfig(top_pages=2), progress=False)
    assert r.trace["llc"]["auto"] is True and r.trace["accesses"] == 9


def test_memory_level_traces_get_no_default_filter() -> None:
    # _loop's chunks carry no `kind`: not lackey; an explicit size filters them all the same
    r = replay([_loop(10, 256)], SimConfig(top_pages=1), progress=False)
    assert "llc" not in r.trace and r.trace["accesses"] == 2560
    r = replay([_loop(10, 256)], SimConfig(top_pages=1, llc_bytes=64 * 15 * 64), progress=False)
    assert r.trace["llc"]["auto"] is False and r.trace["accesses"] == 256


@pytest.mark.parametrize("fmt", ["perf", "csv", "npy", "npz", "damo", None])
def test_the_default_filter_is_only_for_lackey(fmt: str | None) -> None:
    assert SimConfig().llc(fmt) is None and SimConfig().llc_size(fmt) == 0
    assert SimConfig(llc_bytes=960).llc(fmt).size_bytes == 960
    assert SimConfig().llc("lackey").size_bytes == DEFAULT_LLC_BYTES


@pytest.mark.parametrize("ways", [1, 11, 15, 16, 24])
def test_the_default_size_fits_any_associativity(ways: int) -> None:
    llc = SimConfig(llc_ways=ways).llc("lackey")
    assert llc.ways == ways and llc.size_bytes % (64 * ways) == 0
    assert DEFAULT_LLC_BYTES - 64 * ways < llc.size_bytes <= DEFAULT_LLC_BYTES
