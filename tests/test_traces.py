"""Trace readers (pghot.traces) on small real files and hand-made edge cases.

The data files and their provenance are described in tests/data/README.md.
Each text reader is checked against a few-line pure-Python parser written
from the format's definition, on the real files.
"""

from __future__ import annotations

import bz2
import doctest
import gzip
import importlib
import json
import pathlib
import pkgutil
import re
import shutil
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import pghot.traces as traces
from pghot import Source
from pghot.traces import AccessKind, PageMapper, TraceChunk, detect_format, open_trace

DATA = pathlib.Path(__file__).parent / "data"
LACKEY = DATA / "tiny.lackey"
PERF = DATA / "minor_faults.perf"
PERF_NS = DATA / "minor_faults_ns_event.perf"
PERF_MEM = DATA / "mem_loads.perf"
DAMO = DATA / "damo_record.json"
DAMO_Z = DATA / "damo_record.json.zlib"
CSV = DATA / "sample.csv"


def read_all(path: str | pathlib.Path, **kw: Any) -> tuple[TraceChunk, traces.TraceReader]:
    with open_trace(path, **kw) as r:
        chunks = list(r)
    return TraceChunk.concat(chunks), r


# -- reference parsers (the formats' definitions, one line at a time) ------------


def ref_lackey(
    path: str | pathlib.Path, ns_per_instr: float = 1.0, include_instr: bool = False
) -> list[tuple[int, int, int, int]]:
    """(vaddr, kind, size, time_ns) per record, from the lackey line format."""
    out = []
    instr = -1
    for line in pathlib.Path(path).read_text().splitlines():
        if not line or re.match(r"^(==|--|\*\*)", line):
            continue
        m = re.fullmatch(r"(I | [LSM]) ([0-9a-f]+),(\d+)", line)
        assert m, line
        tag, addr, size = m.group(1), int(m.group(2), 16), int(m.group(3))
        if tag == "I ":
            instr += 1
            if not include_instr:
                continue
            kind = AccessKind.INSTR
        else:
            kind = {"L": AccessKind.LOAD, "S": AccessKind.STORE, "M": AccessKind.MODIFY}[tag[1]]
        out.append((addr, int(kind), size, int(max(instr, 0) * ns_per_instr)))
    return out


