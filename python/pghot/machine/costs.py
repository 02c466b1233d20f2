"""What a page migration costs: default per-page costs from published Linux measurements.

They are the replay's default per-page migration costs
(:meth:`pghot.sim.SimConfig.migration_costs_ns`, when ``migration_ns`` is
not set), charged where the kernel pays them: a promotion made in the
fault path (the ``second-access`` baseline, as NUMA balancing's
``migrate_misplaced_folio``, which migrates one folio per call) costs the
*single*-page price and is paid by the faulting thread; a promotion made
by a kernel thread's round (kpromoted, kmigrated: they hand
``migrate_pages`` a list) and every demotion (kswapd's
``demote_folio_list``, a list too) cost the *batched* price and are paid by
that kernel thread.  :func:`page_migration_ns` gives the price for any page
size.

Sources
-------
[1] Batched migration, 4 KiB pages and 2 MiB THPs.  Shivank Garg (AMD),
    "Re: [PATCH 0/7] Accelerate page migration with batch copying and
    hardware offload", linux-kernel mailing list, 8 May 2026,
    https://lkml.iu.edu/hypermail/linux/kernel/2605.1/00684.html (the
    baseline of the series' cover letters since RFC v4, 9 March 2026, which
    gave 3.55 and 10.88 GB/s on v7.0-rc2).  Machine: AMD Zen 3 EPYC, two
    sockets, 32 cores, SMT on, one NUMA node per socket, Linux v7.1-rc1,
    cpufreq governor ``performance``.  Benchmark: the ``move_pages()``
    system call moving 1 GB between the two nodes in folios of one size.
    Baseline (vanilla kernel, single-threaded serial folio copy):
    **4 KiB folios 3.31 ± 0.18 GB/s, 2 MiB folios 11.02 ± 0.17 GB/s**.
    Per page, taking GB as 10**9 bytes: 4096 B / 3.31 GB/s = 1.237 µs and
    2 MiB / 11.02 GB/s = 190.3 µs (7 % less if the author's GB is 2**30).
    This is a cross-socket DRAM-to-DRAM move; a CXL device's lower bandwidth
    makes the copy part slower.

[2] Single-page migration, 4 KiB pages.  Huang Ying (Intel),
    "migrate_pages: batch flushing TLB", mainline commit 7e12beb8ca2a
    (Linux 6.3), https://lkml.kernel.org/r/20230213123444.155149-9-ying.huang@intel.com.
    Machine: a two-socket Intel server; pmbench running while
    ``migratepages`` moves its pages between node 0 and node 1 back and
    forth.  Batching the TLB flush of the folios in one ``migrate_pages``
    call cut the TLB-flush IPIs by 99.1 % and raised the pages migrated per
    second by **291.7 %** (3.917 times); on a 128-core ARM64 server by up to
    78 %.  The same commit batches the flush "only for normal folios, not
    for THP folios", whose flush costs about 1/512 as much per base page.
    So the single-page cost below is [1]'s batched cost times 3.917: a
    derived number (two machines, two benchmarks), and an upper one: the
    3.917 comes from a multi-threaded process whose every TLB shootdown
    reaches many CPUs.  A NUMA hint fault finds its PTE already PROT_NONE
    (not cached in any TLB), so a hint-fault promotion pays less flush than
    this; it still pays the per-call overhead that batching amortises.

THP: since batching was added (Linux 6.3) ``migrate_pages_batch`` takes at
most ``HPAGE_PMD_NR`` base pages per batch (``NR_MAX_BATCHED_MIGRATION``),
so a batch holds a single THP and [1]'s 2 MiB figure is already the cost of
moving one THP alone: single and batched THP costs are the same.

Examples
--------
>>> MIGRATE_4K_BATCHED_NS, MIGRATE_4K_SINGLE_NS, MIGRATE_THP_NS
(1237, 4847, 190304)
>>> migration_cost_ns(512), migration_cost_ns(512, batched=False), migration_cost_ns(1, huge=True)
(633344, 2481664, 190304)
>>> page_migration_ns(4096), page_migration_ns(4096, batched=False), page_migration_ns(2 << 20)
(1237.0, 4847.0, 190304.0)
"""

from __future__ import annotations

import operator

_THP_BYTES = 2 << 20

__all__ = [
    "MIGRATE_4K_BATCHED_NS",
    "MIGRATE_4K_SINGLE_NS",
    "MIGRATE_THP_BATCHED_NS",
    "MIGRATE_THP_NS",
    "MIGRATE_THP_SINGLE_NS",
    "TLB_BATCHING_SPEEDUP",
    "migration_cost_ns",
    "page_migration_ns",
]

#: Nanoseconds to migrate one 4 KiB page inside a batched ``migrate_pages``
#: call: 4096 B at 3.31 GB/s, ``move_pages()`` of 1 GB, Zen 3 EPYC, v7.1-rc1 [1].
MIGRATE_4K_BATCHED_NS = round(4096 / 3.31)

