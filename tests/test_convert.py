"""``pghot convert`` and :func:`pghot.traces.convert`: parse once, replay the .npy the same.

A replay of the converted file must give the result a replay of the text
gives (``Result.to_json()``, the trace's name aside), on the committed
lackey and perf captures, the CSV sample and generated traces big enough
to promote pages; errors leave nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pghot import sim
from pghot.cli import main
from pghot.traces import TraceChunk, cached, convert, open_trace
from pghot.traces import _reader as reader_module

DATA = Path(__file__).parent / "data"
LACKEY = DATA / "tiny.lackey"
PERF = DATA / "minor_faults.perf"
PERF_MEM = DATA / "mem_loads.perf"
CSV = DATA / "sample.csv"
CFG = sim.SimConfig(top_pages=64)


def _demo_csv(path: Path, n: int = 30_000, pages: int = 1_000) -> Path:
    c = sim.demo_trace(n, pages, duration_ms=3_000, seed=3)
    rows = [
        f"0x{a:x},{t},{i % 2}" for i, (a, t) in enumerate(zip(c.get("vaddr").tolist(), c.time_ns.tolist()))
    ]
    path.write_text("# generated\nvaddr,time_ns,nid\n" + "\n".join(rows) + "\n")
    return path


def _demo_perf(path: Path, n: int = 30_000, pages: int = 1_000) -> Path:
    c = sim.demo_trace(n, pages, duration_ms=3_000, seed=4)
    lines = []
    for i, (a, t) in enumerate(zip(c.get("vaddr").tolist(), c.time_ns.tolist())):
        secs, usec = divmod(t // 1000 + 5_000_000_000, 1_000_000)
        lines.append(f"[{i % 4:03d}] {f'{secs}.{usec:06d}':>12}: {a:16x}{a + 0x100000000:16x}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _replay_json(path: Path, cfg: sim.SimConfig = CFG, **open_options: Any) -> dict[str, Any]:
    """The replay's JSON but what reading the file found (its format, lines, drops)."""
    r = sim.replay(str(path), cfg, progress=False, name="t", open_options=open_options)
    out: dict[str, Any] = json.loads(r.to_json())
    return _without_reading(out)


def _without_reading(out: dict[str, Any]) -> dict[str, Any]:
    out["trace"].pop("reading", None)  # the text and its .npy are read differently
    out["notes"] = [n for n in out["notes"] if not n.startswith("reading:")]
    return out


def _chunks(path: Path, **kw: Any) -> TraceChunk:
    with open_trace(path, **kw) as r:
        return TraceChunk.concat(list(r))


def _same_records(a: TraceChunk, b: TraceChunk) -> None:
    kept = list(a.fields())  # every field, lackey's kind and size included
    assert list(b.fields()) == kept
    for name in kept:
        assert np.array_equal(a.get(name), b.get(name)), name
        assert a.get(name).dtype == b.get(name).dtype, name


# -- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("lackey", {}),
        ("lackey", {"ns_per_instr": 2.5}),
        ("perf", {}),
        ("perf_mem", {"cpu_to_node": {0: 0, 1: 0, 2: 0, 3: 0, 4: 1, 5: 1, 6: 1, 7: 1}}),
        ("csv", {}),
        ("demo_csv", {}),
        ("demo_perf", {"page_size": 8192}),
    ],
)
def test_replay_of_the_npy_is_the_replay_of_the_text(
    tmp_path: Path, name: str, options: dict[str, Any]
) -> None:
    src = {
        "lackey": lambda: LACKEY,
        "perf": lambda: PERF,
        "perf_mem": lambda: PERF_MEM,
        "csv": lambda: CSV,
        "demo_csv": lambda: _demo_csv(tmp_path / "d.csv"),
        "demo_perf": lambda: _demo_perf(tmp_path / "d.perf"),
    }[name]()
    dst = tmp_path / "out.npy"
    info = convert(src, dst, **options)
    text_chunks = _chunks(src, **options)
    assert info["records"] == len(text_chunks) and info["bytes"] == dst.stat().st_size
    _same_records(text_chunks, _chunks(dst))
    assert np.load(dst).shape == (len(text_chunks),)  # a plain .npy numpy reads too
    # replay takes the page size from its config, convert as an option
    replay_options = {k: v for k, v in options.items() if k != "page_size"}
    # llc_bytes=0: a lackey text gets the default last-level cache, its .npy
    # (no format, no access sizes) does not; test_default_filter_... below
    cfg = sim.SimConfig(top_pages=64, page_size=options.get("page_size", 4096), llc_bytes=0)
    text = _replay_json(src, cfg, **replay_options)
    assert _replay_json(dst, cfg) == text
    if name.startswith("demo"):
        assert text["policies"]["pghot"]["promotions"] > 0  # a replay with something to compare


