"""The type stubs stay true: mypy checks the tests against the installed package."""

import os
import pathlib
import sys

from mypy import api as mypy_api


def test_mypy_on_tests(tmp_path: pathlib.Path) -> None:
    tests = os.path.dirname(os.path.abspath(__file__))
    out, err, status = mypy_api.run(
        [
            tests,
            "--cache-dir",
            str(tmp_path / "cache"),
            "--python-version",
            f"{sys.version_info.major}.{sys.version_info.minor}",
            "--ignore-missing-imports",
            "--no-error-summary",
            # every test annotated, so that mypy checks its body against the stubs
            "--disallow-untyped-defs",
            "--disallow-incomplete-defs",
        ]
    )
    assert status == 0, out + err


def test_store_classes_type_per_store(tmp_path: pathlib.Path) -> None:
    # Tracker(topo, store=...) types as that store's class: the pfn-array
    # store has no save(), the default (hash) store has.
    src = tmp_path / "stores.py"
    src.write_text(
        "import pghot\n"
        "topo = pghot.Topology.two_tier(64, 256)\n"
        "pghot.Tracker(topo).save('t.npz')\n"
        "pghot.Tracker(topo, store='hash').save('t.npz')\n"
        "pghot.Tracker(topo, store='pfn-array').save('t.npz')\n"
        "reveal_type(pghot.Tracker(topo, store='kernel-v2'))\n"
        "reveal_type(pghot.Tracker(topo, store='pfn-array'))\n"
        "pghot.Tracker.load('t.npz').save('u.npz')\n"
    )
    out, err, status = mypy_api.run(
        [
            str(src),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--python-version",
            f"{sys.version_info.major}.{sys.version_info.minor}",
            "--ignore-missing-imports",
            "--no-error-summary",
        ]
    )
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1, out + err
    assert len(errors) == 1, out
    assert "stores.py:5:" in errors[0] and '"PfnArrayTracker" has no attribute "save"' in errors[0]
    assert 'stores.py:6: note: Revealed type is "pghot._v2store.KernelV2Tracker"' in out, out
    assert 'stores.py:7: note: Revealed type is "pghot._pfnarray.PfnArrayTracker"' in out, out