def ref_perf(path: str | pathlib.Path) -> list[tuple[int, int, int, int]]:
    """(cpu, time_ns, addr, phys) per line of `perf script -F time,cpu,addr,phys_addr`."""
    out = []
    for line in pathlib.Path(path).read_text().splitlines():
        m = re.fullmatch(r"\[(\d+)\]\s+(\d+)\.(\d+):(?:\s+\S+:)?\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
        assert m, line
        frac = m.group(3).ljust(9, "0")
        out.append(
            (int(m.group(1)), int(m.group(2)) * 10**9 + int(frac), int(m.group(4), 16), int(m.group(5), 16))
        )
    return out


# -- module examples ------------------------------------------------------------------


def test_module_examples() -> None:
    # the package and each of its modules (a format, the chunk, the reader, ...)
    names = ["pghot.traces"] + [f"pghot.traces.{m.name}" for m in pkgutil.iter_modules(traces.__path__)]
    attempted = failed = 0
    for name in names:
        result = doctest.testmod(
            importlib.import_module(name),
            optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
            report=False,
        )
        attempted += result.attempted
        failed += result.failed
    assert len(names) >= 10
    assert attempted > 20
    assert failed == 0


def test_public_functions_have_examples() -> None:
    names: list[Any] = [
        traces.open_trace,
        traces.detect_format,
        traces.cpu_to_node_from_sysfs,
        traces.PageMapper,
        traces.PageMapper.map,
        traces.TraceChunk,
        traces.TraceReader,
        traces.TraceChunk.pages,
        traces.TraceChunk.times_jiffies,
        traces.TraceChunk.concat,
        traces.TraceReader.close,
    ]
    assert [f.__qualname__ for f in names if ">>>" not in (f.__doc__ or "")] == []


# -- lackey ---------------------------------------------------------------------------


def test_lackey_real_file_matches_reference() -> None:
    c, r = read_all(LACKEY)
    ref = ref_lackey(LACKEY)
    assert len(c) == len(ref) == 69
    assert c.get("vaddr").tolist() == [x[0] for x in ref]
    assert c.get("kind").tolist() == [x[1] for x in ref]
    assert c.get("size").tolist() == [x[2] for x in ref]
    assert c.time_ns.tolist() == [x[3] for x in ref]
    assert r.lines_read == 227
    assert r.instructions == 133
    assert r.bad_lines == 0 and r.records == 69
    assert c.fields() == ("time_ns", "vaddr", "kind", "size")
    assert c.get("vaddr").dtype == np.uint64 and c.time_ns.dtype == np.int64
    assert c.get("kind").dtype == np.int8 and c.get("size").dtype == np.uint32


def test_lackey_sees_the_program_touch_its_four_pages() -> None:
    # tiny.c: a store to arr[i*4096], a load of it, then arr[i*4096+64]++
    # (load + store at -O0) for each of the 4 pages of arr at 0x403000.
    c, _ = read_all(LACKEY)
    on_arr = (c.get("vaddr") >= 0x403000) & (c.get("vaddr") < 0x407000)
    got = [(int(a), AccessKind(k).name) for a, k in zip(c.get("vaddr")[on_arr], c.get("kind")[on_arr])]
    pages = [0x403000, 0x404000, 0x405000, 0x406000]
    expected = [(p, "STORE") for p in pages] + [(p, "LOAD") for p in pages]
    for p in pages:
        expected += [(p + 64, "LOAD"), (p + 64, "STORE")]
    assert got == expected
    assert sorted(set((c.pages(4096)[on_arr]).tolist())) == [0x403, 0x404, 0x405, 0x406]
    # the stack's loop counter is incremented in place: MODIFY records
    assert int(np.count_nonzero(c.get("kind") == AccessKind.MODIFY)) == 16


def test_lackey_clock_and_instructions() -> None:
    c, r = read_all(LACKEY, ns_per_instr=2.5, include_instr=True)
    ref = ref_lackey(LACKEY, ns_per_instr=2.5, include_instr=True)
    assert len(c) == 202 == len(ref)
    assert c.time_ns.tolist() == [x[3] for x in ref]
    assert int(np.count_nonzero(c.get("kind") == AccessKind.INSTR)) == r.instructions == 133
    assert bool(np.all(np.diff(c.time_ns) >= 0))
    # the last instruction is the 133rd: at (133 - 1) * 2.5 ns
    assert int(c.time_ns[-1]) == int(132 * 2.5)


@pytest.mark.parametrize("chunk_size", [1, 7, 69, 1000])
def test_lackey_chunks_concatenate_to_the_whole(chunk_size: int) -> None:
    whole, _ = read_all(LACKEY)
    with open_trace(LACKEY, chunk_size=chunk_size) as r:
        chunks = list(r)
    assert all(len(x) == chunk_size for x in chunks[:-1])
    assert 1 <= len(chunks[-1]) <= chunk_size
    joined = TraceChunk.concat(chunks)
    for name in whole.fields():
        assert joined.get(name).tolist() == whole.get(name).tolist()


def test_lackey_small_blocks_give_the_same_records(monkeypatch: pytest.MonkeyPatch) -> None:
    whole, r0 = read_all(LACKEY, include_instr=True)
    for block in (17, 64, 333):
        monkeypatch.setattr(traces._reader, "_BLOCK_BYTES", block)
        c, r = read_all(LACKEY, include_instr=True)
        assert c.get("vaddr").tolist() == whole.get("vaddr").tolist()
        assert c.time_ns.tolist() == whole.time_ns.tolist()
        assert (r.lines_read, r.instructions) == (r0.lines_read, r0.instructions)


def test_lackey_compressed(tmp_path: pathlib.Path) -> None:
    whole, _ = read_all(LACKEY)
    gz = tmp_path / "t.lackey.gz"
    gz.write_bytes(gzip.compress(LACKEY.read_bytes()))
    bz = tmp_path / "t.bz2"
    bz.write_bytes(bz2.compress(LACKEY.read_bytes()))
    for path in (gz, bz):
        assert detect_format(path) == "lackey"
        c, _ = read_all(path)
        assert c.get("vaddr").tolist() == whole.get("vaddr").tolist()


def corrupt(tmp_path: pathlib.Path, lineno: int, text: str) -> pathlib.Path:
    lines = LACKEY.read_text().splitlines(keepends=True)
    lines[lineno - 1] = text
    out = tmp_path / "bad.lackey"
    out.write_text("".join(lines))
    return out


@pytest.mark.parametrize(
    "text",
    [
        " S 1fff00069,\n",  # no size
        " X 1fff000690,8\n",  # unknown kind
        " S 1fff0g0690,8\n",  # not hex
        " S 1fff000690;8\n",  # no comma
        " S 1fff000690,8,9\n",  # two commas
        " S 1fff000690,8x\n",  # size not decimal
        " S 11112222333344445,8\n",  # 17 hex digits
        "0\n",  # the traced program's own output mixed in
        "I 00401000,1\n",  # one space only
    ],
)
def test_lackey_malformed_line_names_file_and_line(tmp_path: pathlib.Path, text: str) -> None:
    path = corrupt(tmp_path, 25, text)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}:25: "):
        read_all(path)
    c, r = read_all(path, skip_bad=True)
    assert r.bad_lines == 1 and r.first_bad[0][0] == 25
    assert r.lines_read == 227
    # line 25 of tiny.lackey is the store to arr[0]: one record fewer
    assert LACKEY.read_text().splitlines()[24] == " S 00403000,1"
    assert len(c) == 68 and 0x403000 not in c.get("vaddr")[c.get("kind") == AccessKind.STORE].tolist()


