"""The ``pghot`` command's errors: one line ``pghot: error: ...``, a documented status.

Status 2 for bad usage or input, 1 for a run that failed while running, 130
when interrupted, 141 when standard output is closed early; never a
traceback.  Most tests call :func:`pghot.cli.main` in-process; the broken
pipe and Ctrl-C are real subprocesses.  The simulator's bound on the metric
bins (a trace spanning an absurd time) is tested here too, through
:func:`pghot.sim.replay` and the command.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from pghot import cli, sim
from pghot.bench import designs
from pghot.cli import main

DATA = Path(__file__).resolve().parent / "data"
TRACE = str(DATA / "sample.csv")
LACKEY = str(DATA / "tiny.lackey")
HUGE = str(10**30)
ABSURD_NS = 2**62  # 146 years: 4.6e9 one-second bins, 34 GiB for each counter


def _error(capsys: pytest.CaptureFixture[str], argv: list[str], *, output: bool = False) -> tuple[int, str]:
    """Run ``main(argv)``, expect it to fail; its status and its one error line's message."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    assert isinstance(exc.value.code, int)
    assert err.count("\n") == 1 and err.startswith("pghot: error: "), err
    assert "Traceback" not in err
    if not output:
        assert out == ""
    return exc.value.code, err[len("pghot: error: ") :].strip()


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """Bad config files, an absurd trace and a directory, in ``tmp_path``."""
    (tmp_path / "unknown_key.toml").write_text("top_page = 64\n")
    (tmp_path / "negative.toml").write_text("top_pages = -3\n")
    (tmp_path / "huge.toml").write_text(f"[tracker]\nthreshold = {HUGE}\n")
    (tmp_path / "broken.toml").write_text("top_pages = [\n")
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe\x00top_pages")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "wrong_type.json").write_text('{"tracker": {"threshold": "three"}}')
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "dir.toml").mkdir()
    (tmp_path / "absurd.csv").write_text(f"vaddr,time_ns\n0x1000,0\n0x2000,{ABSURD_NS}\n")
    return tmp_path


# (argv, a piece of the message); "{d}" is the files directory, "{t}" a good trace
USAGE = [
    ([], "the following arguments are required"),
    (["nope"], "invalid choice"),
    (["demo", "--bogus"], "unrecognized arguments: --bogus"),
    (["demo", "--accesses", "-5"], "--accesses"),
    (["demo", "--accesses", "0"], "--accesses"),
    (["demo", "--accesses", HUGE], "--accesses"),
    (["demo", "--accesses", "many"], "--accesses"),
    (["demo", "--duration-ms", "-1"], "--duration-ms"),
    (["demo", "--duration-ms", HUGE], "--duration-ms"),
    (["demo", "--working-set-pages", "0"], "--working-set-pages"),
    (["demo", "--top-pages", HUGE], "--top-pages"),
    (["demo", "--seed", "-1"], "--seed"),
    (["demo", "--threshold", "9"], "threshold"),
    (["demo", "--designs", "nope"], "designs"),
    (["replay", "{d}/missing.csv"], "missing.csv: No such file or directory"),
    (["replay", "{d}"], "directory"),
    (["replay", "{t}", "--config", "{d}/missing.toml"], "missing.toml: No such file or directory"),
    (["replay", "{t}", "--config", "{d}/dir.toml"], "dir.toml"),
    (["replay", "{t}", "--config", "{d}/unknown_key.toml"], "unknown key 'top_page'"),
    (["replay", "{t}", "--config", "{d}/negative.toml"], "negative.toml: config: top_pages"),
    (["replay", "{t}", "--config", "{d}/huge.toml"], "huge.toml: config: tracker: threshold"),
    (["replay", "{t}", "--config", "{d}/broken.toml"], "broken.toml: not valid TOML"),
    (["replay", "{t}", "--config", "{d}/binary.toml"], "binary.toml: not valid TOML"),
    (["replay", "{t}", "--config", "{d}/list.json"], "list.json: config must be a table"),
    (["replay", "{t}", "--config", "{d}/wrong_type.json"], "wrong_type.json: config: tracker"),
    (["replay", "{t}", "--config", "{d}/deep.json"], "deep.json: nested too deeply"),
    (["replay", "{t}", "--set", "oops"], "--set: expected KEY=VALUE"),
    (["replay", "{t}", "--set", "top_pages=-1"], "top_pages"),
    (["replay", "{t}", "--set", f"hz={HUGE}"], "hz"),
    (["replay", "{t}", "--top-pages", "-1"], "--top-pages"),
    (["replay", "{t}", "--lower-pages", HUGE], "--lower-pages"),
    (["replay", "{t}", "--source", "bogus"], "sources[0].name"),
    (["replay", "{t}", "--source", "hw-hints:sample_every=-1"], "sample_every"),
    (["replay", "{t}", "--baselines", "nope"], "invalid choice"),
    (["replay", "{t}", "--format", "lackey"], "malformed lackey line"),
    (["replay", LACKEY, "--ns-per-instr", "nan"], "--ns-per-instr"),
    (["replay", LACKEY, "--ns-per-instr", "1e300"], "--ns-per-instr"),
    (["replay", "{d}/absurd.csv"], "max_span_s"),
    (["sweep", "{t}", "--grid", "tracker.threshold"], "--grid"),
    (["sweep", "{t}", "--grid", "=1,2"], "--grid"),
    (["sweep", "{t}", "--grid", "tracker.threshold="], "--grid"),
    (["sweep", "{t}", "--grid", "tracker.threshold=2,,3"], "--grid"),
    (["sweep", "{t}", "--grid", "tracker.bogus=1"], "unknown key 'bogus'"),
    (["sweep", "{t}", "--grid", "tracker.threshold=9"], "threshold"),
    (["sweep", "{t}", "--grid", f"tracker.threshold={HUGE}"], "threshold"),
    (["sweep", "{t}", "--config", "{d}/unknown_key.toml"], "unknown_key.toml"),
    (["sweep", "{d}/missing.csv"], "missing.csv: No such file or directory"),
    (["sweep", "-"], "standard input"),
    (["sweep", "{t}", "-j", "0"], "--jobs"),
    (["sweep", "{t}", "-j", "-3"], "--jobs"),
    (["sweep", "{d}/absurd.csv", "--grid", "tracker.threshold=2", "-j", "1"], "max_span_s"),
    (["bench", "--sizes", "1X"], "sizes"),
    (["bench", "--sizes", "0"], "sizes"),
    (["bench", "--sizes", "-5"], "sizes"),
    (["bench", "--sizes", HUGE], "sizes"),
    (["bench", "--sizes", "1e3"], "sizes"),
    (["bench", "--sizes", "4K", "--workloads", "nope"], "workloads"),
    (["bench", "--sizes", "4K", "--designs", "nope"], "designs"),
    (["bench", "--sizes", "4K", "--seed", "-1"], "--seed"),
    (["bench", "--sizes", "4K", "--v2-max-pfns", "-1"], "--v2-max-pfns"),
]


