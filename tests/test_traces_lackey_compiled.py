"""The compiled lackey parser (``pghot._lackey``) gives exactly what the numpy reader gives.

Each file is read with ``pghot.traces.lackey._FAST`` off (the numpy path,
the specification) and on (the compiled parser), at several block sizes
(block boundaries inside lines), skipping bad lines or not, with and without
instruction records: the chunks (fields, dtypes, values), the counters, the
first bad lines and any error message must be identical.  The files: the
committed lackey trace, generated traces (plain and with every oddity), and
hostile input (truncated lines, huge numbers, garbage, NUL bytes, CRLF).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pghot.traces as traces
from pghot import _lackey
from pghot.sim import SimConfig, replay
from pghot.traces import lackey as lackey_reader
from pghot.traces import open_trace

DATA = Path(__file__).parent / "data"
LACKEY = DATA / "tiny.lackey"
BLOCKS = [16, 61, 1000, 1 << 22]
INT64_MAX = 2**63 - 1


def _outcome(path: Path, **kw: Any) -> tuple[Any, ...]:
    """What reading ``path`` gives: the chunks' arrays and the counters, or the error."""
    try:
        with open_trace(path, format="lackey", **kw) as r:
            chunks = list(r)
    except ValueError as e:
        return ("error", str(e))
    arrays = [[(f, c.get(f).dtype.str, c.get(f).tolist()) for f in c.fields()] for c in chunks]
    return ("ok", arrays, r.counters, r.first_bad)


def _same(monkeypatch: pytest.MonkeyPatch, path: Path, blocks: list[int] = BLOCKS, **kw: Any) -> list[Any]:
    """Both paths at every block size, skipping bad lines or not; the numpy path's outcomes."""
    outcomes = []
    for block in blocks:
        monkeypatch.setattr(traces._reader, "_BLOCK_BYTES", block)
        for skip in (False, True):
            monkeypatch.setattr(lackey_reader, "_FAST", False)
            slow = _outcome(path, skip_bad=skip, **kw)
            monkeypatch.setattr(lackey_reader, "_FAST", True)
            fast = _outcome(path, skip_bad=skip, **kw)
            assert fast == slow, (block, skip)
            outcomes.append(slow)
    return outcomes


@pytest.mark.parametrize("include_instr", [False, True])
@pytest.mark.parametrize("ns", [1.0, 2.5, 0.0, 1e6])
def test_committed_trace(monkeypatch: pytest.MonkeyPatch, include_instr: bool, ns: float) -> None:
    outcomes = _same(monkeypatch, LACKEY, include_instr=include_instr, ns_per_instr=ns)
    assert outcomes[0][0] == "ok" and outcomes[0][2]["records"] == (202 if include_instr else 69)


def test_the_compiled_path_is_the_one_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> None:
        raise AssertionError("the numpy path ran")

    monkeypatch.setattr(lackey_reader, "_block", refuse)
    assert lackey_reader._FAST
    with open_trace(LACKEY) as r:
        assert sum(len(c) for c in r) == 69


HOSTILE = {
    "crlf": b"==1== x\r\n\r\nI  00401000,1\r\n M 00403000,4\r\n\n",
    "cr_cr": b"I  0040,1\r\r\n L 10,4\n",
    "lone_cr": b"I  0040,1\rI  0041,1\n L 10,4\n",
    "truncated_tag": b"I  0040,1\nI \n L\n  \nI\n",
    "truncated_addr": b"I  0040,1\n L ,8\nI  ,1\n S 1f",
    "truncated_size": b"I  0040,1\n L 1f,\n M 20,",
    "no_final_newline": b"I  0040,1\n S 1fff000698,8",
    "huge_addr": b"I  ffffffffffffffff,1\n L 11112222333344445,8\n L 0000000000000000001,8\n",
    "sixteen_digits": b" S ffffffffffffffff,999999999\n L FFFFFFFFFFFFFFFF,0\n",
    "huge_size": b" L 10,4294967295\n L 10,1234567890\n L 10,000000004\n L 10,0000000004\n",
    "garbage": b"hello, world\n0\n\x00\x01\x02\n,,,\n L 10,4\n",
    "nul": b"I  00\x0040,1\n L 10,\x004\n L 10,4\x00\n\x00\nI  0040,1\n",
    "high_bytes": b"I  \xe90,1\n L 10,4\xff\n\xff\xfe\n L 10,4\n",
    "commentary": b"==12== a\n--12-- b\n**12** c\n== \n-\n*\n=-\n L 10,4\n",
    "spaces_and_tabs": b"I   0040,1\n L  10,4\n L 10 ,4\n L 10, 4\n\tL 10,4\n L\t10,4\n L 10,4 \n L 10,4\n",
    "two_commas": b" L 10,4,5\n L 10,,4\n L ,10,4\n L 10,4\n",
    "upper_and_mixed_hex": b" L aBcDeF,4\n S ABCDEF0123,1\n L abcdefg,4\n",
    "kinds": b" L 1,1\n S 2,2\n M 3,3\n X 4,4\n l 5,5\ni  6,6\nI  7,7\n",
    "only_bad": b"oops\n" * 5,
    "only_instr": b"I  0040,1\nI  0041,1\n",
    "empty": b"",
    "blank": b"\n\n\r\n",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("include_instr", [False, True])
def test_hostile_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, include_instr: bool
) -> None:
    path = tmp_path / "t.lackey"
    path.write_bytes(HOSTILE[case])
    _same(monkeypatch, path, include_instr=include_instr)