def test_lackey_bad_line_in_a_later_block(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(traces._reader, "_BLOCK_BYTES", 100)
    path = corrupt(tmp_path, 200, "garbage\n")
    with pytest.raises(ValueError, match=r":200: malformed lackey line"):
        read_all(path)


def test_lackey_overlong_line(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = corrupt(tmp_path, 40, "I  " + "0" * 5000 + ",1\n")
    for block in (1 << 22, 512):  # within one block, and carried across reads
        monkeypatch.setattr(traces._reader, "_BLOCK_BYTES", block)
        with pytest.raises(ValueError, match=r":40: line longer than 4096 bytes"):
            read_all(path)
        c, r = read_all(path, skip_bad=True, include_instr=True)
        assert r.bad_lines == 1 and r.first_bad[0][0] == 40
        assert r.lines_read == 227
        assert len(c) == 201
    c, r = read_all(path, max_line_bytes=8192, skip_bad=True)
    assert r.bad_lines == 1  # 5000 hex digits: too long an address, but not over the cap
    assert "malformed" in r.first_bad[0][1]


def test_lackey_huge_line_stays_bounded(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 8 MB without a newline: an error as soon as the cap is passed.
    monkeypatch.setattr(traces._reader, "_BLOCK_BYTES", 1 << 16)
    path = tmp_path / "long.lackey"
    path.write_bytes(b"I  00401000,1\n" + b"9" * (8 << 20) + b"\nI  00401001,2\n")
    with pytest.raises(ValueError, match=r":2: line longer than"):
        read_all(path, include_instr=True)
    c, r = read_all(path, include_instr=True, skip_bad=True)
    assert len(c) == 2 and r.bad_lines == 1 and r.lines_read == 3


def test_lackey_truncated_last_line(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "cut.lackey"
    path.write_text("I  00401000,1\n S 1fff000698,8\nI  0040")
    with pytest.raises(ValueError, match=r"cut.lackey:3: malformed"):
        read_all(path)
    path.write_text("I  00401000,1\n S 1fff000698,8")  # last line complete, no newline
    c, r = read_all(path)
    assert c.get("vaddr").tolist() == [0x1FFF000698] and r.lines_read == 2


def test_lackey_crlf_and_blank_lines(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "crlf.lackey"
    path.write_bytes(b"==1== x\r\n\r\nI  00401000,1\r\n M 00403000,4\r\n\n")
    c, _ = read_all(path, format="lackey")
    assert c.get("vaddr").tolist() == [0x403000] and c.get("size").tolist() == [4]


def test_lackey_wrong_format_even_with_skip_bad(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError, match=r"not a lackey trace"):
        read_all(CSV, format="lackey", skip_bad=True)
    path = tmp_path / "many.txt"
    path.write_text("hello, world\n" * 3000)
    with pytest.raises(ValueError, match=r"1000 malformed lines and no valid one"):
        read_all(path, format="lackey", skip_bad=True)


def test_binary_file_is_rejected(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(ValueError, match=r"binary data"):
        open_trace(path, format="lackey")
    with pytest.raises(ValueError, match=r"binary data"):
        detect_format(path)


def test_corrupt_gzip_is_an_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "t.lackey.gz"
    data = gzip.compress(LACKEY.read_bytes() * 20)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"truncated or corrupt"):
        read_all(path, format="lackey")


def test_iterate_once_and_close() -> None:
    r = open_trace(LACKEY)
    list(r)
    with pytest.raises(RuntimeError, match="only once"):
        iter(r)
    r.close()
    assert "tiny.lackey" in repr(r)


# -- perf -------------------------------------------------------------------------------


def test_perf_format_matches_real_capture() -> None:
    # The rule used to write mem_loads.perf reproduces the real capture exactly.
    lines = PERF.read_text().splitlines() + PERF_MEM.read_text().splitlines()
    for line in lines:
        m = re.fullmatch(r"\[(\d+)\]\s+(\S+):\s+(\S+)\s+(\S+)", line)
        assert m is not None, line
        cpu, t, addr, phys = m.groups()
        assert f"[{int(cpu):03d}] {t:>12}: {int(addr, 16):16x}{int(phys, 16):16x}" == line


def test_perf_real_capture() -> None:
    ref = ref_perf(PERF)
    c, r = read_all(PERF)
    kept = [x for x in ref if x[3] != 0]
    assert len(ref) == 121 and len(kept) == 119
    assert r.no_phys_addr == 2 and r.lines_read == 121 and r.records == 119
    assert c.fields() == ("time_ns", "pfn", "vaddr", "cpu")
    assert c.get("cpu").tolist() == [x[0] for x in kept]
    assert c.time_ns.tolist() == [x[1] for x in kept]
    assert c.get("vaddr").tolist() == [x[2] for x in kept]
    assert c.get("pfn").tolist() == [x[3] >> 12 for x in kept]
    assert (int(c.time_ns[0]), hex(int(c.get("vaddr")[0])), hex(int(c.get("pfn")[0]))) == (
        1932035888000,
        "0x5653ae949020",
        "0x13886d",
    )
    c, r = read_all(PERF, keep_unmapped=True)
    assert len(c) == 121 and r.no_phys_addr == 0
    assert c.get("pfn").tolist() == [x[3] >> 12 for x in ref]


def test_perf_nanoseconds_and_event_names() -> None:
    ref = ref_perf(PERF_NS)
    c, _ = read_all(PERF_NS, keep_unmapped=True)
    assert detect_format(PERF_NS) == "perf"
    assert c.time_ns.tolist() == [x[1] for x in ref]
    assert int(c.time_ns[0]) == 1932035888987
    assert c.get("vaddr").tolist() == [x[2] for x in ref]
    # the same samples as the microsecond capture, to the microsecond
    whole, _ = read_all(PERF, keep_unmapped=True)
    assert (c.time_ns // 1000).tolist() == (whole.time_ns[:40] // 1000).tolist()


def test_perf_mem_sample_with_nodes() -> None:
    nodes = {0: 0, 1: 0, 2: 0, 3: 0, 4: 1, 5: 1, 6: 1, 7: 1}
    c, r = read_all(PERF_MEM, cpu_to_node=nodes)
    ref = ref_perf(PERF_MEM)
    assert c.get("cpu").tolist() == [0, 0, 5, 1, 5, 6, 2, 6, 7, 3, 4, 0]
    assert c.get("nid").tolist() == [nodes[x[0]] for x in ref]
    assert c.get("pfn").tolist() == [x[3] // 4096 for x in ref]
    assert c.get("pfn")[0] == 0x10A2C01 and c.get("pfn")[0] == c.get("pfn")[7] == c.get("pfn")[11]
    assert r.unknown_cpu == 0
    c, r = read_all(PERF_MEM, cpu_to_node=[0, 0, 0, 0])  # CPUs 4-7 unknown
    assert int(np.count_nonzero(c.get("nid") == -1)) == r.unknown_cpu == 6
    c, _ = read_all(PERF_MEM, page_size=2 << 20)
    assert c.get("pfn").tolist() == [x[3] >> 21 for x in ref]


def test_perf_column_choice(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "p.perf"
    path.write_text("[002]  5021.118204:       10a2c01040\n")
    c, _ = read_all(path)
    assert c.pfn is None and c.get("vaddr").tolist() == [0x10A2C01040] and c.get("cpu").tolist() == [2]
    c, _ = read_all(path, perf_columns=("phys_addr",))
    assert c.vaddr is None and c.get("pfn").tolist() == [0x10A2C01]
    path.write_text("5021.118204:     7f6c2a401040      10a2c01040\n")  # no cpu field
    c, _ = read_all(path, format="perf")
    assert c.cpu is None and c.nid is None and c.get("pfn").tolist() == [0x10A2C01]
    with pytest.raises(ValueError, match="perf_columns"):
        open_trace(path, perf_columns=("addr", "cpu"))


def test_perf_malformed_lines(tmp_path: pathlib.Path) -> None:
    lines = PERF_MEM.read_text().splitlines(keepends=True)
    path = tmp_path / "bad.perf"
    path.write_text("".join(lines[:4] + ["[001]  5021.11x: 7f6c2a401040 10a2c01040\n"] + lines[4:]))
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}:5: malformed perf script line"):
        read_all(path)
    c, r = read_all(path, skip_bad=True)
    assert len(c) == 12 and r.bad_lines == 1
    # one address column where the first sample had two
    path.write_text("".join(lines[:2] + ["[001]  5021.118204:     7f6c2a401040\n"] + lines[2:]))
    with pytest.raises(ValueError, match=r":3: expected 2 address column"):
        read_all(path)
    # comments and blank lines are not errors
    path.write_text("# perf script header\n\n" + "".join(lines))
    c, r = read_all(path)
    assert len(c) == 12 and r.lines_read == 14


# -- csv ---------------------------------------------------------------------------------


def test_csv_sample() -> None:
    c, r = read_all(CSV)
    assert c.get("vaddr").tolist() == [0x7F6C2A401040, 0x7F6C2A401080, 0x7F6C2A52F3C8, 140103325294656]
    assert c.time_ns.tolist() == [0, 15_000, 20_000, 1_000_000]
    assert c.get("nid").tolist() == [0, 0, 1, -1]
    assert c.get("src").tolist() == [Source.HW_HINTS, Source.HW_HINTS, Source.HINT_FAULT, Source.PGTABLE_SCAN]
    assert r.lines_read == 6 and r.bad_lines == 0


def test_csv_columns_and_errors(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("extra, PFN ,time_ms,cpu\nx,5,1,3\ny,6,2,9\n")
    c, r = read_all(path, cpu_to_node={3: 1})
    assert c.get("pfn").tolist() == [5, 6] and c.time_ns.tolist() == [1_000_000, 2_000_000]
    assert c.get("cpu").tolist() == [3, 9] and c.get("nid").tolist() == [1, -1] and r.unknown_cpu == 1
    path.write_text("pfn,time\n1,2\n3,-4\n5,6,7\n8,x\n9,10\n")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}:3: time_ns: -4 out of range"):
        read_all(path)
    c, r = read_all(path, skip_bad=True)
    assert c.get("pfn").tolist() == [1, 9] and r.bad_lines == 3
    assert [b[0] for b in r.first_bad] == [3, 4, 5]
    for header, message in [
        ("time,nid\n", "needs a 'pfn' or 'vaddr'"),
        ("pfn,nid\n", "exactly one time column"),
        ("pfn,time,time_ns\n", "exactly one time column"),
        ("pfn,pfn,time\n", "appears twice"),
    ]:
        path.write_text(header + "1,2\n")
        with pytest.raises(ValueError, match=message):
            read_all(path)
    path.write_text("pfn,time,nid,src\n1,2,-2,0\n1,2,0,3\n1,2,0,bogus\n7,8,0,pgtable_scan\n")
    c, r = read_all(path, skip_bad=True)
    assert c.get("pfn").tolist() == [7] and c.get("src").tolist() == [Source.PGTABLE_SCAN]
    assert [b[1].split(":")[0] for b in r.first_bad] == ["nid", "src", "src"]
    path.write_text("pfn,time,nid,src\n1,2,-2,0\n")
    with pytest.raises(ValueError, match="no valid one: not a csv trace"):
        read_all(path, skip_bad=True)
    path.write_text("# only a comment\n")
    with pytest.raises(ValueError, match="empty CSV"):
        read_all(path)


def test_csv_large_values(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(f"vaddr,time_ns\n{2**64 - 1},{2**63 - 1}\n0xffffffffffffffff,0\n")
    c, _ = read_all(path)
    assert c.get("vaddr").tolist() == [2**64 - 1] * 2 and c.time_ns.tolist() == [2**63 - 1, 0]
    path.write_text(f"vaddr,time_ns\n{2**64},0\n")
    with pytest.raises(ValueError, match=r":2: vaddr: .* out of range"):
        read_all(path)


# -- npy / npz ------------------------------------------------------------------------------


def test_npy_structured_in_chunks(tmp_path: pathlib.Path) -> None:
    a = np.zeros(10, dtype=[("pfn", "<u8"), ("time_us", "<i8"), ("nid", "<i2"), ("ignored", "<f4")])
    a["pfn"] = np.arange(10) + 100
    a["time_us"] = np.arange(10) * 3
    a["nid"] = np.arange(10) % 2
    path = tmp_path / "t.npy"
    np.save(path, a)
    with open_trace(path, chunk_size=4) as r:
        chunks = list(r)
    assert [len(x) for x in chunks] == [4, 4, 2]
    c = TraceChunk.concat(chunks)
    assert c.get("pfn").tolist() == list(range(100, 110))
    assert c.time_ns.tolist() == [i * 3000 for i in range(10)]
    assert c.get("nid").dtype == np.int32 and c.get("nid").tolist() == [i % 2 for i in range(10)]
    gz = tmp_path / "t.npy.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert read_all(gz)[0].get("pfn").tolist() == list(range(100, 110))


def test_npy_errors(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "t.npy"
    np.save(path, np.arange(5))
    with pytest.raises(ValueError, match="structured array"):
        read_all(path)
    a = np.zeros(1000, dtype=[("pfn", "<u8"), ("time_ns", "<i8")])
    np.save(path, a)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(ValueError, match=r"truncated: the header promises 1000 records"):
        read_all(path)
    a = np.zeros(3, dtype=[("pfn", "<i8"), ("time_ns", "<i8")])
    a["pfn"] = [1, -5, 2]
    np.save(path, a)
    with pytest.raises(ValueError, match=r"pfn\[1\] = -5 is below 0"):
        read_all(path)
    a = np.zeros(3, dtype=[("pfn", "<f8"), ("time_ns", "<i8")])
    np.save(path, a)
    with pytest.raises(ValueError, match="must be integers"):
        read_all(path)


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz_columns(tmp_path: pathlib.Path, save: Callable[..., None]) -> None:
    path = tmp_path / "t.npz"
    save(
        path,
        vaddr=np.arange(7, dtype=np.uint64) * 4096,
        time_ns=np.arange(7) * 10,
        cpu=np.array([0, 1, 2, 3, 0, 1, 9]),
        src=np.full(7, 2, np.uint8),
    )
    with open_trace(path, chunk_size=3, cpu_to_node=[0, 0, 1, 1]) as r:
        chunks = list(r)
    c = TraceChunk.concat(chunks)
    assert [len(x) for x in chunks] == [3, 3, 1]
    assert c.pages().tolist() == list(range(7))
    assert c.get("nid").tolist() == [0, 0, 1, 1, 0, 0, -1]
    assert c.get("src").tolist() == [2] * 7 and c.get("src").dtype == np.int8
    assert detect_format(path) == "npz"
    save(path, pfn=np.arange(3), time_ns=np.arange(4))
    with pytest.raises(ValueError, match="has 4 elements, others have 3|has 3 elements, others have 4"):
        read_all(path)
    save(path, pfn=np.arange(3))
    with pytest.raises(ValueError, match="exactly one time column"):
        read_all(path)


def test_npz_not_a_zip(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "t.npz"
    path.write_bytes(b"PK\x03\x04 but not really a zip file")
    with pytest.raises(ValueError, match=r"not a valid \.npz|truncated or corrupt"):
        read_all(path)


# -- damo -----------------------------------------------------------------------------------


def expected_damo_pages(page_size: int = 4096) -> tuple[list[int], list[int], list[int]]:
    base = 0x7F3A5C000000 // page_size
    hot = list(range(base, base + (2 << 20) // page_size))
    cold = list(range(base + (2 << 20) // page_size, base + (8 << 20) // page_size))
    stack = list(range(0x7FFD2E5F0000 // page_size, 0x7FFD2E5F3000 // page_size))
    return hot, cold, stack


@pytest.mark.parametrize("path", [DAMO, DAMO_Z])
def test_damo_record(path: pathlib.Path) -> None:
    assert detect_format(path) == "damo"
    c, r = read_all(path)
    hot, cold, stack = expected_damo_pages()
    # snapshot 0: hot x20, cold x1, stack x4; snapshot 1: hot x18, stack x5
    assert len(c) == 512 * 20 + 1536 + 3 * 4 + 512 * 18 + 3 * 5 == 21019
    pages = c.pages().tolist()
    counts = {p: pages.count(p) for p in set(pages)}
    assert all(counts[p] == 38 for p in hot)
    assert all(counts[p] == 1 for p in cold)
    assert all(counts[p] == 9 for p in stack)
    assert set(counts) == set(hot + cold + stack)
    assert bool(np.all(np.diff(c.time_ns) >= 0))
    t0 = 105_000_000_000
    slot = 100_000_000 // 20  # 20 sampling slots of 5 ms per 100 ms snapshot
    first = c.time_ns[: 512 + 1536 + 3]
    assert set(first.tolist()) == {t0}
    # stack region of snapshot 0: 4 accesses in slots 0, 5, 10, 15
    st = c.time_ns[np.isin(c.pages(), stack) & (c.time_ns < t0 + 100_000_000)]
    assert sorted(set(st.tolist())) == [t0 + k * slot for k in (0, 5, 10, 15)]
    # cold region: one access, at the snapshot start
    assert set(c.time_ns[np.isin(c.pages(), cold)].tolist()) == {t0}
    assert r.records == 21019


def test_damo_paddr_and_chunks() -> None:
    with open_trace(DAMO, damo_space="paddr", chunk_size=1000) as r:
        chunks = list(r)
    assert all(len(x) == 1000 for x in chunks[:-1]) and chunks[0].vaddr is None
    c = TraceChunk.concat(chunks)
    assert c.get("pfn")[0] == 0x7F3A5C000000 // 4096 and len(c) == 21019


def test_damo_variants_and_errors(tmp_path: pathlib.Path) -> None:
    doc = json.loads(DAMO.read_text())
    path = tmp_path / "d.json"
    # older damo: nr_accesses as a plain int; newer: wrapped in damo_records
    for region in doc[0]["snapshots"][0]["regions"]:
        region["nr_accesses"] = region["nr_accesses"]["samples"]
    path.write_text(json.dumps({"damo_records": {"damon_records": {"kdamonds": [], "record_list": doc}}}))
    assert len(read_all(path)[0]) == 21019
    doc[0]["snapshots"][1]["regions"][0]["nr_accesses"] = {"samples": None, "percent": 50}
    path.write_text(json.dumps(doc))
    assert len(read_all(path)[0]) == 21019 - 512 * 18 + 512 * 10
    doc[0]["snapshots"][1]["regions"][2]["end"] = "oops"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"damo record 0 snapshot 1 region 2 end: expected an integer"):
        read_all(path)
    path.write_text('[{"snapshots": [ {"start_time": 1,')
    with pytest.raises(ValueError, match=r"d.json:1: not a damo JSON record"):
        read_all(path, format="damo")
    path.write_text('{"something": 1}')
    with pytest.raises(ValueError, match="expected a list of records"):
        read_all(path)
    path.write_bytes(zlib.compress(b"[1, 2")[:-3])
    with pytest.raises(ValueError, match="corrupt zlib"):
        read_all(path, format="damo")


# -- detection, options, helpers ----------------------------------------------------------------


def test_detect_format(tmp_path: pathlib.Path) -> None:
    assert detect_format(LACKEY) == "lackey"
    assert detect_format(PERF) == "perf"
    assert detect_format(PERF_MEM) == "perf"
    assert detect_format(CSV) == "csv"
    assert detect_format(DAMO) == "damo"
    plain = tmp_path / "trace"
    shutil.copy(CSV, plain)
    assert detect_format(plain) == "csv"
    shutil.copy(DAMO, plain)
    assert detect_format(plain) == "damo"
    plain.write_text("hello\n")
    with pytest.raises(ValueError, match="cannot tell the trace format"):
        detect_format(plain)
    with pytest.raises(FileNotFoundError):
        open_trace(tmp_path / "missing.lackey")


def test_open_trace_argument_checks() -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        open_trace(LACKEY, "pin")
    with pytest.raises(ValueError, match="chunk_size"):
        open_trace(LACKEY, chunk_size=0)
    with pytest.raises(TypeError):
        open_trace(LACKEY, chunk_size=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="page_size"):
        open_trace(LACKEY, page_size=3000)
    with pytest.raises(ValueError, match="ns_per_instr"):
        open_trace(LACKEY, ns_per_instr=-1)
    with pytest.raises(ValueError, match="damo_space"):
        open_trace(DAMO, damo_space="phys")
    with pytest.raises(ValueError, match="cpu_to_node"):
        open_trace(PERF, cpu_to_node="numa")
    with pytest.raises(TypeError, match="cpu_to_node"):
        open_trace(PERF, cpu_to_node=[0.5])


def test_cpu_to_node_from_this_machine() -> None:
    table = traces.cpu_to_node_from_sysfs()
    assert table and all(n >= 0 for n in table.values())
    c, r = read_all(PERF, cpu_to_node="sysfs")
    assert c.get("nid").tolist() == [table.get(cpu, -1) for cpu in c.get("cpu").tolist()]


def test_trace_chunk() -> None:
    with pytest.raises(ValueError, match="pfn or vaddr"):
        TraceChunk(time_ns=np.array([1]))
    with pytest.raises(ValueError, match="length"):
        TraceChunk(time_ns=np.array([1, 2]), pfn=np.array([1]))
    with pytest.raises(TypeError):
        TraceChunk(time_ns=np.array([1]), pfn=np.array([1]))[0]
    c = TraceChunk(time_ns=np.array([-1, 2_000_000_001]), pfn=np.array([1, 2]))
    assert c.times_jiffies(250).tolist() == [-1, 500]
    assert c.times_jiffies(1000, origin_ns=1).tolist() == [-1, 2000]
    big = TraceChunk(time_ns=np.array([2**63 - 1]), pfn=np.array([0]))
    assert big.times_jiffies(1000).tolist() == [(2**63 - 1) * 1000 // 10**9]
    with pytest.raises(ValueError, match="fields"):
        TraceChunk.concat([c, TraceChunk(time_ns=np.array([1]), vaddr=np.array([1]))])
    with pytest.raises(KeyError, match="no 'vaddr' array"):
        c.get("vaddr")
    with pytest.raises(KeyError):
        c.get("__class__")
    assert c[np.array([False, True])].get("pfn").tolist() == [2]


def test_page_mapper() -> None:
    m = PageMapper(64, 4)
    assert m.map(np.array([0x9000, 0x1000, 0x9FFF], np.uint64)).tolist() == [64, 65, 64]
    assert m.map(np.array([], np.uint64)).tolist() == []
    assert m.map([0x3000, 0x1000, 0x5000]).tolist() == [66, 65, 67]
    assert len(m) == 4
    with pytest.raises(ValueError, match="more than nr_pages=4"):
        m.map([0x7000])
    assert m.map([0x9000]).tolist() == [64]  # nothing was assigned by the failed call
    with pytest.raises(ValueError):
        m.map([-1])
    with pytest.raises(ValueError):
        PageMapper(0, 1, page_size=1000)


def test_page_mapper_on_the_lackey_trace() -> None:
    c, _ = read_all(LACKEY)
    m = PageMapper(1000, 100)
    pfns = m.map(c.get("vaddr"))
    pages = c.pages()
    firsts = list(dict.fromkeys(pages.tolist()))  # distinct pages in first-touch order
    assert pfns.tolist() == [1000 + firsts.index(p) for p in pages.tolist()]
    assert len(m) == len(firsts) == 5  # one stack page, the 4 pages of arr
