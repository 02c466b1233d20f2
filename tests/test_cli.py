"""The ``pghot`` command: demo end to end."""

import json

import numpy as np
import pytest

from pghot.cli import main, run_demo


def test_demo_small_promotes_hot_pages():
    r = run_demo(top_pages=1024, lower_pages=8192, working_set_pages=4096, accesses=50_000, seed=2)
    s = r["stats"]
    assert s["pghot_recorded_accesses"] == sum(r["outcomes"].values())
    assert s["pghot_recorded_accesses"] + r["top_tier_hits"] == 50_000
    assert s["pghot_recorded_hintfaults"] == s["pghot_recorded_accesses"]
    p = r["promoted"]
    assert 0 < len(p) <= 1024
    assert len(np.unique(p)) == len(p)          # a promoted page is never promoted again
    assert ((p >= 1024) & (p < 1024 + 8192)).all()
    # a Zipf workload: promoted pages are mostly the truly hot ones
    assert r["promoted_in_hottest_share"] > 0.5
    assert 0 < r["top_tier_hit_ratio"] < 1


def test_demo_cli_text_and_json(capsys):
    assert main(["demo", "--accesses", "20000", "--working-set-pages", "2000",
                 "--lower-pages", "8192", "--top-pages", "1024", "--show", "5"]) == 0
    out = capsys.readouterr().out
    assert "pghot_recorded_accesses" in out and "promoted" in out
    assert main(["demo", "--accesses", "20000", "--working-set-pages", "2000",
                 "--lower-pages", "8192", "--top-pages", "1024", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stats"]["pghot_recorded_accesses"] + data["top_tier_hits"] == 20000
    assert all(isinstance(x, int) for x in data["promoted"])


def test_demo_cli_bad_argument(capsys):
    with pytest.raises(SystemExit) as e:
        main(["demo", "--threshold", "9"])
    assert e.value.code == 2
    assert "threshold" in capsys.readouterr().err
