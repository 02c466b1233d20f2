"""Hostile input to the trace readers and the sources: a clear error, bounded.

The rule: bad input gets ``ValueError("FILE:LINE: ...")`` (``"FILE: ..."``
where there are no lines) from a reader and a ``TypeError``/``ValueError``
naming the argument from an API; never a crash, a hang, a silent wrong answer,
an ``OverflowError``/``RecursionError`` or memory that grows with what a small
file claims. Each test builds its hostile input in ``tmp_path``.

Reads that could hang or take all memory (if the bound they check were lost)
run in a fresh interpreter (:func:`run_child`) with a timeout and an
address-space limit; it measures the read's peak of traced memory with
:mod:`tracemalloc` and its time, so the parent asserts the bounds without ever
being at risk itself.
"""

from __future__ import annotations

import gzip
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import zlib
from typing import Any

import numpy as np
import pytest
from numpy.lib import format as npformat

import pghot.traces as traces
from pghot.machine.sources import HintFault, HwHints, PgtableScan
from pghot.traces import TraceChunk, detect_format, open_trace

DATA = pathlib.Path(__file__).parent / "data"
LACKEY = DATA / "tiny.lackey"
MIB = 1 << 20

# -- helpers ---------------------------------------------------------------------------------

#: The child of run_child: PARAMS is the JSON of argv[1]; BODY reads a trace and
#: sets `result`. Prints one JSON line: the exception (type and message) or
#: the result and the peak of traced memory (time is bounded by run_child's
#: timeout, a hang guard; speed is measured in bench/, not asserted here).
_CHILD = """
import json, resource, sys, tracemalloc
limit = 4 << 30  # address space: a lost bound dies with MemoryError, the machine is safe
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
import numpy as np
from pghot.traces import TraceChunk, open_trace
PARAMS = json.loads(sys.argv[1])
out = {"error": None, "message": "", "result": None}
tracemalloc.start()
try:
    result = None
BODY
    out["result"] = result
except BaseException as e:
    out["error"], out["message"] = type(e).__name__, str(e)
out["peak"] = tracemalloc.get_traced_memory()[1]
print(json.dumps(out))
"""


def run_child(
    body: str, params: dict[str, Any], *, timeout: float = 120, stdin: Any = None
) -> dict[str, Any]:
    """Run ``body`` (statements setting ``result``) in a fresh interpreter; its report.

    Fails the test if the child does not finish within ``timeout`` seconds
    (it is killed) or dies without reporting.
    """
    code = _CHILD.replace("BODY", "\n".join("    " + line for line in body.strip().splitlines()))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, json.dumps(params)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=stdin,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the read did not finish within {timeout} s (a hang)")
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and lines, f"child died ({proc.returncode}): {proc.stderr[-2000:]}"
    report: dict[str, Any] = json.loads(lines[-1])
    return report


#: A body draining the reader of PARAMS["path"] with PARAMS["kw"]: the records read.
_DRAIN = """
with open_trace(PARAMS["path"], **PARAMS.get("kw", {})) as r:
    result = 0
    for c in r:
        result += len(c)
        if result > 50_000_000:
            raise AssertionError("unbounded: more than 50M records")
"""


#: A body reading each of PARAMS["cases"] ([path, kw]): per case, [error type, message].
_ERRORS = """
result = []
for path, kw in PARAMS["cases"]:
    try:
        with open_trace(path, **kw) as r:
            for _ in r:
                pass
        result.append([None, ""])
    except Exception as e:
        result.append([type(e).__name__, str(e)])
"""


def assert_clear_error(report: dict[str, Any], pattern: str, *, peak: int = 64 * MIB) -> None:
    """The child's read failed with a ValueError matching ``pattern``, within the memory bound.

    Time is not asserted (speed belongs in ``bench/``): a hang or unbounded work
    fails through :func:`run_child`'s timeout.
    """
    assert report["error"] == "ValueError", report
    assert re.search(pattern, report["message"]), report["message"]
    assert report["peak"] < peak, report


