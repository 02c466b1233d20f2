"""``pghot study``: the workloads, the cached parallel runs, the report, the published checks."""

from __future__ import annotations

import doctest
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pghot
from pghot import sim
from pghot.cli import main
from pghot.study import QUICK_SCALE, Job, Study, cache_key, make, run_jobs, run_study, study_policies
from pghot.study import report as report_mod
from pghot.study import run as study_run
from pghot.study import workloads as wl

MODULES = ["pghot.study.workloads", "pghot.study.run", "pghot.study.study", "pghot.study.report"]


@pytest.mark.parametrize("name", MODULES)
def test_module_examples(name: str) -> None:
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(importlib.import_module(name), optionflags=flags, report=False)
    assert result.attempted > 0 and result.failed == 0


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Study:
    """The ``--quick`` study, every workload and policy, once for the module."""
    cache = tmp_path_factory.mktemp("cache")
    return run_study(scale=QUICK_SCALE, jobs=2, cache_dir=cache, progress=False)


# -- the workloads ---------------------------------------------------------------------


def test_workloads_are_deterministic_and_scale() -> None:
    for name in wl.WORKLOADS:
        a, b = make(name, 0.01, seed=3), make(name, 0.01, seed=3)
        assert np.array_equal(a.chunk.pages(4096), b.chunk.pages(4096)) and np.array_equal(
            a.chunk.time_ns, b.chunk.time_ns
        )
        c = make(name, 0.01, seed=4)
        assert not np.array_equal(a.chunk.pages(4096), c.chunk.pages(4096)), name
        pages = a.chunk.pages(4096)
        assert len(np.unique(pages)) == a.footprint_pages == 164, name
        assert a.accesses == 40_000, name
        assert int(a.chunk.time_ns[-1]) < wl.DURATION_MS * 1_000_000
        big = make(name, 0.02, seed=3)
        assert big.footprint_pages == 328 and big.accesses == 80_000


