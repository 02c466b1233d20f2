"""What the kernel around pghot does, simulated.

``memory.TieredMemory``: the tiers, page placement, CLOCK demotion and
migration; ``promoter.Promoter``: kpromoted, one per top-tier node;
``sources``: the temperature sources (hardware samples, page-table scans,
NUMA-balancing hint faults) that turn accesses into reports.
"""
