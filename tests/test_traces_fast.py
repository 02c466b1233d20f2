"""The CSV and perf readers' numpy paths give exactly what their per-line paths give.

Each file is read twice, with the fast path on and off (``_FAST``), at
several block sizes (a block boundary falls inside lines); the chunks
(fields, dtypes, values), the counters, the first bad lines and any error
message must be identical. The files are hand-made edge cases and random
files mixing plain rows with every kind of oddity. A test also checks that
plain files do take the fast path, so that the comparisons compare two
paths.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pghot.traces as traces
from pghot.traces import TraceChunk, open_trace
from pghot.traces import csv as csv_reader
from pghot.traces import perf as perf_reader

BLOCKS = [16, 61, 1000, 1 << 22]


def _outcome(path: Path, **kw: Any) -> tuple[Any, ...]:
    """What reading ``path`` gives: the chunks' arrays and the counters, or the error."""
    try:
        with open_trace(path, **kw) as r:
            chunks = list(r)
    except ValueError as e:
        return ("error", str(e))
    arrays = []
    for c in chunks:
        arrays.append([(f, c.get(f).dtype.str, c.get(f).tolist()) for f in c.fields()])
    return ("ok", arrays, r.counters, r.first_bad)


def _both(
    monkeypatch: pytest.MonkeyPatch, module: Any, path: Path, block: int, **kw: Any
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    monkeypatch.setattr(traces._reader, "_BLOCK_BYTES", block)
    monkeypatch.setattr(module, "_FAST", False)
    slow = _outcome(path, **kw)
    monkeypatch.setattr(module, "_FAST", True)
    fast = _outcome(path, **kw)
    return slow, fast


def _same(monkeypatch: pytest.MonkeyPatch, module: Any, path: Path, **kw: Any) -> list[tuple[Any, ...]]:
    outcomes = []
    for block in BLOCKS:
        for skip in (False, True):
            slow, fast = _both(monkeypatch, module, path, block, skip_bad=skip, **kw)
            assert fast == slow, (block, skip)
            outcomes.append(slow)
    return outcomes


# -- CSV -------------------------------------------------------------------------------

CSV_CASES = {
    "plain": "pfn,time_ns\n1,10\n2,20\n3,30\n",
    "crlf": "pfn,time_ns\r\n1,10\r\n2,20\r\n",
    "cr_cr": "pfn,time_ns\n1,10\r\r\n2,20\n",
    "no_final_newline": "pfn,time_ns\n1,10\n2,20",
    "empty_lines": "pfn,time_ns\n\n1,10\n\n\n2,20\n\n",
    "blank_lines": "pfn,time_ns\n   \n1,10\n\t\n2,20\n",
    "comments": "# a,b,c\npfn,time_ns\n# 1,2\n1,10\n#,,,\n2,20\n# end",
    "hex_and_decimal": "vaddr,time\n0x10,1\n16,2\n0X1f,3\n00017,4\n0xffffffffffffffff,5\n",
    "hex_bad": "vaddr,time\n0x,1\n0xg1,2\n0x1,3\n",
    "huge": "pfn,time_ns\n18446744073709551615,9223372036854775807\n"
    "18446744073709551616,1\n1,9223372036854775808\n",
    "nineteen_digits": "pfn,time_ns\n1234567890123456789,123456789012345678\n9999999999999999999,1\n",
    "leading_zeros": "pfn,time_ns\n000000000000000000000001,0000000000000000000000010\n",
    "negative": "pfn,time_ns,nid,cpu\n1,10,-1,-1\n2,20,-2,3\n3,30,0,-0\n-4,40,0,0\n",
    "units": "pfn,time_us\n1,9223372036854775\n2,9223372036854776\n",
    "units_ms": "pfn,time_ms\n1,9223372036854\n2,1\n",
    "src": "pfn,time,src\n1,1,0\n2,2,hw_hints\n3,3,2\n4,4,3\n5,5,PGHOT_PGTABLE_SCAN\n",
    "spaces": "pfn , time_ns\n 1,10\n2 ,20\n3, 30\n",
    "bad_lines": "pfn,time_ns\n1,10\noops\n2,20,3\n,\n3,\n4,40\nx,y\n",
    "extra_column": "pfn,junk,time_ns\n1,abc,10\n2,,20\n3,x y z,30\n",
    "only_header": "pfn,time_ns\n",
    "no_header": "",
    "comment_before_header": "# hi\n\n# there\nvaddr,time_ns,nid\n0x1000,1,0\n",
    "plus_and_underscore": "pfn,time_ns\n+1,10\n1_0,20\n",
    "cpu_to_node": "pfn,time_ns,cpu\n1,10,0\n2,20,5\n3,30,1\n",
    "both_addresses": "pfn,vaddr,time_ns\n1,0x1000,5\n2,8192,6\n",
    "upper_header": "PFN,Time_NS\n1,2\n",
    "nul": "pfn,time_ns\n1,1\n2\x00,2\n",
    "non_ascii": "pfn,time_ns\n1,1\n\xe9,2\n",
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_csv_edge_cases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(CSV_CASES[case].encode("latin1"))
    kw: dict[str, Any] = {"format": "csv"}
    if case == "cpu_to_node":
        kw["cpu_to_node"] = {0: 0, 1: 1}
    _same(monkeypatch, csv_reader, path, **kw)


def test_csv_too_long_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.csv"
    path.write_text("pfn,time_ns\n1,1\n" + "1" * 30 + ",2\n3,3\n" + "4," + "5" * 40 + "\n6,6\n")
    outcomes = _same(monkeypatch, csv_reader, path, max_line_bytes=20)
    assert outcomes[0][0] == "error" and "longer than 20 bytes" in outcomes[0][1]


def _random_csv(rng: random.Random) -> str:
    header = rng.choice(
        [
            ["pfn", "time_ns"],
            ["vaddr", "time_us", "nid"],
            ["vaddr", "time", "nid", "cpu", "src"],
            ["x", "pfn", "time_ms"],
            ["pfn", "vaddr", "time_ns", "cpu"],
        ]
    )
    lines = ["# random trace"] if rng.random() < 0.3 else []
    lines.append(",".join(header))
    odd = rng.random() < 0.5  # half the files plain, half with oddities
    for _ in range(rng.randrange(0, 120)):
        cells = []
        for name in header:
            if name in ("pfn", "vaddr"):
                v = rng.choice([rng.randrange(1 << 20), rng.randrange(1 << 48), 2**64 - 1])
                # twenty decimal digits are not plain: the per-line path parses them
                cells.append(hex(v) if rng.random() < 0.3 or (v == 2**64 - 1 and not odd) else str(v))
            elif name.startswith("time"):
                cells.append(str(rng.randrange(10 ** rng.randrange(1, 13))))
            elif name in ("nid", "cpu"):
                cells.append(str(rng.randrange(-1, 8)))
            elif name == "src":
                cells.append(str(rng.randrange(3)))
            else:
                cells.append(rng.choice(["", "a", "1", "x y"]))
        line = ",".join(cells)
        if odd and rng.random() < 0.15:
            line = rng.choice(
                [
                    "",
                    "# comment, with, commas",
                    "   ",
                    line + ",extra",
                    line.replace(",", ", ", 1),
                    "garbage",
                    line + "\r",
                    "9" * 25 + "," + line,
                    line.replace("0", "o"),
                    "-" + line,
                    line + "\r\r",
                ]
            )
        lines.append(line)
    end = "\n" if rng.random() < 0.8 else ""
    newline = "\r\n" if rng.random() < 0.2 else "\n"
    return newline.join(lines) + end


@pytest.mark.parametrize("seed", range(40))
def test_csv_random_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "t.csv"
    path.write_text(_random_csv(rng))
    kw: dict[str, Any] = {"format": "csv", "chunk_size": rng.choice([1, 7, 1 << 20])}
    if rng.random() < 0.3:
        kw["cpu_to_node"] = {0: 0, 1: 0, 2: 1}
    if rng.random() < 0.3:
        kw["max_line_bytes"] = 40
    _same(monkeypatch, csv_reader, path, **kw)


def test_csv_plain_blocks_take_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.csv"
    rows = [f"{i},{10 * i},{i % 2},0x{i:x}" for i in range(5000)]
    path.write_text("# c\npfn,time_ns,nid,vaddr\n" + "\n".join(rows) + "\n# end\n\n")
    calls: list[int] = []
    slow = csv_reader._slow_block

    def counting(*args: Any) -> Any:
        calls.append(1)
        return slow(*args)

    monkeypatch.setattr(csv_reader, "_slow_block", counting)
    monkeypatch.setattr(traces._reader, "_BLOCK_BYTES", 4096)
    with open_trace(path) as r:
        c = TraceChunk.concat(list(r))
    assert calls == [1]  # the lines up to the header only
    assert c.pfn is not None and c.pfn.tolist() == list(range(5000))
    assert c.get("vaddr").tolist() == list(range(5000)) and r.lines_read == 5004


# -- perf ------------------------------------------------------------------------------

L1 = "[000]  5021.118204:     7f6c2a401040      10a2c01040"
L2 = "[005]  5021.118377:     7f6c2a401080      10a2c01080"
PERF_CASES = {
    "plain": f"{L1}\n{L2}\n",
    "crlf": f"{L1}\r\n{L2}\r\n",
    "cr_cr": f"{L1}\r\r\n{L2}\n",
    "cr_space": f"{L1}\r \n{L2}\n",
    "space_cr": f"{L1} \r\n{L2}\t\n",
    "no_final_newline": f"{L1}\n{L2}",
    "empty_lines": f"\n{L1}\n\n\n{L2}\n\n",
    "comments": f"# perf script\n{L1}\n  # indented, 1.2: ab\n{L2}\n#",
    "no_cpu": "  5021.118204:     7f6c2a401040      10a2c01040\n5021.2: 1 0\n",
    "mixed_cpu": f"{L1}\n  5021.118204:     7f6c2a401040      10a2c01040\n",
    "cpu_spaces": "[  3]  5021.118204:     7f6c2a401040      10a2c01040\n[3] 1.5: a b\n",
    "ns": "[001] 5021.118204123: ab cd\n[001] 5021.118204123456: ab cd\n[001] 1.1: ab cd\n",
    "events": "[000] 1.000001: minor-faults: 7f00 1000\n"
    "[000] 1.000002: cpu/mem-loads,ldlat=30/P: 7f01 2000\n",
    "two_events": "[000] 1.000001: a: b: 7f00 1000\n[000] 1.000002: a: b: 7f01 2000\n",
    "events_differ": "[000] 1.000001: a: 7f00 1000\n[000] 1.000002: 7f01 2000\n",
    "one_column": "[000] 1.5: 7f00\n[000] 1.6: 7f01\n",
    "columns_differ": "[000] 1.5: 7f00\n[000] 1.6: 7f01 10\n",
    "phys_zero": "[000] 1.5: 7f00 0\n[000] 1.6: 7f01 3000\n[000] 1.7: 7f02 0\n",
    "huge_time": "[000] 9223372036.854775807: 1 1000\n[000] 9223372036.854775808: 1 1000\n"
    "[000] 99999999999999999999.1: 1 1000\n[000] 123456789.5: 1 1000\n",
    "huge_addr": "[000] 1.5: ffffffffffffffff 1000\n[000] 1.5: 1ffffffffffffffff 1000\n"
    "[000] 1.5: 0000000000000000001 1000\n",
    "huge_cpu": "[2147483647] 1.5: 1 1000\n[2147483648] 1.5: 1 1000\n[999999999999] 1.5: 1 1000\n",
    "bad_lines": f"{L1}\ngarbage\n[000] 1.5:\n[000] 1.5 ab cd\n[000] 1..5: ab cd\n[000] .5: ab\n{L2}\n",
    "bad_hex": "[000] 1.5: 7g00 1000\n[000] 1.5: 7f00 10x0\n",
    "dots": "[000] 1.5.5: 1 2\n[000] 1.: 1 2\n",
    "colon_inside": "[000] 1.5:x: 1 2\n[000] 1.5: a:b 2\n",
    "tabs": "\t[000]\t1.5:\t7f00\t1000\t\n[000] 1.6: 7f01 2000\n",
    "form_feed": "[000] 1.5: 7f00 1000\n\x0c\n[000] 1.6: 7f01 2000\n",
    "only_comments": "# a\n# b\n",
    "empty": "",
    "uppercase_hex": "[000] 1.5: 7F00 ABCDEF\n",
}


@pytest.mark.parametrize("case", sorted(PERF_CASES))
def test_perf_edge_cases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    path = tmp_path / "t.perf"
    path.write_bytes(PERF_CASES[case].encode("latin1"))
    for kw in ({}, {"keep_unmapped": True, "cpu_to_node": {0: 0, 5: 1}}, {"perf_columns": ("phys_addr",)}):
        _same(monkeypatch, perf_reader, path, format="perf", **kw)


def test_perf_too_long_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.perf"
    path.write_text(f"{L1}\n[000] 1.5:{' ' * 60}7f00 1000\n{L2}\n")
    outcomes = _same(monkeypatch, perf_reader, path, max_line_bytes=55)
    assert outcomes[0][0] == "error" and "longer than 55 bytes" in outcomes[0][1]


def _random_perf(rng: random.Random) -> str:
    cpu = rng.random() < 0.8
    ns = rng.random() < 0.3
    events = rng.choice([[], [], ["minor-faults:"], ["cpu/mem-loads,ldlat=30/P:", "x:"]])
    two = rng.random() < 0.7
    odd = rng.random() < 0.5
    lines = []
    t = rng.randrange(10**9)
    for _ in range(rng.randrange(0, 120)):
        t += rng.randrange(10**6)
        secs, frac = divmod(t, 10**9)
        when = f"{secs}.{frac:09d}" if ns else f"{secs}.{frac // 1000:06d}"
        parts = [f"[{rng.randrange(64):03d}]"] if cpu else []
        parts += [f"{when:>12}:"] + events + [f"{rng.randrange(1 << 47):16x}"]
        if two:
            parts.append(f"{rng.choice([0, rng.randrange(1 << 40)]):16x}")
        line = " ".join(parts)
        if odd and rng.random() < 0.15:
            line = rng.choice(
                [
                    "",
                    "# comment 1.5: ab",
                    "  \t ",
                    line + " ffff",
                    line.replace(":", "", 1),
                    "garbage",
                    line + "\r",
                    line + "\r\r",
                    "[1] 1" + "0" * 25 + ".5: 1 2",
                    line.replace("[", "[ ", 1),
                    line.replace("7", "g"),
                    "  " + line + "  ",
                ]
            )
        lines.append(line)
    end = "\n" if rng.random() < 0.8 else ""
    newline = "\r\n" if rng.random() < 0.2 else "\n"
    return newline.join(lines) + end


@pytest.mark.parametrize("seed", range(40))
def test_perf_random_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "t.perf"
    path.write_text(_random_perf(rng))
    kw: dict[str, Any] = {"format": "perf", "chunk_size": rng.choice([1, 7, 1 << 20])}
    if rng.random() < 0.3:
        kw["cpu_to_node"] = {i: i // 32 for i in range(64)}
    if rng.random() < 0.3:
        kw["keep_unmapped"] = True
    if rng.random() < 0.2:
        kw["max_line_bytes"] = 60
    _same(monkeypatch, perf_reader, path, **kw)


def test_perf_plain_blocks_take_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.perf"
    lines = [
        f"[{i % 4:03d}] {1000 + i // 1000}.{i % 1000:06d}: {0x7F0000 + i:16x}{0x1000 + i:16x}"
        for i in range(3000)
    ]
    path.write_text("# head\n\n" + "\n".join(lines) + "\n")

    def slow(*args: Any) -> Any:
        raise AssertionError("the per-line path ran")

    monkeypatch.setattr(perf_reader, "_rows", slow)
    monkeypatch.setattr(traces._reader, "_BLOCK_BYTES", 4096)
    with open_trace(path, format="perf") as r:
        c = TraceChunk.concat(list(r))
    assert c.get("vaddr").tolist() == [0x7F0000 + i for i in range(3000)]
    assert c.time_ns.tolist() == [(1000 + i // 1000) * 10**9 + (i % 1000) * 1000 for i in range(3000)]
    assert c.get("cpu").tolist() == [i % 4 for i in range(3000)]
    assert np.array_equal(c.get("pfn"), (0x1000 + np.arange(3000, dtype=np.uint64)) >> np.uint64(12))


def test_committed_files_read_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    data = Path(__file__).parent / "data"
    for name in ("minor_faults.perf", "minor_faults_ns_event.perf", "mem_loads.perf"):
        _same(monkeypatch, perf_reader, data / name, cpu_to_node={0: 0, 5: 1})
    _same(monkeypatch, csv_reader, data / "sample.csv")