def test_the_output_does_not_depend_on_chunk_size(tmp_path: Path) -> None:
    src = _demo_csv(tmp_path / "d.csv", n=5_000)
    convert(src, tmp_path / "a.npy")
    convert(src, tmp_path / "b.npy", chunk_size=7)
    assert (tmp_path / "a.npy").read_bytes() == (tmp_path / "b.npy").read_bytes()


def test_header_is_numpys_and_the_data_is_aligned(tmp_path: Path) -> None:
    dst = tmp_path / "t.npy"
    convert(LACKEY, dst)
    raw = dst.read_bytes()
    hlen = int.from_bytes(raw[8:10], "little")
    assert raw[:8] == b"\x93NUMPY\x01\x00" and (10 + hlen) % 64 == 0 and raw[9 + hlen : 10 + hlen] == b"\n"
    arr = np.load(dst)
    assert arr.dtype.names == ("time_ns", "vaddr", "kind", "size") and len(raw) == 10 + hlen + arr.nbytes


def test_sweep_accepts_the_npy(tmp_path: Path) -> None:
    src = _demo_csv(tmp_path / "d.csv", n=8_000, pages=300)
    dst = tmp_path / "d.npy"
    convert(src, dst)
    grid = {"tracker.threshold": [2, 3]}
    rows_text = sim.sweep([str(src)], grid, sim.SimConfig(top_pages=50), workers=1, progress=False)
    rows_npy = sim.sweep([str(dst)], grid, sim.SimConfig(top_pages=50), workers=1, progress=False)
    for r in rows_text + rows_npy:
        del r["trace"]
    assert rows_npy == rows_text