#: Speed-up of migrating 4 KiB pages with batched TLB flushes over one flush
#: per page: +291.7 % pages/s, two-socket Intel server, pmbench + migratepages [2].
TLB_BATCHING_SPEEDUP = 3.917

#: Nanoseconds to migrate one 4 KiB page alone (its own unmap, TLB flush
#: and remap): the batched cost times :data:`TLB_BATCHING_SPEEDUP` ([1] and [2]).
MIGRATE_4K_SINGLE_NS = round(4096 / 3.31 * TLB_BATCHING_SPEEDUP)

#: Nanoseconds to migrate one 2 MiB THP: 2 MiB at 11.02 GB/s, ``move_pages()``
#: of 1 GB in 2 MiB folios, Zen 3 EPYC, v7.1-rc1 [1]; 372 ns per base page.
MIGRATE_THP_NS = round(2 * 1024 * 1024 / 11.02)
#: A batch holds one THP (``NR_MAX_BATCHED_MIGRATION`` = ``HPAGE_PMD_NR``):
#: the batched and the single THP cost are the same measurement.
MIGRATE_THP_BATCHED_NS = MIGRATE_THP_NS
#: See :data:`MIGRATE_THP_BATCHED_NS`.
MIGRATE_THP_SINGLE_NS = MIGRATE_THP_NS


def migration_cost_ns(pages: int, *, huge: bool = False, batched: bool = True) -> int:
    """Nanoseconds to migrate ``pages`` pages (THPs when ``huge``) at the default costs.

    Parameters
    ----------
    pages : int
        Pages (4 KiB, or 2 MiB THPs when ``huge``) migrated, ``>= 0``.
    huge : bool, optional
        The pages are 2 MiB THPs (default False: 4 KiB pages).
    batched : bool, optional
        Migrated in batched ``migrate_pages`` calls (kpromoted, kmigrated,
        ``move_pages``), default True; False: one call per page.

    Raises
    ------
    TypeError
        ``pages`` is not an int, or a flag is not a bool.
    ValueError
        ``pages`` is negative.

    Examples
    --------
    >>> migration_cost_ns(0), migration_cost_ns(2), migration_cost_ns(2, batched=False)
    (0, 2474, 9694)
    >>> migration_cost_ns(-1)
    Traceback (most recent call last):
        ...
    ValueError: pages must be >= 0, got -1
    """
    if isinstance(pages, bool):
        raise TypeError("pages must be an int, not bool")
    try:
        n = operator.index(pages)
    except TypeError:
        raise TypeError(f"pages must be an int, not {type(pages).__name__}") from None
    for name, flag in (("huge", huge), ("batched", batched)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, not {type(flag).__name__}")
    if n < 0:
        raise ValueError(f"pages must be >= 0, got {n}")
    if huge:
        return n * MIGRATE_THP_NS
    return n * (MIGRATE_4K_BATCHED_NS if batched else MIGRATE_4K_SINGLE_NS)


def page_migration_ns(page_size: int, *, batched: bool = True) -> float:
    """Nanoseconds to migrate one page of ``page_size`` bytes at the default costs.

    The measured sizes give their measured cost: 4 KiB pages
    :data:`MIGRATE_4K_BATCHED_NS` (batched) or :data:`MIGRATE_4K_SINGLE_NS`
    (alone), 2 MiB pages :data:`MIGRATE_THP_NS` (either way).  Other sizes
    scale with the bytes copied from the nearest measured size below them
    (the 4 KiB cost below 2 MiB, which overstates a 64 KiB folio's copy a
    little; the 2 MiB cost from 2 MiB up); below 4 KiB, from the 4 KiB cost.

    Parameters
    ----------
    page_size : int
        Bytes per page, a power of two (``SimConfig.page_size``).
    batched : bool, optional
        Migrated in a batched ``migrate_pages`` call by a kernel thread
        (kpromoted, kmigrated, kswapd), default True; False: alone, in the
        fault path (``migrate_misplaced_folio``).

    Raises
    ------
    TypeError
        ``page_size`` is not an int, or ``batched`` not a bool.
    ValueError
        ``page_size`` is not a positive power of two.

    Examples
    --------
    >>> page_migration_ns(8192), page_migration_ns(8192, batched=False), page_migration_ns(4 << 20)
    (2474.0, 9694.0, 380608.0)
    >>> page_migration_ns(3000)
    Traceback (most recent call last):
        ...
    ValueError: page_size must be a positive power of two, got 3000
    """
    if isinstance(page_size, bool):
        raise TypeError("page_size must be an int, not bool")
    try:
        size = operator.index(page_size)
    except TypeError:
        raise TypeError(f"page_size must be an int, not {type(page_size).__name__}") from None
    if not isinstance(batched, bool):
        raise TypeError(f"batched must be a bool, not {type(batched).__name__}")
    if size <= 0 or size & (size - 1):
        raise ValueError(f"page_size must be a positive power of two, got {size}")
    if size >= _THP_BYTES:
        return MIGRATE_THP_NS * (size / _THP_BYTES)
    return (MIGRATE_4K_BATCHED_NS if batched else MIGRATE_4K_SINGLE_NS) * (size / 4096)
