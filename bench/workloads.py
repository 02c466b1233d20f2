"""The benchmarks' workloads: :mod:`pghot.bench.workloads` (kept importable as ``bench.workloads``).

>>> from bench import workloads
>>> len(workloads.uniform(10, 100))
100
"""

from pghot.bench.workloads import *  # noqa: F401,F403
from pghot.bench.workloads import __all__  # noqa: F401