def test_skip_bad_counts_and_keeps_the_good_lines(tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_text("pfn,time_ns\n1,10\noops\n2,20\n")
    info = convert(src, tmp_path / "t.npy", skip_bad=True)
    assert info["records"] == 2 and info["counters"]["bad_lines"] == 1
    assert np.load(tmp_path / "t.npy")["pfn"].tolist() == [1, 2]


def test_an_existing_output_is_replaced(tmp_path: Path) -> None:
    dst = tmp_path / "t.npy"
    dst.write_bytes(b"old")
    convert(CSV, dst)
    assert np.load(dst).shape == (4,)
    assert sorted(os.listdir(tmp_path)) == ["t.npy"]


# -- the command ---------------------------------------------------------------------------


def test_cli_convert_then_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dst = tmp_path / "t.npy"
    assert main(["convert", str(LACKEY), str(dst), "--no-progress"]) == 0
    line = capsys.readouterr().out
    assert line.startswith(
        f"converted {LACKEY} (lackey, 227 lines) to {dst}: 69 records of time_ns, vaddr, kind, size"
    )
    assert main(["convert", str(LACKEY), str(dst), "--no-progress", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (
        info["records"] == 69
        and info["fields"] == ["time_ns", "vaddr", "kind", "size"]
        and info["format"] == "lackey"
    )
    results = []
    for trace in (LACKEY, dst):  # llc_bytes=0: see test_replay_of_the_npy_is_the_replay_of_the_text
        argv = ["replay", str(trace), "--json", "--no-progress", "--top-pages", "2", "--set", "llc_bytes=0"]
        assert main(argv) == 0
        r = json.loads(capsys.readouterr().out)
        r["trace"].pop("name")
        results.append(_without_reading(r))
    assert results[0] == results[1]


def test_cli_options_reach_the_reader(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dst = tmp_path / "t.npy"
    assert main(["convert", str(LACKEY), str(dst), "--ns-per-instr", "3", "--no-progress"]) == 0
    assert np.load(dst)["time_ns"].tolist() == _chunks(LACKEY, ns_per_instr=3.0).time_ns.tolist()
    assert main(["convert", str(PERF), str(dst), "--page-size", "8192", "--no-progress"]) == 0
    assert np.load(dst)["pfn"].tolist() == _chunks(PERF, page_size=8192).get("pfn").tolist()
    bad = tmp_path / "bad.csv"
    bad.write_text("pfn,time\n1,1\nx\n")
    assert main(["convert", str(bad), str(dst), "--skip-bad", "--no-progress"]) == 0
    assert "1 malformed lines skipped" in capsys.readouterr().out


# -- bad input ------------------------------------------------------------------------------


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as e:
        main(argv + ["--no-progress"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pghot: error: "), err
    code = e.value.code
    assert isinstance(code, int)
    return code, err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["{d}/missing.csv", "{d}/o.npy"], "missing.csv: No such file or directory"),
        (["{csv}", "{d}/no/such/dir/o.npy"], "o.npy: No such file or directory"),
        (["{csv}", "{d}/o.csv"], "must end in .npy"),
        (["{csv}", "{d}/sub.npy"], "is a directory"),
        (["{d}/t.npy", "{d}/t.npy"], "is the trace itself"),
        (["{d}/t.npy", "{d}/./t.npy"], "is the trace itself"),
        (["{d}/link.npy", "{d}/t.npy"], "is the trace itself"),
        (["{csv}", "{d}/o.npy", "--format", "bogus"], "invalid choice: 'bogus'"),
        (["{csv}", "{d}/o.npy", "--format", "lackey"], "malformed lackey line"),
        (["{d}/empty.csv", "{d}/o.npy"], "no records to convert"),
        (["{csv}", "{d}/o.npy", "--page-size", "3000"], "--page-size: must be a power of two"),
        (["{csv}", "{d}/o.npy", "-o", "{d}/o.npy"], "--output"),
        (["{csv}", "{d}/o.npy", "-o", "{csv}"], "--output"),
    ],
)
def test_bad_input_is_one_line_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    (tmp_path / "sub.npy").mkdir()
    (tmp_path / "empty.csv").write_text("pfn,time\n")
    convert(CSV, tmp_path / "t.npy")
    (tmp_path / "link.npy").symlink_to(tmp_path / "t.npy")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    args = ["convert"] + [a.format(d=tmp_path, csv=CSV) for a in argv]
    status, message = _error(capsys, args)
    assert status == 2 and expected in message
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before  # nothing new, nothing changed


def test_api_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        convert(CSV, tmp_path / "o.npy", format="bogus")
    raw: Any = os.fsencode(CSV)
    with pytest.raises(TypeError, match="str paths"):
        convert(raw, tmp_path / "o.npy")
    with pytest.raises(FileNotFoundError):
        convert(tmp_path / "missing.csv", tmp_path / "o.npy")
    with pytest.raises(ValueError, match="chunk_size"):
        convert(CSV, tmp_path / "o.npy", chunk_size=0)
    assert os.listdir(tmp_path) == []


# -- nothing half-written ----------------------------------------------------------------


def test_a_bad_line_late_in_the_trace_leaves_nothing(tmp_path: Path) -> None:
    src = _demo_csv(tmp_path / "d.csv", n=20_000)
    with src.open("a") as f:
        f.write("not,a,row,at,all\n")
    dst = tmp_path / "d.npy"
    dst.write_bytes(b"previous")
    with pytest.raises(ValueError, match=r"d\.csv:20003: expected 3 comma-separated fields"):
        convert(src, dst, chunk_size=1_000)  # 20 chunks written before the error
    assert dst.read_bytes() == b"previous"
    assert sorted(os.listdir(tmp_path)) == ["d.csv", "d.npy"]


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError, ValueError])
def test_a_reader_failing_mid_way_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: type[BaseException]
) -> None:
    written: list[int] = []

    def failing(reader: Any) -> Iterator[TraceChunk]:
        for i in range(5):
            written.append(i)
            yield TraceChunk(time_ns=np.arange(1000) + 1000 * i, pfn=np.arange(1000))
        raise error("boom")

    monkeypatch.setitem(reader_module.READERS, "csv", failing)
    with pytest.raises((error, ValueError)):
        convert(CSV, tmp_path / "o.npy", chunk_size=100)
    assert written == [0, 1, 2, 3, 4]
    assert os.listdir(tmp_path) == []


def test_a_full_disk_names_the_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from pghot.traces import _convert

    class Full:
        def __init__(self, fd: int, mode: str) -> None:
            self._f = os.fdopen(fd, mode)

        def write(self, data: Any) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self) -> None:
            self._f.close()

    monkeypatch.setattr(_convert, "_open_fd", Full)
    with pytest.raises(OSError, match="No space left") as e:
        convert(CSV, tmp_path / "o.npy")
    assert e.value.filename == str(tmp_path / "o.npy")
    assert os.listdir(tmp_path) == []


