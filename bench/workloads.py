"""The benchmarks' workloads: :mod:`pghot.workloads` (kept importable as ``bench.workloads``).

>>> from bench import workloads
>>> len(workloads.uniform(10, 100))
100
"""

from pghot.workloads import *  # noqa: F401,F403
from pghot.workloads import __all__  # noqa: F401
