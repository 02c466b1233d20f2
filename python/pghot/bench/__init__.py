"""The design comparison behind ``pghot bench``.

``designs``: every store and queue design run on the same workloads (time per
access and per extracted record, bytes per PFN, top-k accuracy);
``workloads``: the deterministic, seeded access streams they run on.  The
pytest-benchmark suite of the repository's ``bench/`` folder uses both.
"""