@pytest.mark.parametrize(("argv", "expected"), USAGE, ids=[" ".join(a) for a, _ in USAGE])
def test_bad_usage_or_input_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], files: Path, argv: list[str], expected: str
) -> None:
    args = [a.format(d=files, t=TRACE) for a in argv]
    if args and args[0] in cli._COMMANDS:
        args.append("--no-progress")
    status, message = _error(capsys, args)
    assert status == 2
    assert expected in message


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads a file whatever its mode"
)
def test_unreadable_config_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = tmp_path / "secret.toml"
    cfg.write_text("top_pages = 64\n")
    cfg.chmod(0)
    status, message = _error(capsys, ["replay", TRACE, "--config", str(cfg), "--no-progress"])
    assert status == 2 and "secret.toml: Permission denied" in message


# -- output files are checked before the run -------------------------------------------


def _never_run(monkeypatch: pytest.MonkeyPatch, command: str) -> list[str]:
    """Replace what ``command`` runs with a recorder; the list of its calls."""
    calls: list[str] = []

    def run(*args: Any, **kw: Any) -> Any:
        calls.append(command)
        raise AssertionError("the run started")

    target: Any = {"demo": cli, "replay": sim, "sweep": sim, "bench": designs}[command]
    name = {"demo": "run_demo", "replay": "replay", "sweep": "sweep", "bench": "compare"}[command]
    monkeypatch.setattr(target, name, run)
    return calls


COMMAND_ARGV = {
    "demo": ["demo", "--accesses", "2000", "--no-progress"],
    "replay": ["replay", TRACE, "--no-progress"],
    "bench": ["bench", "--sizes", "4K", "--no-progress"],
}


@pytest.mark.parametrize("command", sorted(COMMAND_ARGV))
@pytest.mark.parametrize(
    ("plot", "expected"),
    [
        ("missing/x.png", "cannot write it: No such file or directory"),
        (".", "cannot write it: Is a directory"),
        ("x.nope", "matplotlib cannot write .nope files"),
    ],
)
def test_unwritable_plot_is_refused_before_the_run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: str,
    plot: str,
    expected: str,
) -> None:
    calls = _never_run(monkeypatch, command)
    path = str(tmp_path / plot)
    status, message = _error(capsys, COMMAND_ARGV[command] + ["--plot", path])
    assert status == 2 and calls == []
    assert message.startswith(f"--plot {path}: ") and expected in message
    assert sorted(os.listdir(tmp_path)) == []  # the check leaves nothing behind


