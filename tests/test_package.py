"""The package layout: ``import pghot`` loads names only, subpackages on use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pghot

#: what a bare ``import pghot`` may load: the tracker (its base and the hash store),
#: its topology, its types and argument checks, and the snapshot module that gives it
#: save and load
EAGER = {
    "pghot",
    "pghot._base",
    "pghot._core",
    "pghot._types",
    "pghot._validate",
    "pghot.snapshot",
    "pghot.topology",
    "pghot.tracker",
}


def _loaded_after(code: str) -> set[str]:
    show = "import sys\nprint(' '.join(m for m in sys.modules if m.startswith('pghot')))"
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\n{show}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(out.split())


def test_import_pghot_loads_only_the_tracker() -> None:
    assert _loaded_after("import pghot") == EAGER


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("TieredMemory", "pghot.machine.memory"),
        ("Promoter", "pghot.machine.promoter"),
        ("sources", "pghot.machine.sources"),
        ("sim", "pghot.sim"),
        ("traces", "pghot.traces"),
        ("queues", "pghot.queues"),
    ],
)
def test_lazy_names_load_their_module(name: str, module: str) -> None:
    loaded = _loaded_after(f"import pghot\npghot.{name}")
    assert module in loaded
    assert "pghot.bench.designs" not in loaded or name == "sim"


def test_every_name_of_all_resolves() -> None:
    for name in pghot.__all__:
        assert getattr(pghot, name) is not None
    assert set(pghot.__all__) <= set(dir(pghot))


def test_unknown_attribute_is_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        pghot.nosuch  # noqa: B018