def damo_doc(
    regions: list[dict[str, Any]],
    *,
    start_time: int = 0,
    end_time: int = 100_000_000,
    intervals: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    """A damo record of one snapshot of ``regions``."""
    record: dict[str, Any] = {
        "snapshots": [{"start_time": start_time, "end_time": end_time, "regions": regions}]
    }
    if intervals is not None:
        record["intervals"] = intervals
    return [record]


def write_json(path: pathlib.Path, doc: Any) -> pathlib.Path:
    path.write_text(json.dumps(doc))
    return path


def read_all(path: Any, **kw: Any) -> TraceChunk:
    with open_trace(path, **kw) as r:
        return TraceChunk.concat(list(r))


def lackey_text(lines: int) -> bytes:
    """A valid lackey trace of ``lines`` lines (longer than the 64 KiB detection reads)."""
    body = "".join(f"I  {0x401000 + 4 * i:08x},4\n S {0x7FF000 + 8 * i:08x},8\n" for i in range(lines // 2))
    return ("==1== Lackey, an example Valgrind tool\n" + body).encode()


# -- 7. damo: bounded time and memory ------------------------------------------------------------


def test_damo_region_over_the_whole_address_space(tmp_path: pathlib.Path) -> None:
    path = write_json(tmp_path / "d.json", damo_doc([{"start": 0, "end": 2**64, "nr_accesses": 1}]))
    report = run_child(_DRAIN, {"path": str(path)})
    assert_clear_error(
        report,
        r"d\.json: damo record 0 snapshot 0 region 0: 4503599627370496 pages, "
        r"more than max_region_pages=67108864",
    )


def test_damo_huge_nr_accesses(tmp_path: pathlib.Path) -> None:
    path = write_json(tmp_path / "d.json", damo_doc([{"start": 0, "end": 4096, "nr_accesses": 10**12}]))
    report = run_child(_DRAIN, {"path": str(path)})
    assert_clear_error(
        report, r"d\.json: damo record 0 snapshot 0 region 0: .*max_snapshot_accesses=268435456"
    )


def test_damo_many_sampling_slots_cost_nothing(tmp_path: pathlib.Path) -> None:
    # 2**31 - 1 sampling slots, 3 of them used: the expansion walks accesses, not slots
    path = write_json(
        tmp_path / "d.json",
        damo_doc(
            [{"start": 0, "end": 4096, "nr_accesses": 3}],
            end_time=10**9,
            intervals={"sample_us": 1, "aggr_us": 2**31 - 1},
        ),
    )
    more = write_json(
        tmp_path / "more.json",
        damo_doc([{"start": 0, "end": 4096, "nr_accesses": 3}], intervals={"sample_us": 1, "aggr_us": 2**40}),
    )
    report = run_child(
        """
with open_trace(PARAMS["path"]) as r:
    result = [TraceChunk.concat(list(r)).time_ns.tolist()]
try:
    list(open_trace(PARAMS["more"]))
except ValueError as e:
    result.append(str(e))
""",
        {"path": str(path), "more": str(more)},
    )
    assert report["error"] is None, report
    assert report["result"][0] == [0, 333_333_333, 666_666_666]
    assert re.match(
        r".*more\.json: damo record 0 intervals: aggregation 1099511627776 over sampling 1 "
        r"is more than 2147483647 sampling slots",
        report["result"][1],
    )


def test_damo_limits_are_options(tmp_path: pathlib.Path) -> None:
    path = write_json(tmp_path / "d.json", damo_doc([{"start": 0, "end": 10 * 4096, "nr_accesses": 5}]))
    assert len(read_all(path)) == 50
    with pytest.raises(
        ValueError,
        match=r"d\.json: damo record 0 snapshot 0 region 0: 10 pages, more than "
        r"max_region_pages=9 \(pass a larger max_region_pages",
    ):
        read_all(path, max_region_pages=9)
    with pytest.raises(ValueError, match=r"more than max_snapshot_accesses=49 accesses"):
        read_all(path, max_snapshot_accesses=49)
    assert len(read_all(path, max_region_pages=10, max_snapshot_accesses=50)) == 50
    size = len(path.read_bytes())
    with pytest.raises(
        ValueError,
        match=rf"d\.json: the damo record's JSON text is longer than "
        rf"max_json_bytes={size - 1} bytes",
    ):
        read_all(path, max_json_bytes=size - 1)
    assert len(read_all(path, max_json_bytes=size)) == 50
    # two records over one time window count together
    doc = damo_doc([{"start": 0, "end": 10 * 4096, "nr_accesses": 5}]) * 2
    write_json(path, doc)
    assert len(read_all(path, max_snapshot_accesses=100)) == 100
    with pytest.raises(ValueError, match=r"damo record 1 snapshot 0 region 0: .*max_snapshot_accesses=99"):
        read_all(path, max_snapshot_accesses=99)
    for bad, exc in [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)]:
        for name in ("max_json_bytes", "max_region_pages", "max_snapshot_accesses"):
            kw: dict[str, Any] = {name: bad}
            with pytest.raises(exc, match=name):
                open_trace(path, **kw)


def test_damo_large_expansion_matches_the_slot_rule(tmp_path: pathlib.Path) -> None:
    # regions of different sizes and rates, several chunks: slot floor(i * M / n), regions in order
    regions = [
        {"start": 0, "end": 300 * 4096, "nr_accesses": 7},
        {"start": 1 << 30, "end": (1 << 30) + 5 * 4096, "nr_accesses": 20},
        {"start": 1 << 40, "end": (1 << 40) + 4096, "nr_accesses": 1},
    ]
    path = write_json(
        tmp_path / "d.json",
        damo_doc(
            regions, start_time=1000, end_time=1000 + 20 * 5000, intervals={"sample_us": 5, "aggr_us": 100}
        ),
    )
    c = read_all(path, chunk_size=64)
    expected: list[tuple[int, int]] = []
    for slot in range(20):
        for reg in regions:
            n, pages = reg["nr_accesses"], range(reg["start"] // 4096, reg["end"] // 4096)
            if slot in {i * 20 // n for i in range(n)}:
                expected += [(1000 + slot * 5000, p * 4096) for p in pages]
    assert list(zip(c.time_ns.tolist(), c.get("vaddr").tolist())) == expected


def _bomb(path: pathlib.Path, kind: str, size: int) -> None:
    """``[`` and ``size`` spaces of JSON, compressed, written without holding them."""
    piece = b" " * MIB
    with open(path, "wb") as f:
        if kind == "zlib":
            z = zlib.compressobj(9)
            f.write(z.compress(b"["))
            for _ in range(size // MIB):
                f.write(z.compress(piece))
            f.write(z.flush())
        else:
            with gzip.GzipFile(fileobj=f, mode="wb") as g:
                g.write(b"[")
                for _ in range(size // MIB):
                    g.write(piece)


@pytest.mark.parametrize("kind", ["zlib", "gzip"])
def test_damo_compression_bomb(tmp_path: pathlib.Path, kind: str) -> None:
    path = tmp_path / ("bomb.json" if kind == "zlib" else "bomb.json.gz")
    _bomb(path, kind, traces.DAMO_MAX_JSON_BYTES + 16 * MIB)
    assert path.stat().st_size < MIB
    report = run_child(_DRAIN, {"path": str(path)})
    # a regular file: the decompressed text is counted before it is kept
    assert_clear_error(
        report,
        r"bomb\.json(\.gz)?: the damo record's JSON text is longer than "
        r"max_json_bytes=67108864 bytes after decompression",
        peak=16 * MIB,
    )


def test_damo_compression_bomb_on_standard_input(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "bomb.json"
    _bomb(path, "zlib", 64 * MIB)
    with open(path, "rb") as f:  # one pass: memory bounded by max_json_bytes
        report = run_child(
            _DRAIN, {"path": "-", "kw": {"format": "damo", "max_json_bytes": 4 * MIB}}, stdin=f
        )
    assert_clear_error(
        report, r"^-: the damo record's JSON text is longer than max_json_bytes=4194304", peak=32 * MIB
    )


def test_damo_deep_nesting(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "d.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ValueError, match=r"d\.json: not a damo JSON record \(nested too deeply\)"):
        read_all(path)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_dev_zero_fails_fast_in_every_format() -> None:
    report = run_child(
        """
result = {}
for fmt in ("lackey", "perf", "csv", "npy", "npz", "damo", None):
    try:
        with open_trace("/dev/zero", format=fmt) as r:
            for _ in r:
                raise AssertionError("records from /dev/zero")
        result[str(fmt)] = "no error"
    except ValueError as e:
        result[str(fmt)] = str(e)
""",
        {},
    )
    assert report["error"] is None, report
    assert report["peak"] < 64 * MIB, report
    got = report["result"]
    for fmt in ("lackey", "perf", "csv"):
        assert got[fmt] == f"/dev/zero: binary data (NUL byte at offset 0), not a {fmt} text trace"
    assert got["npy"].startswith("/dev/zero: not a valid .npy array")
    assert got["npz"].startswith("/dev/zero: a .npz trace must be a regular file")
    assert got["damo"].startswith("/dev/zero: not a damo JSON record (it starts with b'\\x00")
    assert got["None"].startswith("/dev/zero: binary data, not a text trace")


# -- 8. numeric overflow: an error naming the line, never OverflowError ------------------------------


@pytest.mark.parametrize(
    "column,value,hi",
    [("time_ms", 2**62, (2**63 - 1) // 10**6), ("time_us", (2**63 - 1) // 1000 + 1, (2**63 - 1) // 1000)],
)
def test_csv_time_conversion_overflow(tmp_path: pathlib.Path, column: str, value: int, hi: int) -> None:
    path = tmp_path / "t.csv"
    path.write_text(f"pfn,{column}\n1,5\n2,{value}\n3,{hi}\n")
    pattern = rf"^{re.escape(str(path))}:3: {column}: {value} out of range \[0, {hi}\]"
    with pytest.raises(ValueError, match=pattern):
        read_all(path)
    c = read_all(path, skip_bad=True)
    scale = 10**6 if column == "time_ms" else 1000
    assert c.time_ns.tolist() == [5 * scale, hi * scale]
    assert int(c.time_ns.min()) >= 0


@pytest.mark.parametrize("kind", ["npy", "npz"])
def test_npy_time_conversion_overflow(tmp_path: pathlib.Path, kind: str) -> None:
    pfn, t = np.array([1, 2], dtype=np.uint64), np.array([5, 2**62], dtype=np.int64)
    if kind == "npy":
        path = tmp_path / "t.npy"
        a = np.zeros(2, dtype=[("pfn", "<u8"), ("time_ms", "<i8")])
        a["pfn"], a["time_ms"] = pfn, t
        np.save(path, a)
    else:
        path = tmp_path / "t.npz"
        np.savez(path, pfn=pfn, time_ms=t)
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}: time_ms\[1\] = {2**62} is above"):
        read_all(path)


@pytest.mark.parametrize(
    "line,reason",
    [
        (
            "[001] 123456789012345678901.000001: 7f0000001000 1000",
            r"timestamp 123456789012345678901\.000001 s is too large",
        ),
        ("[001] 9223372036.854775808: 7f0000001000 1000", r"timestamp 9223372036\.854775808 s is too large"),
        ("[001] 1.000002: 10000000000000000000 1000", r"address 10000000000000000000 is wider than 64 bits"),
        ("[001] 1.000002: 1000 ffffffffffffffffff", r"address ffffffffffffffffff is wider than 64 bits"),
        ("[99999999999] 1.000002: 1000 1000", r"CPU 99999999999 is above 2147483647"),
        ("[2147483648] 1.000002: 1000 1000", r"CPU 2147483648 is above 2147483647"),
    ],
)
def test_perf_numeric_overflow(tmp_path: pathlib.Path, line: str, reason: str) -> None:
    path = tmp_path / "t.perf"
    path.write_text(f"[001] 1.000001: 7f0000001000 1000\n{line}\n[002] 1.000003: 7f0000002000 2000\n")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}:2: {reason}"):
        read_all(path, format="perf")
    c = read_all(path, format="perf", skip_bad=True)
    assert c.time_ns.tolist() == [1_000_001_000, 1_000_003_000] and c.get("cpu").tolist() == [1, 2]
    # the largest values that fit are read exactly
    path.write_text("[2147483647] 9223372036.854775807: ffffffffffffffff 0000000000000000001000\n")
    c = read_all(path, format="perf")
    assert c.time_ns.tolist() == [2**63 - 1] and c.get("vaddr").tolist() == [2**64 - 1]
    assert c.get("cpu").tolist() == [2**31 - 1] and c.get("pfn").tolist() == [1]


DAMO_OVERFLOWS: list[tuple[dict[str, Any], int, str]] = [
    ({"start": 2**64 + 4096, "end": 2**64 + 8192, "nr_accesses": 1}, 0, r" region 0: bad range"),
    ({"start": 2**64 - 4096, "end": 2**64 + 4096, "nr_accesses": 1}, 0, r" region 0: bad range"),
    ({"start": 0, "end": 4096, "nr_accesses": 1}, 2**63, r": times must be in \[0, 2\*\*63\)"),
    ({"start": 0, "end": 4096, "nr_accesses": 2**64}, 0, r" region 0: .*max_snapshot_accesses"),
    ({"start": 0, "end": 4096, "nr_accesses": {"percent": "inf"}}, 0, r" region 0 nr_accesses: bad percent"),
    ({"start": 0, "end": 4096, "nr_accesses": {"percent": "nan"}}, 0, r" region 0 nr_accesses: bad percent"),
    ({"start": 0, "end": 4096, "nr_accesses": {"percent": 1e300}}, 0, r" region 0 nr_accesses: bad percent"),
    ({"start": "1" * 30, "end": "1" * 29 + "2", "nr_accesses": 1}, 0, r" region 0: bad range"),
]


def test_damo_numeric_overflow(tmp_path: pathlib.Path) -> None:
    # in a child: before the checks, some of these expanded (nearly) without end
    paths = [
        str(
            write_json(
                tmp_path / f"d{k}.json",
                damo_doc(
                    [region],
                    start_time=start_time,
                    end_time=start_time + 100,
                    intervals={"sample_us": 5, "aggr_us": 100},
                ),
            )
        )
        for k, (region, start_time, _) in enumerate(DAMO_OVERFLOWS)
    ]
    report = run_child(_ERRORS, {"cases": [[p, {}] for p in paths]})
    assert report["error"] is None, report
    for path, (_, _, reason), (error, message) in zip(paths, DAMO_OVERFLOWS, report["result"]):
        assert error == "ValueError", (path, error, message)
        assert re.match(rf"{re.escape(path)}: damo record 0 snapshot 0{reason}", message), message


def test_damo_number_of_too_many_digits(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(
        '[{"snapshots": [{"start_time": 0, "end_time": 1, "regions": '
        '[{"start": 0, "end": 4096, "nr_accesses": ' + "9" * 5000 + "}]}]}]"
    )
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: not a damo JSON record"):
        read_all(path)


# -- 9. FIFOs, devices, directories, standard input, pipes ----------------------------------------------


def test_directory_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    for fmt in (None, "lackey", "npz", "damo"):
        pattern = rf"^{re.escape(str(tmp_path))}: is a directory, not a trace file"
        with pytest.raises(ValueError, match=pattern):
            open_trace(tmp_path, format=fmt)
    with pytest.raises(ValueError, match="is a directory"):
        detect_format(tmp_path)


#: reads PARAMS["path"] with PARAMS["kw"]: [format, records, vaddr sum, lines read]
_SUMMARY = """
with open_trace(PARAMS["path"], **PARAMS.get("kw", {})) as r:
    c = TraceChunk.concat(list(r))
    result = [r.format, len(c), int(c.get("vaddr").sum()), r.lines_read]
"""


def summary(path: Any, **kw: Any) -> list[Any]:
    with open_trace(path, **kw) as r:
        c = TraceChunk.concat(list(r))
        return [r.format, len(c), int(c.get("vaddr").sum()), r.lines_read]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
@pytest.mark.parametrize("fmt", [None, "lackey"])
def test_fifo_is_read_once(tmp_path: pathlib.Path, fmt: str | None) -> None:
    data = tmp_path / "big.lackey"
    data.write_bytes(lackey_text(20_000))  # 300 KiB: more than detection reads
    fifo = tmp_path / "trace"  # no extension: the format comes from the content
    os.mkfifo(fifo)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import shutil, sys; shutil.copyfileobj(open(sys.argv[1], 'rb'), open(sys.argv[2], 'wb'))",
            str(data),
            str(fifo),
        ]
    )
    try:
        report = run_child(_SUMMARY, {"path": str(fifo), "kw": {"format": fmt}}, timeout=60)
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.wait()
    assert report["error"] is None, report
    assert report["result"] == summary(data)


def test_standard_input(tmp_path: pathlib.Path) -> None:
    expected = summary(LACKEY)
    for fmt in (None, "lackey"):
        with open(LACKEY, "rb") as f:  # stdin redirected from the committed file
            report = run_child(_SUMMARY, {"path": "-", "kw": {"format": fmt}}, stdin=f)
        assert report["error"] is None and report["result"] == expected, report
    big = tmp_path / "big.lackey.gz"  # a real pipe, compressed, longer than the detection head
    big.write_bytes(gzip.compress(lackey_text(20_000)))
    cat = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import shutil, sys; shutil.copyfileobj(open(sys.argv[1], 'rb'), sys.stdout.buffer)",
            str(big),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        report = run_child(_SUMMARY, {"path": "-"}, stdin=cat.stdout)
    finally:
        assert cat.stdout is not None
        cat.stdout.close()
        cat.wait()
    assert report["error"] is None and report["result"] == summary(big), report


@pytest.mark.parametrize("fmt", [None, "lackey"])
@pytest.mark.parametrize("lines", [230, 20_000])
def test_pipe_through_dev_fd(tmp_path: pathlib.Path, fmt: str | None, lines: int) -> None:
    # what process substitution <(...) hands over: /dev/fd/N, the read end of a pipe
    data = tmp_path / "t.lackey"
    data.write_bytes(LACKEY.read_bytes() if lines == 230 else lackey_text(lines))
    report = run_child(
        """
import os, threading
rfd, wfd = os.pipe()
payload = open(PARAMS["data"], "rb").read()
def write():
    with os.fdopen(wfd, "wb") as w:
        w.write(payload)
writer = threading.Thread(target=write)
writer.start()
try:
    with open_trace(f"/dev/fd/{rfd}", format=PARAMS["fmt"]) as r:
        c = TraceChunk.concat(list(r))
        result = [r.format, len(c), int(c.get("vaddr").sum()), r.lines_read]
finally:
    os.close(rfd)  # a writer blocked on a full pipe gets EPIPE and ends
    writer.join()
""",
        {"data": str(data), "fmt": fmt},
        timeout=60,
    )
    assert report["error"] is None, report
    assert report["result"] == summary(data)


@pytest.mark.skipif(shutil.which("bash") is None or not os.path.exists("/dev/fd"), reason="no bash")
def test_process_substitution(tmp_path: pathlib.Path) -> None:
    code = (
        "import sys; from pghot.traces import open_trace, TraceChunk\n"
        "with open_trace(sys.argv[1]) as r:\n"
        "    print(r.format, len(TraceChunk.concat(list(r))))"
    )
    script = tmp_path / "read.py"
    script.write_text(code)
    proc = subprocess.run(
        ["bash", "-c", f'"{sys.executable}" "{script}" <(cat "{LACKEY}")'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["lackey", str(summary(LACKEY)[1])]


# -- 10. CSV values mean one thing in every block; .npy zero-size fields ----------------------------------


def test_csv_leading_zeros_are_decimal_in_every_block(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Blocks of a few lines: some with a hex pfn (numpy cannot parse the
    # column: per-value path), some without (numpy's path). 010 is ten in both.
    rows = []
    for i in range(40):
        pfn = f"0x{i:x}" if i % 7 == 3 else f"0{i:02d}"
        rows.append(f"{pfn},0{i},01,{i:03d}\n")
    path = tmp_path / "t.csv"
    path.write_text("pfn,time_ns,nid,vaddr\n" + "".join(rows))
    expected = list(range(40))
    for block in (16, 64, 100, 1 << 22):
        monkeypatch.setattr(traces._reader, "_BLOCK_BYTES", block)
        c = read_all(path)
        assert c.get("pfn").tolist() == expected
        assert c.time_ns.tolist() == expected and c.get("nid").tolist() == [1] * 40
        assert c.get("vaddr").tolist() == expected
    # 0x is hex only where the column may be hex; no other prefix is a base (0o17 was octal)
    path.write_text("pfn,time_ns\n010,0x10\n")
    with pytest.raises(ValueError, match=r":2: time_ns: not an integer: b'0x10'"):
        read_all(path)
    for value in ("0o17", "0b11"):
        for extra in ("", "0x10,2\n"):
            path.write_text(f"pfn,time_ns\n{value},1\n{extra}")
            with pytest.raises(ValueError, match=rf":2: pfn: not an integer: b'{value}'"):
                read_all(path)


@pytest.mark.parametrize(
    "dtype",
    [
        [("pfn", "<u8", (0,)), ("time_ns", "<i8")],
        [("pfn", "V0"), ("time_ns", "<i8")],
        [("pfn", "<u8", (2,)), ("time_ns", "<i8")],
    ],
)
def test_npy_zero_size_or_subarray_fields(tmp_path: pathlib.Path, dtype: list[Any]) -> None:
    path = tmp_path / "t.npy"
    np.save(path, np.zeros(3, dtype=dtype))
    pattern = rf"^{re.escape(str(path))}: \.npy field 'pfn' must be one integer per record"
    with pytest.raises(ValueError, match=pattern):
        read_all(path)


def test_npy_all_zero_size_records_claiming_many(tmp_path: pathlib.Path) -> None:
    # records of 0 bytes and a header promising 2**60 of them: no data to run out of
    path = tmp_path / "t.npy"
    header = {
        "descr": [("pfn", "<u8", (0,)), ("time_ns", "<i8", (0,))],
        "fortran_order": False,
        "shape": (2**60,),
    }
    with open(path, "wb") as f:
        npformat.write_array_header_1_0(f, header)
    report = run_child(_DRAIN, {"path": str(path)})
    assert_clear_error(report, r"t\.npy: \.npy field 'pfn' must be one integer per record")


# -- 11 (part). source constructors: an error naming the argument ------------------------------------------


CONSTRUCTOR_ARGS: list[tuple[type, str]] = [
    (HwHints, "sample_every"),
    (HwHints, "seed"),
    (HwHints, "hz"),
    (PgtableScan, "interval_ms"),
    (PgtableScan, "hz"),
    (PgtableScan, "origin_jiffies"),
    (HintFault, "scan_period_ms"),
    (HintFault, "scan_window_pages"),
    (HintFault, "scan_delay_ms"),
    (HintFault, "hz"),
    (HintFault, "origin_jiffies"),
]


@pytest.mark.parametrize("cls,name", CONSTRUCTOR_ARGS)
def test_source_constructor_arguments(cls: type, name: str) -> None:
    for bad, exc in [
        (2**70, ValueError),
        (-(2**70), ValueError),
        (-1, ValueError),
        (1.5, TypeError),
        ("3", TypeError),
        (True, TypeError),
        (np.float64(2.0), TypeError),
    ]:
        if name == "seed" and bad == 2**70:
            continue  # any non-negative seed is a seed
        with pytest.raises(exc, match=name):
            cls(**{name: bad})


def test_hwhints_random_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="random must be a bool"):
        HwHints(random="no")  # type: ignore[arg-type]
    assert HwHints(random=np.bool_(True)).random is True  # type: ignore[arg-type]


def test_sources_at_their_largest_arguments() -> None:
    hw = HwHints(sample_every=2**63 - 1, seed=2**70)
    assert len(hw.feed(np.arange(10), 0, np.arange(10)).pfns) <= 1
    assert len(HwHints(sample_every=2**63 - 1, random=True).feed(np.arange(10), 0, np.arange(10)).pfns) <= 1
    scan = PgtableScan(interval_ms=2**40, hz=10**6, origin_jiffies=2**62)
    assert scan.feed([1, 2], 0, [2**62, 2**63 - 1]).nows.tolist() == [2**62 + 2**40 * 1000]
    assert scan.flush().nows.tolist() == [2**63 - 1]  # due after the last jiffy: reported at it
    hf = HintFault(
        scan_period_ms=2**40, scan_window_pages=2**63 - 1, scan_delay_ms=2**40, hz=10**6, origin_jiffies=2**62
    )
    assert len(hf.feed([1, 2, 1], 0, [2**62, 2**62 + 1, 2**63 - 1]).pfns) == 1


def test_hint_fault_long_idle_time_is_not_a_loop_per_period() -> None:
    # a 1-jiffy period and an access 2**62 jiffies later: 2**62 scans, counted, not run one by one
    report = run_child(
        """
from pghot.machine.sources import HintFault
hf = HintFault(scan_period_ms=1, scan_window_pages=2, scan_delay_ms=0, origin_jiffies=0)
r = hf.feed([1, 2, 3, 1, 3], 0, [0, 1, 2, 2**62, 2**62 + 1])
hf.flush(2**62 + 10**15)
result = [r.pfns.tolist(), r.nows.tolist(), hf.scans, hf.next_scan, hf.unmapped]
""",
        {},
    )
    assert report["error"] is None, report
    pfns, nows, scans, next_scan, unmapped = report["result"]
    assert pfns == [1, 3] and nows == [2**62, 2**62 + 1]
    assert scans == 2**62 + 10**15 + 1 and next_scan == scans and unmapped == 1 + 2 + 1 + 1


@pytest.mark.parametrize("bad", ["x", 1.5, -1])
def test_source_flush_names_now(bad: Any) -> None:
    from pghot.machine.sources import HintFault, PgtableScan

    for src in (
        PgtableScan(interval_ms=10, origin_jiffies=0),
        HintFault(scan_period_ms=5, scan_window_pages=10, origin_jiffies=0),
    ):
        src.feed([1, 2], None, [0, 1])
        with pytest.raises((TypeError, ValueError), match="now"):
            src.flush(bad)