def test_known_answers_on_hostile_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.lackey"
    path.write_bytes(HOSTILE["sixteen_digits"] + HOSTILE["huge_size"] + b"I  ab,1\n L 7,8\n")
    with open_trace(path, skip_bad=True) as r:
        (c,) = list(r)
    # lines 3, 4 and 6 have 10-digit sizes; 16 hex digits and 9 decimal ones are the most
    assert c.get("vaddr").tolist() == [2**64 - 1, 2**64 - 1, 0x10, 7]
    assert c.get("size").tolist() == [999_999_999, 0, 4, 8]
    assert r.bad_lines == 3 and [n for n, _ in r.first_bad] == [3, 4, 6]
    assert c.time_ns.tolist() == [0, 0, 0, 0] and r.instructions == 1


def test_too_long_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.lackey"
    long = b" L " + b"0" * 14 + b"1,123456789"  # 28 bytes: good, unless the cap is lower
    assert len(long) == 28
    path.write_bytes(b"I  0040,1\n" + long + b"\n S " + b"7" * 40 + b",1\n L 10,4\n")
    outcomes = _same(monkeypatch, path, max_line_bytes=16)
    assert outcomes[0][0] == "error" and ":2: line longer than 16 bytes" in outcomes[0][1]
    assert [n for n, _ in outcomes[1][3]] == [2, 3] and "longer than 16" in outcomes[1][3][1][1]
    assert _same(monkeypatch, path, max_line_bytes=28)[1][2]["bad_lines"] == 1  # line 3 only
    assert _same(monkeypatch, path, max_line_bytes=27)[1][2]["bad_lines"] == 2
    ok = _same(monkeypatch, path, max_line_bytes=4096)[1]
    assert ok[2]["bad_lines"] == 1 and "malformed" in ok[3][0][1]  # the 40-digit address


def _random_lackey(rng: random.Random, odd: bool) -> bytes:
    lines = [b"==7== Lackey, an example Valgrind tool"] if rng.random() < 0.5 else []
    for _ in range(rng.randrange(0, 400)):
        tag = rng.choice([b"I  ", b" L ", b" S ", b" M "])
        addr = rng.choice([0x400000 + rng.randrange(1 << 16), 0x1FFF000000 + rng.randrange(1 << 12)])
        line = (
            tag
            + f"{addr:0{rng.choice([1, 8, 10, 16])}x}".encode()
            + b","
            + str(rng.choice([1, 4, 8])).encode()
        )
        if odd and rng.random() < 0.1:
            i = rng.randrange(len(line) + 1)
            junk = rng.choice([b"", b",", b" ", b"\x00", b"\r", b"z", b"9" * 20, b"\xff", b"I  ", b"=="])
            line = line[:i] + junk + line[i + rng.choice([0, 1]) :]
        if odd and rng.random() < 0.05:
            line = rng.choice([b"", b"==7== x", b"--7-- y", b"12345", b"Hello"])
        lines.append(line + (b"\r" if odd and rng.random() < 0.1 else b""))
    text = b"\n".join(lines)
    return text + (b"\n" if rng.random() < 0.8 else b"")


@pytest.mark.parametrize("seed", range(24))
def test_generated_traces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "t.lackey"
    path.write_bytes(_random_lackey(rng, odd=seed % 2 == 1))
    ns = rng.choice([1.0, 3.0, 0.7, 1e9])
    _same(monkeypatch, path, blocks=[37, 500, 1 << 22], ns_per_instr=ns, include_instr=seed % 3 == 0)


def test_many_bad_lines_are_the_wrong_format_in_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.lackey"
    path.write_bytes(b"nope\n" * 1200 + b"I  0040,1\n L 10,4\n")
    outcomes = _same(monkeypatch, path, blocks=[1 << 22, 4000])
    assert all(o[0] == "error" for o in outcomes)
    assert "1000 malformed lines and no valid one" in outcomes[1][1]


# -- the clock --------------------------------------------------------------------------


