"""``pghot study``: every policy on the workloads the literature evaluates on, as a report.

See :mod:`pghot.study.study` for what runs, :mod:`pghot.study.workloads`
for the workloads and :mod:`pghot.study.report` for the report.
"""

from pghot.study.report import write_report
from pghot.study.run import Job, cache_key, run_jobs
from pghot.study.study import (
    DEFAULT_TOP_FRACTIONS,
    QUICK_SCALE,
    Study,
    run_study,
    study_policies,
)
from pghot.study.workloads import WORKLOADS, Workload, estimate_bytes, make

__all__ = [
    "DEFAULT_TOP_FRACTIONS",
    "QUICK_SCALE",
    "WORKLOADS",
    "Job",
    "Study",
    "Workload",
    "cache_key",
    "estimate_bytes",
    "make",
    "run_jobs",
    "run_study",
    "study_policies",
    "write_report",
]