OUTPUT_ARGV = {**COMMAND_ARGV, "sweep": ["sweep", TRACE, "-j", "1", "--no-progress"]}


@pytest.mark.parametrize("command", sorted(OUTPUT_ARGV))
@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("missing/rows.json", "cannot write it: No such file or directory"),
        (".", "cannot write it: Is a directory"),
    ],
)
@pytest.mark.parametrize("option", ["-o", "--output"])
def test_unwritable_output_is_refused_before_the_run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: str,
    target: str,
    expected: str,
    option: str,
) -> None:
    calls = _never_run(monkeypatch, command)
    path = str(tmp_path / target)
    status, message = _error(capsys, OUTPUT_ARGV[command] + ["--json", option, path])
    assert status == 2 and calls == []
    assert message.startswith(f"--output {path}: ") and expected in message
    assert sorted(os.listdir(tmp_path)) == []


def test_bench_json_takes_no_file_name(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # bench used to take --json FILE: --json is a flag now, as in every command
    status, message = _error(capsys, COMMAND_ARGV["bench"] + ["--json", str(tmp_path / "b.json")])
    assert status == 2 and message.startswith("unrecognized arguments: ")
    assert sorted(os.listdir(tmp_path)) == []


def test_writable_outputs_are_left_as_they_were(tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    old.write_text("kept")
    cli._check_output("--output", str(old))
    cli._check_output("--output", str(tmp_path / "new.json"))
    cli._check_output("--output", os.devnull)
    assert old.read_text() == "kept" and sorted(os.listdir(tmp_path)) == ["old.json"]


def test_output_failing_after_the_run_is_status_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = str(tmp_path / "r.json")
    real_open = open

    def disk_full(file: Any, mode: str = "r", *args: Any, **kw: Any) -> Any:
        if file == path and "w" in mode:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), file)
        return real_open(file, mode, *args, **kw)

    monkeypatch.setattr("builtins.open", disk_full)
    status, message = _error(capsys, ["replay", TRACE, "--no-progress", "--json", "-o", path])
    assert status == 1
    assert message == f"--output {path}: cannot write it: {os.strerror(errno.ENOSPC)}"


def test_plot_failing_after_the_run_is_status_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def disk_full(self: sim.Result, path: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(sim.Result, "plot", disk_full)
    path = str(tmp_path / "r.png")
    status, message = _error(capsys, ["replay", TRACE, "--no-progress", "--plot", path], output=True)
    assert status == 1
    assert message == f"--plot {path}: cannot write it: {os.strerror(errno.ENOSPC)}"


# -- failures while running ------------------------------------------------------------

RUNNING = {
    "demo": ["demo", "--no-progress"],
    "replay": ["replay", TRACE, "--no-progress"],
    "sweep": ["sweep", TRACE, "-j", "1", "--no-progress"],
    "bench": ["bench", "--sizes", "4K", "--no-progress"],
}


def _raising(monkeypatch: pytest.MonkeyPatch, command: str, exc: BaseException) -> None:
    def run(*args: Any, **kw: Any) -> Any:
        raise exc

    target: Any = {"demo": cli, "replay": sim, "sweep": sim, "bench": designs}[command]
    name = {"demo": "run_demo", "replay": "replay", "sweep": "sweep", "bench": "compare"}[command]
    monkeypatch.setattr(target, name, run)


@pytest.mark.parametrize("command", sorted(RUNNING))
@pytest.mark.parametrize(
    ("exc", "status", "expected"),
    [
        (
            MemoryError("Unable to allocate 34.4 GiB for an array"),
            1,
            "out of memory (Unable to allocate 34.4 GiB for an array)",
        ),
        (
            RecursionError("maximum recursion depth exceeded"),
            1,
            "recursion too deep (maximum recursion depth exceeded)",
        ),
        (
            OverflowError("Python int too large to convert to C long"),
            2,
            "a number is too large (Python int too large to convert to C long)",
        ),
        (KeyError("target"), 1, "internal error: KeyError: 'target'"),
        (RuntimeError("line one\nline two"), 2, "line one line two"),
    ],
    ids=["MemoryError", "RecursionError", "OverflowError", "KeyError", "two-line message"],
)
def test_failures_while_running_are_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    exc: BaseException,
    status: int,
    expected: str,
) -> None:
    _raising(monkeypatch, command, exc)
    assert _error(capsys, RUNNING[command]) == (status, expected)


@pytest.mark.parametrize("command", sorted(RUNNING))
def test_keyboard_interrupt_in_process_is_status_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    _raising(monkeypatch, command, KeyboardInterrupt())
    try:
        with pytest.raises(SystemExit) as exc:
            main(RUNNING[command])
    except KeyboardInterrupt:  # escaping, it would stop the whole test session
        pytest.fail("KeyboardInterrupt escaped main()")
    assert exc.value.code == 130
    assert capsys.readouterr() == ("", "pghot: interrupted\n")