def _pages(w: wl.Workload) -> np.ndarray:
    """The workload's pages from 0 (its addresses start at 0x7F00_0000_0000)."""
    return (w.chunk.pages(4096) - np.uint64(0x7F00_0000_0000 // 4096)).astype(np.int64)


def _body(w: wl.Workload) -> np.ndarray:
    pages = _pages(w)
    return pages[w.footprint_pages :].astype(np.int64)


def test_gups_hot_set_takes_ninety_percent() -> None:
    w = make("gups-hot", 0.25, seed=0)  # 4,096 pages, 1M accesses
    pages = _pages(w)
    assert pages[: w.footprint_pages].tolist() == list(range(w.footprint_pages))  # the init pass
    body = _body(w)
    counts = np.bincount(body, minlength=w.footprint_pages)
    hot = np.argsort(counts)[::-1][: w.footprint_pages // 8]
    share = counts[hot].sum() / len(body)
    # 90 % to the hot set plus the uniform 10 %'s eighth of it: 0.9 + 0.1 / 8
    assert share == pytest.approx(0.9125, abs=0.005)
    # the hot set is spread over the footprint: about three quarters beyond the first quarter
    assert np.mean(hot >= w.footprint_pages // 4) == pytest.approx(0.75, abs=0.06)


def test_gups_moving_changes_its_hot_set_half_way() -> None:
    w = make("gups-moving", 0.25, seed=0)
    body = _body(w)
    n = len(body)
    top = w.footprint_pages // 8

    def hot(part: np.ndarray) -> set[int]:
        return set(np.argsort(np.bincount(part, minlength=w.footprint_pages))[::-1][:top].tolist())

    first, second = hot(body[: n // 2]), hot(body[n // 2 :])
    assert len(first & second) < top // 20  # disjoint hot sets, up to the uniform 10 %'s noise


def test_v3_micro_region_is_beyond_the_filler() -> None:
    w = make("v3-micro", 0.01)
    body = _body(w)[: -w.footprint_pages // 2 or None]
    pages = _pages(w)
    filler = w.footprint_pages // 2
    assert pages[:filler].tolist() == list(range(filler))
    assert int(pages[filler:].min()) >= filler and len(body) > 0


def test_scan_hot_scan_is_sequential() -> None:
    w = make("scan-hot", 0.01)
    pages = _pages(w)
    hot_n = w.footprint_pages // 16
    scan = pages[pages >= hot_n]
    steps = np.diff(scan)
    assert set(np.unique(steps).tolist()) <= {0, 1, -(w.footprint_pages - hot_n - 1)}
    assert 0.45 < np.mean(pages < hot_n) < 0.55


def test_kv_zipf_item_size_packs_items() -> None:
    small, large = make("kv-zipf", 0.01, item_bytes=64), make("kv-zipf", 0.01, item_bytes=4096)
    assert "10,496 items of 64 B" in small.description and "164 items of 4096 B" in large.description
    with pytest.raises(TypeError, match="item_bytes"):
        make("kv-zipf", 0.01, item_bytes=1.5)
    with pytest.raises(ValueError, match="item_bytes"):
        make("kv-zipf", 0.01, item_bytes=8192)


def test_unknown_workload() -> None:
    with pytest.raises(ValueError, match="workload must be one of"):
        make("gups", 1.0)
    with pytest.raises(TypeError, match="workload"):
        make(3, 1.0)  # type: ignore[arg-type]


# -- the runs and their cache ----------------------------------------------------------


def test_cache_recomputes_only_what_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = {"name": "gups-hot", "scale": 0.01, "seed": 0}
    a = Job(spec, 0.25, ("none", "v2"), {"sources": [{"name": "hint-fault"}]})
    b = Job(spec, 0.25, ("pghot",), {"sources": [{"name": "hint-fault"}], "tracker": {"threshold": 3}})
    first = run_jobs([a, b], cache_dir=tmp_path, progress=False)
    assert [r["cached"] for r in first] == [[], []]
    assert len(list(tmp_path.glob("*.json"))) == 3  # one file per policy
    b2 = Job(spec, 0.25, ("pghot",), {"sources": [{"name": "hint-fault"}], "tracker": {"threshold": 4}})
    second = run_jobs([a, b2], cache_dir=tmp_path, progress=False)
    assert [r["cached"] for r in second] == [["none", "v2"], []]
    assert second[0]["policies"] == first[0]["policies"]
    assert second[1]["policies"]["pghot"]["promotions"] != first[1]["policies"]["pghot"]["promotions"]
    # a new package version computes everything again
    key = cache_key(spec, 0.25, "none", a.config)
    monkeypatch.setattr(pghot, "__version__", "999")
    assert cache_key(spec, 0.25, "none", a.config) != key
    third = run_jobs([a], cache_dir=tmp_path, progress=False)
    assert third[0]["cached"] == []
    # so does a change of the replay's results within a version (RESULTS_VERSION)
    key = cache_key(spec, 0.25, "none", a.config)
    monkeypatch.setattr(study_run, "RESULTS_VERSION", study_run.RESULTS_VERSION + 1)
    assert cache_key(spec, 0.25, "none", a.config) != key
    assert run_jobs([a], cache_dir=tmp_path, progress=False)[0]["cached"] == []


def test_parallel_runs_match_serial(tmp_path: Path) -> None:
    spec = {"name": "kv-zipf", "scale": 0.01, "seed": 1}
    jobs = [Job(spec, f, ("none", "tpp"), {"sources": [{"name": "hint-fault"}]}) for f in (0.25, 0.5)]
    serial = run_jobs(jobs, workers=1, progress=False)
    parallel = run_jobs(jobs, workers=2, progress=False)
    assert [r["policies"] for r in serial] == [r["policies"] for r in parallel]
    assert [r["top_pages"] for r in serial] == [41, 82]


def test_policies_come_from_the_simulator(monkeypatch: pytest.MonkeyPatch) -> None:
    assert study_policies()[: len(sim.POLICIES)] == list(sim.POLICIES)
    monkeypatch.setattr(sim, "POLICIES", (*sim.POLICIES, "damon"))
    assert "damon" in study_policies() and study_policies(["damon"]) == ["damon", "none", "oracle"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"workloads": ["gups"]}, ValueError, "workloads: unknown workload 'gups'"),
        ({"workloads": "gups-hot"}, TypeError, "workloads must be a sequence"),
        ({"policies": ["numab3"]}, ValueError, "policies: unknown policy 'numab3'"),
        ({"policies": []}, ValueError, "policies: name at least one"),
        ({"scale": 0}, ValueError, "scale must be"),
        ({"scale": "1"}, ValueError, "scale must be"),
        ({"scale": 1000}, ValueError, "scale 1000: the study would need about"),
        ({"jobs": 0}, ValueError, "jobs must be"),
        ({"seed": -1}, ValueError, "seed must be"),
        ({"top_fractions": [0.25, 1.0]}, ValueError, "top_fractions must be numbers in"),
        ({"top_fractions": 0.25}, TypeError, "top_fractions must be a sequence"),
    ],
)
def test_bad_arguments_name_themselves(
    kwargs: dict[str, Any], error: type, match: str, tmp_path: Path
) -> None:
    with pytest.raises(error, match=match):
        run_study(cache_dir=tmp_path, progress=False, **kwargs)
    assert list(tmp_path.iterdir()) == []  # refused before anything ran


def test_missing_trace_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such trace file"):
        run_study([str(tmp_path / "nope.npy")], progress=False)


def test_a_trace_is_a_workload(tmp_path: Path) -> None:
    w = make("gups-hot", 0.01)
    path = tmp_path / "t.npy"
    c = w.chunk
    rec = np.zeros(len(c), dtype=[("time_ns", "<i8"), ("vaddr", "<u8")])
    rec["time_ns"], rec["vaddr"] = c.time_ns, c.vaddr
    np.save(path, rec)
    s = run_study([str(path)], policies=["v2"], progress=False)
    assert list(s.workloads) == [str(path)]
    built = run_study(workloads=["gups-hot"], scale=0.01, policies=["v2"], progress=False)
    # the same accesses from a file and from the generator: the same numbers
    for f in ("0.25", "0.5"):
        a = s.workloads[str(path)]["runs"][f]["policies"]["v2"]
        b = built.workloads["gups-hot"]["runs"][f]["policies"]["v2"]
        assert a["top_tier_hits"] == b["top_tier_hits"] and a["promotions"] == b["promotions"]


# -- the study's numbers ---------------------------------------------------------------


def test_every_policy_on_every_workload(quick: Study) -> None:
    assert list(quick.workloads) == list(wl.WORKLOADS)
    assert quick.settings["policies"] == [*sim.POLICIES, "pghot-aging"]
    rows = quick.rows()
    assert len(rows) == len(wl.WORKLOADS) * 2 * len(quick.settings["policies"])
    for r in rows:
        assert 0 <= r["hit_ratio"] <= 1
        if r["policy"] == "oracle":
            assert r["time_vs_oracle"] == 1.0
        if r["policy"] == "none":
            assert r["time_vs_none"] == 1.0 and r["promotions"] == 0 and r["tracker_memory_bytes"] is None
    r = quick.row("gups-hot", 0.25, "v2")
    assert r["top_pages"] == 512 and r["bytes_per_tracked_page"] > 0
    assert r["bytes_per_lower_gib"] == pytest.approx(r["bytes_per_tracked_page"] * 2**30 / 4096)


def test_tuned_knobs_are_the_sweeps_best(quick: Study) -> None:
    for w, s in quick.sensitivity.items():
        assert s["est_time_ns"] == s["by_top_fraction"]["0.25"]["est_time_ns"]
        for f, grid in s["by_top_fraction"].items():
            times = np.array(grid["est_time_ns"])
            i, j = np.unravel_index(np.argmin(times), times.shape)
            assert grid["tuned"] == {"threshold": s["thresholds"][i], "freq_window_ms": s["windows_ms"][j]}
            # the tuned pghot of each run is its sweep's best point: never slower than v2's knobs
            # (threshold 2, window 5000: a point of the sweep)
            pols = quick.workloads[w]["runs"][f]["policies"]
            assert pols["pghot"]["est_time_ns"] == times[i, j]
            assert pols["pghot"]["est_time_ns"] <= pols["v2"]["est_time_ns"]
            assert pols["pghot"]["description"] == "pghot, tuned knobs: " + grid["tuned_description"]
    sw = quick.sensitivity_workload()
    spread = {
        w: max(map(max, s["est_time_ns"])) / min(map(min, s["est_time_ns"]))
        for w, s in quick.sensitivity.items()
    }
    assert sw == max(spread, key=lambda k: spread[k])


def test_summary_is_generated_from_the_numbers(quick: Study) -> None:
    lines = quick.summary_lines()
    r, n = quick.row("gups-hot", 0.25, "pghot"), quick.row("gups-hot", 0.25, "numab2")
    assert r["est_time_ns"] < n["est_time_ns"]
    by = 1 - r["est_time_ns"] / n["est_time_ns"]
    assert any(
        line.startswith(f"On gups-hot (top tier 25%), pghot beats numab2 by {by:.1%}") for line in lines
    )
    hurts = [line for line in lines if line.startswith("On gups-hot (top tier 25%), promotion hurts")]
    assert hurts and f"numab2 ({n['time_vs_none']:.3f}x none)" in hurts[0]


def test_to_frame(quick: Study) -> None:
    pd = pytest.importorskip("pandas")
    df = quick.to_frame()
    assert isinstance(df, pd.DataFrame) and len(df) == len(quick.rows())
    assert {"workload", "top_fraction", "policy", "hit_ratio", "time_vs_oracle"} <= set(df.columns)
    oracle = df[df.policy == "oracle"]
    assert (oracle.time_vs_oracle == 1.0).all()


def test_to_frame_without_pandas(quick: Study, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pghot\[frame\]"):
        quick.to_frame()
    r = sim.replay([sim.demo_trace(2000, 100)], sim.SimConfig(top_pages=25), progress=False)
    with pytest.raises(ImportError, match=r"pghot\[frame\]"):
        r.to_frame()


def test_result_frame_and_html() -> None:
    pytest.importorskip("pandas")
    r = sim.replay([sim.demo_trace(5000, 200, seed=1)], sim.SimConfig(top_pages=50), progress=False)
    df = r.to_frame()
    assert list(df.index) == list(r.policies)
    assert df.loc["pghot", "promotions"] == r["pghot"].promotions
    assert df.loc["pghot", "hit_ratio"] == r["pghot"].hit_ratio
    page = r._repr_html_()
    assert page.count("<tr>") == 1 + len(r.policies) and "5,000 accesses" in page


def test_study_html_repr(quick: Study) -> None:
    page = quick._repr_html_()
    assert page.count("<tr>") == 1 + len(quick.rows()) and "6 workloads" in page


# -- the published results, checked -----------------------------------------------------

_MEASURED = {
    "gups-hot-promotion-helps": "numab2 is 1.32x (top 25 %) and 1.38x (50 %) none's run time, tpp "
    "1.006x and second-access 1.009x at 50 %: a hot page gets about 1,800 accesses in the quick "
    "run's 10 s, and numab2 promotes twice the pages v2 does (13,906 vs 6,821 at 25 %) in the fault "
    "path at the single-page cost (84.6 of its 144.5 ms), more than the lower-tier accesses it saves; "
    "the same at scale 1 (numab2 1.36x and 1.48x)",
    "moving-aging-helps": "v2 and pghot-aging have the same recall after the move (0.417 at top 25 %, "
    "0.645 at 50 %): the old hot pages were promoted (their records deleted at extraction) before the "
    "move and are not reported after it, so neither evict_stale nor stale_check ever fires",
    "v3-micro-numab2-similar": "pghot (v2) 0.420 vs numab2 0.474 at top 25 % (11.3 % apart), 0.822 vs "
    "0.945 at 50 % (13.0 %): numab2 promotes at the first fast hint fault, pghot waits for the second "
    "within its window, which uniform random accesses over a large region rarely give",
}


#: the checks that hold (``gups-hot-oracle-best`` since the oracle is searched over intervals:
#: on the quick run's 10 s its 1 s intervals' hot sets moved 3,787 pages at top 50 % and memtis
#: ran at 0.981x of it; the whole-trace placement is the best candidate)
_HOLD = ("gups-hot-oracle-best",)


@pytest.mark.parametrize(
    "check",
    [
        *(pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=v)) for k, v in _MEASURED.items()),
        *_HOLD,
    ],
)
def test_published_result_holds(quick: Study, check: str) -> None:
    (c,) = [c for c in quick.checks() if c["id"] == check]
    assert c["holds"], c["detail"]


def test_checks_state_their_numbers(quick: Study) -> None:
    checks = {c["id"]: c for c in quick.checks()}
    assert set(checks) == {*_MEASURED, *_HOLD}
    n = quick.row("gups-hot", 0.25, "numab2")["time_vs_none"]
    assert f"numab2 {n:.3f} (top 25%)" in checks["gups-hot-promotion-helps"]["detail"]
    v2, nb = quick.row("v3-micro", 0.5, "v2")["hit_ratio"], quick.row("v3-micro", 0.5, "numab2")["hit_ratio"]
    assert f"pghot (v2) {v2:.3f}, numab2 {nb:.3f}" in checks["v3-micro-numab2-similar"]["detail"]


# -- the report ------------------------------------------------------------------------


def test_report_files(quick: Study, tmp_path: Path) -> None:
    out = tmp_path / "study"
    assert quick.write_report(out) == str(out)
    names = sorted(os.listdir(out))
    assert {"index.md", "index.html", "results.json", "time-vs-oracle.png", "sensitivity.png"} <= set(names)
    assert {f"hit-{w}.png" for w in wl.WORKLOADS} <= set(names)
    md = (out / "index.md").read_text()
    for line in md.splitlines():
        if line.startswith("!["):
            assert (out / line.split("](")[1].rstrip(")")).is_file()
    assert "## Sensitivity" in md and "## Sanity checks" in md and "## Workload gups-hot" in md
    assert quick.summary_lines()[0] in md
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") == md.count("![") and ".png'" not in page
    data = json.loads((out / "results.json").read_text())
    assert data["rows"] == json.loads(json.dumps(quick.rows()))
    assert [c["id"] for c in data["checks"]] == [c["id"] for c in quick.checks()]
    assert {c["id"] for c in data["checks"]} == {*_MEASURED, *_HOLD}
    assert oct(out.stat().st_mode & 0o777) != "0o700"
    # writing again replaces the folder whole, leaving nothing beside it
    (out / "stale.txt").write_text("x")
    quick.write_report(out)
    assert not (out / "stale.txt").exists() and sorted(os.listdir(tmp_path)) == ["study"]


def test_failed_report_leaves_nothing(quick: Study, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "study"
    out.mkdir()
    (out / "old.txt").write_text("kept")

    def boom(*a: Any, **k: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report_mod, "render_html", boom)
    with pytest.raises(OSError):
        quick.write_report(out)
    assert sorted(os.listdir(tmp_path)) == ["study"] and os.listdir(out) == ["old.txt"]


# -- the command -----------------------------------------------------------------------


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    try:
        status = main(argv)
    except SystemExit as e:
        status = int(e.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_study(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["study", "--quick", "--workloads", "gups-hot,v3-micro", "--policies", "v2,numab2", "-j", "1"]
    argv += ["--out", str(tmp_path / "r"), "--cache", str(tmp_path / "c"), "--no-progress"]
    status, out, err = _run(capsys, argv)
    assert status == 0 and err == ""
    assert out.startswith(f"study of 2 workloads x 4 policies: report in {tmp_path / 'r' / 'index.md'}")
    assert "sanity checks (published results):" in out and "DOES NOT HOLD: numab2 and pghot" in out
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    assert data["settings"]["policies"] == ["v2", "numab2", "none", "oracle"]
    assert data["settings"]["scale"] == QUICK_SCALE


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--workloads", "gups"], "workloads: unknown workload 'gups'"),
        (["--policies", "numab3"], "policies: unknown policy 'numab3'"),
        (["--policies", "v2,,tpp"], "--policies: expected NAME,NAME,..."),
        (["--scale", "1000"], "scale 1000: the study would need about"),
        (["--scale", "x"], "--scale"),
        (["-"], "a trace cannot be '-'"),
        (["nope.npy"], "nope.npy: no such trace file"),
    ],
)
def test_cli_bad_input_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], expected: str
) -> None:
    argv = ["study", *args, "--out", str(tmp_path / "r"), "--cache", str(tmp_path / "c"), "--no-progress"]
    status, out, err = _run(capsys, argv)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("pghot: error: ") and expected in err
    assert sorted(os.listdir(tmp_path)) == []  # nothing written, not even the cache


def test_cli_unwritable_out(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for out, expected in [
        (tmp_path / "missing" / "r", "does not exist"),
        (tmp_path / "file" / "r", "does not exist"),
        (tmp_path / "file", "exists and is not a folder"),
    ]:
        status, _, err = _run(capsys, ["study", "--quick", "--out", str(out), "--no-cache", "--no-progress"])
        assert status == 2 and err.startswith("pghot: error: --out: ") and expected in err, err
    assert sorted(os.listdir(tmp_path)) == ["file"]


def test_readme_shows_the_study_after_the_two_commands() -> None:
    root = Path(__file__).resolve().parent.parent
    text = (root / "README.md").read_text()
    two, study = text.index("<!-- test-command -->"), text.index("<!-- study-command -->")
    assert two < study and "pghot study --quick" in text[study : study + 80]
    between = text[two:study]
    assert "```python" not in between and "![" not in between  # the first example after the two
    image = text[study:].split("](", 1)[1].split(")", 1)[0]
    assert image.startswith("docs/study-") and (root / image).is_file()


def test_study_on_a_dask_cluster_matches_local(tmp_path: Path) -> None:
    from dask.distributed import LocalCluster

    kw: dict[str, Any] = {"workloads": ["v3-micro"], "scale": 0.01, "policies": ["v2"], "progress": False}
    local = run_study(**kw)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        remote = run_study(dask_address=cluster.scheduler_address, cache_dir=tmp_path, **kw)
    assert remote.rows() == local.rows() and remote.sensitivity == local.sensitivity
    assert len(list(tmp_path.glob("*.json"))) == 12 * 2 + 2 * 3  # the sweeps' points, the policies


def test_summary_table(quick: Study) -> None:
    header, rows = quick.summary_table()
    assert header[:5] == ["workload", "top tier", "policy", "time vs oracle", "vs numab2"]
    assert len(rows) == len(wl.WORKLOADS) * 2 * 3  # pghot, v2 and pghot-v8
    row = next(r for r in rows if r[:3] == ["scan-hot", "50%", "v2"])
    v2, tpp = quick.row("scan-hot", 0.5, "v2"), quick.row("scan-hot", 0.5, "tpp")
    assert row[header.index("vs tpp")] == f"{v2['est_time_ns'] / tpp['est_time_ns'] - 1:+.1%}"