@pytest.mark.parametrize("ns", [2.0**62, 1e300, 3.5e18, 2.0**62 + 2.0**61, 9.3e18])
def test_times_saturate_instead_of_wrapping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ns: float
) -> None:
    path = tmp_path / "t.lackey"
    path.write_bytes(b"".join(b"I  %x,1\n L %x,4\n" % (i, i) for i in range(8)))
    outcomes = _same(monkeypatch, path, blocks=[1 << 22, 30], ns_per_instr=ns)
    times = [t for chunk in outcomes[0][1] for f, _, v in chunk if f == "time_ns" for t in v]
    want = [
        min(int(np.floor(np.float64(i) * ns)) if not float(ns).is_integer() else i * int(ns), INT64_MAX)
        for i in range(8)
    ]
    assert times == want
    assert times[-1] == INT64_MAX and times == sorted(times)


def test_fractional_times_saturate_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ns = 2.0**52 - 0.5  # the largest fractional step: 2049 instructions pass 2**63 ns
    path = tmp_path / "t.lackey"
    path.write_bytes(b"".join(b"I  %x,1\n L 10,4\n" % i for i in range(2100)))
    outcomes = _same(monkeypatch, path, blocks=[1 << 22, 5000], ns_per_instr=ns)
    times = [t for chunk in outcomes[0][1] for f, _, v in chunk if f == "time_ns" for t in v]
    assert times == [min(int(np.floor(np.float64(i) * ns)), INT64_MAX) for i in range(2100)]
    assert times[2048] == 2**63 - 1024 and times[2049] == INT64_MAX


def test_a_saturated_trace_is_refused_by_its_span(tmp_path: Path) -> None:
    path = tmp_path / "t.lackey"
    path.write_bytes(b"I  0040,1\n L 10,4\nI  0041,1\n L 2000,4\nI  0042,1\n L 10,4\n")
    with pytest.raises(ValueError, match="more than max_span_s"):
        replay(str(path), SimConfig(llc_bytes=0), progress=False, open_options={"ns_per_instr": 1e300})


# -- the function's own arguments --------------------------------------------------------------


def test_parse_block_accepts_buffers() -> None:
    text = b"I  0040,3\n L 1f,8\n"
    for block in (text, bytearray(text), memoryview(text), np.frombuffer(text, dtype=np.uint8)):
        t, a, k, z, good, instr, bad = _lackey.parse_block(block, 5, 1.0, True, 4096)
        assert (t.tolist(), a.tolist(), k.tolist(), z.tolist()) == ([5, 5], [0x40, 0x1F], [3, 0], [3, 8])
        assert (good, instr, bad) == (2, 1, None)


@pytest.mark.parametrize(
    "args, exc, msg",
    [
        (("I  0040,3\n", 0, 1.0, False, 4096), TypeError, "block must be bytes, not str"),
        ((None, 0, 1.0, False, 4096), TypeError, "block"),
        ((12, 0, 1.0, False, 4096), TypeError, "block"),
        ((b"I  0040,3", 0, 1.0, False, 4096), ValueError, "block must end with a newline"),
        ((b"", 0, 1.0, False, 4096), ValueError, "block must end with a newline"),
        ((b"\n", -1, 1.0, False, 4096), ValueError, "instructions must be >= 0"),
        ((b"\n", 0, float("nan"), False, 4096), ValueError, "ns_per_instr"),
        ((b"\n", 0, float("inf"), False, 4096), ValueError, "ns_per_instr"),
        ((b"\n", 0, -1.0, False, 4096), ValueError, "ns_per_instr"),
        ((b"\n", 0, 1.0, False, 0), ValueError, "max_line must be >= 1"),
        ((b"\n", "0", 1.0, False, 4096), TypeError, "instructions must be an int, not str"),
        ((b"\n", True, 1.0, False, 4096), TypeError, "instructions must be an int"),
        ((b"\n", 0, "1", False, 4096), TypeError, "ns_per_instr must be a number, not str"),
        ((b"\n", 0, 1.0, False, 2.5), TypeError, "max_line must be an int, not float"),
        ((b"\n", 2**63, 1.0, False, 4096), ValueError, "instructions must be >= 0"),
    ],
)
def test_parse_block_bad_arguments(args: tuple[Any, ...], exc: type[Exception], msg: str) -> None:
    with pytest.raises(exc, match=msg):
        _lackey.parse_block(*args)


def test_parse_block_reports_bad_lines_by_index_and_bounds() -> None:
    block = b"==1== hi\nI  0040,3\n L 1f,8\nxx\r\n S 20,4\n\n L 1f,8,\n"
    t, a, k, z, good, instr, bad = _lackey.parse_block(block, 0, 1.0, False, 4096)
    assert bad is not None and [b.tolist() for b in bad] == [[3, 6], [27, 40], [29, 48]]
    assert block[27:29] == b"xx" and block[40:48] == b" L 1f,8,"
    assert (good, instr, a.tolist()) == (3, 1, [0x1F, 0x20])