class _ClosedPipe:
    """A stdout whose reader has gone."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    def flush(self) -> None:
        pass


def test_broken_pipe_in_process_is_quiet_and_status_141(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    with pytest.raises(SystemExit) as exc:
        main(["replay", TRACE, "--no-progress"])
    assert exc.value.code == 141
    assert capsys.readouterr().err == ""


# -- a trace spanning an absurd time: bounded metric bins ----------------------------------


def test_absurd_time_span_is_refused_before_allocating(tmp_path: Path) -> None:
    trace = tmp_path / "absurd.csv"
    trace.write_text(f"vaddr,time_ns\n0x1000,0\n0x2000,{ABSURD_NS}\n")
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"absurd.csv: spans 4\.61169e\+09 s .*max_span_s"):
            sim.replay(str(trace), progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20


def test_long_time_span_widens_the_metric_bins(tmp_path: Path) -> None:
    trace = tmp_path / "absurd.csv"
    trace.write_text(f"vaddr,time_ns\n0x1000,0\n0x2000,{ABSURD_NS}\n")
    cfg = sim.SimConfig(max_span_s=2**40, sources=[{"name": "hw-hints"}])
    tracemalloc.start()
    try:
        r = sim.replay(str(trace), cfg, progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20
    assert len(r.accesses_series) <= sim.MAX_BINS and sum(r.accesses_series) == 2
    assert r.bin_s == 50_000.0  # 1 s bins widened by a round factor
    for p in r.policies.values():
        assert len(p.hit_ratio_series) == len(p.promotions_series) == len(r.accesses_series)
    assert [n for n in r.notes if n.startswith("metrics")][0] == (
        "metrics bins widened from interval_ms=1000 to 50000 s: the trace "
        "spans 4.61169e+09 s, more than 100,000 bins"
    )
    assert "  note: metrics bins widened" in r.summary()
    assert r.to_dict()["notes"] == r.notes


def test_long_time_span_through_the_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    trace = tmp_path / "absurd.csv"
    trace.write_text(f"vaddr,time_ns\n0x1000,0\n0x2000,{ABSURD_NS}\n")
    assert (
        main(
            [
                "replay",
                str(trace),
                "--set",
                "max_span_s=5000000000",
                "--source",
                "hw-hints",
                "--no-progress",
                "--json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["bin_s"] == 50_000.0 and len(data["accesses_series"]) <= sim.MAX_BINS
    assert any(n.startswith("metrics bins widened") for n in data["notes"])


# -- real processes: a closed pipe, Ctrl-C ----------------------------------------------


def _cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "pghot.cli", *argv]


def test_broken_pipe_exits_quietly_with_141() -> None:
    # `pghot demo | head -0`: the reader is gone before the first line is written
    with subprocess.Popen(
        _cli(
            "demo",
            "--accesses",
            "20000",
            "--working-set-pages",
            "2000",
            "--top-pages",
            "500",
            "--no-progress",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as p:
        assert p.stdout is not None and p.stderr is not None
        p.stdout.close()
        err = p.stderr.read()
        assert p.wait(timeout=120) == 141
    assert err == b""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a FIFO")
def test_sigint_during_a_long_replay_exits_130(tmp_path: Path) -> None:
    # A trace of six days and a promoter round every millisecond, with the threshold
    # adjustment (which keeps every round): 518M rounds, about 15 s here.  The config comes
    # through a FIFO, so that the process is known to be in the command (it has
    # opened the config) before the signal is sent.
    trace = tmp_path / "days.csv"
    trace.write_text(f"vaddr,time_ns\n0x1000,0\n0x2000,{6 * 86400 * 10**9}\n")
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)
    p = subprocess.Popen(
        _cli("replay", str(trace), "--config", str(fifo), "--no-progress"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # SIGINT at its default in the child: a test run started as a background job
        # ignores it, and an ignored SIGINT is inherited (Python then installs no handler)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as e:  # ENXIO: no reader yet
                assert e.errno == errno.ENXIO
                assert p.poll() is None, p.communicate()
                assert time.monotonic() < deadline, "the command never opened its config"
                time.sleep(0.01)
        config = {"sources": [{"name": "hw-hints"}], "promoter": {"interval_ms": 1, "threshold_adjust": True}}
        os.write(fd, json.dumps(config).encode())
        os.close(fd)
        time.sleep(0.5)
        assert p.poll() is None, "the replay ended before it was interrupted"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)  # a guard against a hang, not a speed check
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 130
    assert err == b"pghot: interrupted\n" and out == b""


def test_config_from_an_endless_device_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["replay", LACKEY, "--config", "/dev/zero"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("pghot: error: /dev/zero: larger than 1 MiB") and err.count("\n") == 1