def test_fields_changing_mid_way_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def changing(reader: Any) -> Iterator[TraceChunk]:
        yield TraceChunk(time_ns=np.array([1]), pfn=np.array([1]))
        yield TraceChunk(time_ns=np.array([2]), pfn=np.array([2]), nid=np.array([0]))

    monkeypatch.setitem(reader_module.READERS, "csv", changing)
    with pytest.raises(ValueError, match="differ"):
        convert(CSV, tmp_path / "o.npy", chunk_size=1)
    assert os.listdir(tmp_path) == []


# -- the cache beside the trace ----------------------------------------------------------


def test_cache_is_written_once_and_kept_while_the_trace_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pghot.traces import _convert

    src = tmp_path / "t.lackey"
    shutil.copy(LACKEY, src)
    calls: list[dict[str, Any]] = []
    real = _convert.convert

    def counting(*args: Any, **kw: Any) -> dict[str, Any]:
        calls.append(kw)
        return real(*args, **kw)

    monkeypatch.setattr(_convert, "convert", counting)
    path = cached(src)
    assert path == f"{src}.pghot.npy" and len(calls) == 1
    record = json.loads(Path(f"{src}.pghot.json").read_text())
    assert record["key"]["pghot_cache_version"] == _convert.CACHE_VERSION
    assert record["key"]["source_size"] == src.stat().st_size
    _same_records(_chunks(src), _chunks(Path(path)))
    assert cached(src) == path and len(calls) == 1  # reused: nothing parsed
    cached(src, ns_per_instr=2.0)  # other options: written again
    assert (
        len(calls) == 2
        and np.load(path)["time_ns"].tolist() == _chunks(src, ns_per_instr=2.0).time_ns.tolist()
    )
    cached(src, ns_per_instr=2.0)
    assert len(calls) == 2
    with src.open("a") as f:  # the trace changed: written again
        f.write(" L 00403000,1\n")
    cached(src, ns_per_instr=2.0)
    assert len(calls) == 3 and np.load(path).shape == (len(_chunks(src)),)
    for damage in ("not json", json.dumps({**record, "key": {**record["key"], "pghot_cache_version": 99}})):
        Path(f"{src}.pghot.json").write_text(damage)
        cached(src, ns_per_instr=2.0)
    assert len(calls) == 5
    Path(path).write_bytes(b"other")  # the .npy is not the one recorded
    cached(src, ns_per_instr=2.0)
    assert len(calls) == 6 and np.load(path).shape == (len(_chunks(src)),)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "t.lackey",
        "t.lackey.pghot.json",
        "t.lackey.pghot.npy",
    ]


def test_replay_with_cache_is_the_replay_without(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "t.lackey"
    shutil.copy(LACKEY, src)
    # llc_bytes=0: see test_replay_of_the_npy_is_the_replay_of_the_text
    argv = ["replay", str(src), "--json", "--no-progress", "--top-pages", "2", "--set", "llc_bytes=0"]
    results = []
    for extra in ([], ["--cache"], ["--cache"]):
        assert main(argv + extra) == 0
        results.append(json.loads(capsys.readouterr().out))
    assert results[0] == results[1] == results[2]  # the trace's name included
    assert (tmp_path / "t.lackey.pghot.npy").is_file()


def test_default_filter_replays_the_cache_as_the_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "t.lackey"
    shutil.copy(LACKEY, src)
    argv = ["replay", str(src), "--json", "--no-progress", "--top-pages", "2"]
    results = []
    for extra in ([], ["--cache"]):
        assert main(argv + extra) == 0
        results.append(json.loads(capsys.readouterr().out))
    assert results[0]["trace"]["llc"]["hits"] > 0  # the text was filtered
    assert results[0] == results[1]


def test_cache_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="standard input"):
        cached("-")
    with pytest.raises(ValueError, match="regular trace file"):
        cached(tmp_path)
    with pytest.raises(FileNotFoundError):
        cached(tmp_path / "missing.csv")
    status, message = _error(capsys, ["replay", "-", "--cache"])
    assert status == 2 and "standard input" in message
    assert os.listdir(tmp_path) == []


def test_convert_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["convert", "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and out.startswith("usage: pghot convert")
    for option in ("--json", "-o FILE, --output FILE", "--format", "--skip-bad", "--page-size"):
        assert option in out
