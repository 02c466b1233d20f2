"""NUMA topology: which PFNs live on which node, and where pages get promoted.

A :class:`Topology` is a set of :class:`Node` objects, each owning one
contiguous PFN range ``[start_pfn, start_pfn + nr_pages)`` and belonging either
to the top tier (fast memory, promotion targets) or to a lower tier (slow
memory whose hot pages are tracked). It answers the three questions the
tracker asks on every access:

- ``node_of(pfn)``: the node holding a PFN (-1 when the PFN is in no node,
  i.e. offline);
- ``is_toptier(nid)``: whether a node is a top-tier node;
- ``promotion_target(nid)``: the top-tier node whose queue receives pages
  accessed from ``nid``. A top-tier node is its own target; a lower-tier node
  and ``NUMA_NO_NODE`` (-1) map to ``default_node``. The kernel v2 used the
  accessing node directly as a heap index, so an access from a CPU on a
  lower-tier node selected a heap that did not exist (defect F7 in
  ``SEMANTICS.md``); here a lower-tier nid is never a queue index.

:meth:`Topology.arrays` gives the same information as flat numpy arrays for
the compiled core.
"""

from __future__ import annotations

import bisect
import dataclasses
import fractions
import operator
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, SupportsIndex

import numpy as np

from pghot._types import NUMA_NO_NODE

__all__ = ["Node", "Topology"]

#: Largest PFN bound accepted (PFNs are stored in signed 64-bit arithmetic).
_PFN_LIMIT = 2**63
#: Node ids must fit an ``int32``.
_NID_LIMIT = 2**31 - 1
#: CPU ids are below this (Linux's NR_CPUS is at most 8192 today).
_CPU_LIMIT = 2**20
#: Largest topology TOML file read.
_TOML_MAX_BYTES = 1 << 20
#: The keys of a topology table and of each of its node tables.
_TABLE_KEYS = ("nodes", "page_size", "default_node")
_NODE_KEYS = ("id", "pages", "size", "toptier", "cpus", "promotion_target", "start_pfn")
#: Binary unit multipliers of a ``size`` string (the kernel's memparse letters too).
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1 << 10,
    "kib": 1 << 10,
    "m": 1 << 20,
    "mib": 1 << 20,
    "g": 1 << 30,
    "gib": 1 << 30,
    "t": 1 << 40,
    "tib": 1 << 40,
    "p": 1 << 50,
    "pib": 1 << 50,
}


def _as_int(value: Any, name: str) -> int:
    """Return ``value`` as a Python int; TypeError for non-integers and bools."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, not bool")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, not {type(value).__name__}") from None


def _as_bool(value: Any, name: str) -> bool:
    """Return ``value`` as a bool; TypeError unless it is a (numpy) bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
    return bool(value)


def _as_cpus(value: Any, name: str) -> tuple[int, ...]:
    """A node's CPU ids (ints, or a kernel list string) as a sorted tuple; errors name ``name``."""
    if isinstance(value, str):
        return _table_cpus(value, name)
    if isinstance(value, (bytes, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a sequence of ints, not {type(value).__name__}")
    out: set[int] = set()
    for v in value:
        c = _as_int(v, name)
        if not 0 <= c < _CPU_LIMIT:
            raise ValueError(f"{name}: CPU ids must be in [0, {_CPU_LIMIT}), got {c}")
        if c in out:
            raise ValueError(f"{name}: CPU {c} is listed twice")
        out.add(c)
    return tuple(sorted(out))


def _format_list(ids: Iterable[int]) -> str:
    """Ints as a kernel list string, ``[0, 1, 2, 5]`` -> ``"0-2,5"``."""
    parts: list[str] = []
    run: list[int] = []
    for i in sorted(ids):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [i]
    if run:
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(parts)


# -- topology tables --------------------------------------------------------------


def _check_keys(
    table: Mapping[Any, Any], allowed: tuple[str, ...], prefix: str, required: tuple[str, ...]
) -> None:
    """Unknown or missing keys of a table: ValueError naming the first."""
    for k in table:
        if not isinstance(k, str):
            raise TypeError(f"{prefix}{k!r}: keys must be strings")
        if k not in allowed:
            raise ValueError(f"{prefix}{k}: unknown key (expected one of {', '.join(allowed)})")
    for k in required:
        if k not in table:
            raise ValueError(f"{prefix}{k}: missing")


def _table_int(value: Any, key: str, lo: int, hi: int | None = None) -> int:
    """An integer value of a table in ``[lo, hi]``; TypeError for bools and floats."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{key} must be an int, not bool")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{key} must be an int, not {type(value).__name__}") from None
    if v < lo:
        raise ValueError(f"{key} must be >= {lo}, got {v}")
    if hi is not None and v > hi:
        raise ValueError(f"{key} must be <= {hi}, got {v}")
    return v


def _size_pages(value: Any, key: str, page: int) -> int:
    """Pages of a ``size``: bytes as an int, or a string ``"<number> <binary unit>"``."""
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", value)
        if m is None:
            raise ValueError(f"{key}: {value!r} is not a size such as '64 GiB' or '512M'")
        unit = m.group(2).lower()
        if unit in ("kb", "mb", "gb", "tb", "pb"):
            raise ValueError(
                f"{key}: {value!r}: write binary units (KiB, MiB, GiB, TiB); '{m.group(2)}' is ambiguous"
            )
        if unit not in _UNITS:
            raise ValueError(f"{key}: {value!r}: unknown unit {m.group(2)!r} (B, KiB, MiB, GiB, TiB, PiB)")
        exact = fractions.Fraction(m.group(1)) * _UNITS[unit]
        if exact.denominator != 1:
            raise ValueError(f"{key}: {value!r} is not a whole number of bytes")
        nbytes = int(exact)
    else:
        nbytes = _table_int(value, key, lo=0)
    if nbytes % page:
        raise ValueError(f"{key}: {nbytes} bytes is not a whole number of {page}-byte pages")
    return nbytes // page


def _table_cpus(value: Any, key: str) -> tuple[int, ...]:
    """A ``cpus`` value: ``"0-3,8"``, an int, or a list of ints and such strings."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        items: list[Any] = [value]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise TypeError(
            f"{key} must be a CPU list such as '0-3,8', an int or a list, not {type(value).__name__}"
        )
    out: set[int] = set()
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise TypeError(f"{key}: {item!r} is not a CPU id or a CPU list")
        if isinstance(item, int):
            ranges = [(item, item)]
        else:
            ranges = []
            for part in item.split(","):
                part = part.strip()
                if not part:
                    continue
                m = re.fullmatch(r"([0-9]+)(?:\s*-\s*([0-9]+))?", part)
                if m is None:
                    raise ValueError(f"{key}: {part!r} is not a CPU id or range such as '0-3'")
                lo = int(m.group(1))
                hi = lo if m.group(2) is None else int(m.group(2))
                if hi < lo:
                    raise ValueError(f"{key}: range {part!r} ends before it starts")
                ranges.append((lo, hi))
        for lo, hi in ranges:
            if lo < 0 or hi >= _CPU_LIMIT:
                raise ValueError(f"{key}: CPU ids must be in [0, {_CPU_LIMIT}), got {lo if lo < 0 else hi}")
            for c in range(lo, hi + 1):
                if c in out:
                    raise ValueError(f"{key}: CPU {c} is listed twice")
                out.add(c)
    return tuple(sorted(out))


@dataclasses.dataclass(frozen=True)
class Node:
    """One NUMA node: a contiguous PFN range and its memory tier.

    Parameters
    ----------
    nid : int
        Node id, ``0 <= nid < 2**31 - 1``.
    start_pfn : int
        First PFN of the node, ``>= 0``.
    nr_pages : int
        Number of PFNs in the node, ``>= 0`` (0 for a memoryless node).
    toptier : bool
        True for a top-tier (promotion target) node.
    has_cpu : bool, optional
        Whether the node has CPUs (default True).
    cpus : iterable of int, optional
        The node's CPU ids, or a kernel CPU list string such as ``"0-3,8"``
        (default none listed); a node with ``has_cpu=False`` lists none.
        Stored as a sorted tuple; not compared by ``==``.
    promotion_target : int, optional
        For a lower-tier node: the top-tier node that receives its pages
        (checked by :class:`Topology`); default the topology's
        ``default_node``.  A top-tier node is its own target.

    Raises
    ------
    TypeError
        A field has the wrong type (``bool`` is not accepted as an int).
    ValueError
        A field has a bad value; the message names the field.

    Examples
    --------
    >>> n = Node(1, start_pfn=1024, nr_pages=512, toptier=False, has_cpu=False)
    >>> n.end_pfn
    1536
    >>> Node(-1, 0, 1, True)
    Traceback (most recent call last):
        ...
    ValueError: nid must be >= 0, got -1
    >>> Node(0, 0, 8, True, cpus=[3, 0, 1, 2, 8])
    Node(nid=0, start_pfn=0, nr_pages=8, toptier=True, has_cpu=True, cpus='0-3,8')
    >>> Node(0, 0, 8, True, cpus="0-3,8").cpus
    (0, 1, 2, 3, 8)
    """

    nid: int
    start_pfn: int
    nr_pages: int
    toptier: bool
    has_cpu: bool = True
    #: The node's CPU ids, ascending (empty: none, or not known).  Not part of
    #: equality: the tracker's behaviour does not depend on them.
    cpus: tuple[int, ...] = dataclasses.field(default=(), compare=False)
    #: For a lower-tier node, the top-tier node its pages are promoted to
    #: (None: the topology's ``default_node``).
    promotion_target: int | None = None

    def __post_init__(self) -> None:
        nid = _as_int(self.nid, "nid")
        start = _as_int(self.start_pfn, "start_pfn")
        nr = _as_int(self.nr_pages, "nr_pages")
        toptier = _as_bool(self.toptier, "toptier")
        has_cpu = _as_bool(self.has_cpu, "has_cpu")
        if nid < 0:
            raise ValueError(f"nid must be >= 0, got {nid}")
        if nid >= _NID_LIMIT:
            raise ValueError(f"nid must be < {_NID_LIMIT}, got {nid}")
        if start < 0:
            raise ValueError(f"start_pfn must be >= 0, got {start}")
        if nr < 0:
            raise ValueError(f"nr_pages must be >= 0, got {nr}")
        if start + nr > _PFN_LIMIT:
            raise ValueError(f"start_pfn + nr_pages must be <= 2**63, got {start} + {nr}")
        cpus = _as_cpus(self.cpus, "cpus")
        if cpus and not has_cpu:
            raise ValueError(f"cpus: node {nid} has has_cpu=False but lists CPUs {_format_list(cpus)}")
        target = None if self.promotion_target is None else _as_int(self.promotion_target, "promotion_target")
        if target is not None and target < 0:
            raise ValueError(f"promotion_target must be >= 0, got {target}")
        if target is not None and toptier and target != nid:
            raise ValueError(
                f"promotion_target: node {nid} is top tier, its own promotion target, not {target}"
            )
        object.__setattr__(self, "cpus", cpus)
        object.__setattr__(self, "promotion_target", target)
        # Normalise numpy scalars to plain Python values.
        object.__setattr__(self, "nid", nid)
        object.__setattr__(self, "start_pfn", start)
        object.__setattr__(self, "nr_pages", nr)
        object.__setattr__(self, "toptier", toptier)
        object.__setattr__(self, "has_cpu", has_cpu)

    @property
    def end_pfn(self) -> int:
        """One past the last PFN of the node.

        >>> Node(0, 10, 5, True).end_pfn
        15
        """
        return self.start_pfn + self.nr_pages

    def __repr__(self) -> str:
        # The CPU list and the promotion target only when set, so that the
        # repr of a node without them is what it always was.
        extra = ""
        if self.cpus:
            extra += f", cpus={_format_list(self.cpus)!r}"
        if self.promotion_target is not None:
            extra += f", promotion_target={self.promotion_target}"
        return (
            f"Node(nid={self.nid}, start_pfn={self.start_pfn}, nr_pages={self.nr_pages}, "
            f"toptier={self.toptier}, has_cpu={self.has_cpu}{extra})"
        )


class Topology:
    """Nodes, their PFN ranges and tiers, and the promotion target of each node.

    Parameters
    ----------
    nodes : iterable of Node
        At least one node; node ids unique; non-empty PFN ranges must not
        overlap; at least one node must be top tier.
    default_node : int, optional
        Top-tier node receiving pages accessed from lower-tier nodes or from
        an unknown node (-1). Default 0 (the kernel's
        ``KPROMOTED_DEFAULT_NODE``).

    Raises
    ------
    TypeError
        ``nodes`` is not an iterable of :class:`Node`, or ``default_node`` is
        not an int.
    ValueError
        Duplicate node ids, overlapping ranges, no top-tier node, or
        ``default_node`` not a top-tier node.

    Examples
    --------
    >>> topo = Topology([Node(0, 0, 100, True), Node(1, 100, 50, False, False)])
    >>> topo.node_of(120), topo.node_of(150)
    (1, -1)
    >>> topo.promotion_target(1), topo.promotion_target(-1)
    (0, 0)
    >>> topo.lower_pages()
    50
    """

    __slots__ = ("_nodes", "_default_node", "_by_nid", "_starts", "_ranges", "_cpu_node")

    def __init__(self, nodes: Iterable[Node], default_node: SupportsIndex = 0) -> None:
        if isinstance(nodes, (str, bytes, Node)) or not isinstance(nodes, Iterable):
            raise TypeError(f"nodes must be a sequence of Node, not {type(nodes).__name__}")
        node_list = list(nodes)
        for node in node_list:
            if not isinstance(node, Node):
                raise TypeError(f"nodes must contain only Node objects, got {type(node).__name__}")
        if not node_list:
            raise ValueError("nodes must not be empty")
        default = _as_int(default_node, "default_node")

        by_nid: dict[int, Node] = {}
        for node in node_list:
            if node.nid in by_nid:
                raise ValueError(f"nodes: duplicate node id {node.nid}")
            by_nid[node.nid] = node

        # Non-empty ranges sorted by start; memoryless nodes own no PFN.
        ranges = sorted((n.start_pfn, n.end_pfn, n.nid) for n in node_list if n.nr_pages > 0)
        for (s0, e0, n0), (s1, _e1, n1) in zip(ranges, ranges[1:]):
            if s1 < e0:
                raise ValueError(
                    f"nodes: PFN ranges of node {n0} [{s0}, {e0}) and node {n1} starting at {s1} overlap"
                )
        if not any(n.toptier for n in node_list):
            raise ValueError("nodes: at least one node must be top tier")
        if default not in by_nid:
            raise ValueError(f"default_node: {default} is not a node of the topology")
        if not by_nid[default].toptier:
            raise ValueError(f"default_node: node {default} is not a top-tier node")
        for node in node_list:
            t = node.promotion_target
            if t is not None and not node.toptier:
                if t not in by_nid:
                    raise ValueError(f"nodes: promotion_target {t} of node {node.nid} is not a node")
                if not by_nid[t].toptier:
                    raise ValueError(f"nodes: promotion_target {t} of node {node.nid} is not a top-tier node")
        cpu_node: dict[int, int] = {}
        for node in sorted(node_list, key=lambda n: n.nid):
            for cpu in node.cpus:
                if cpu in cpu_node:
                    raise ValueError(f"nodes: CPU {cpu} is in node {cpu_node[cpu]} and in node {node.nid}")
                cpu_node[cpu] = node.nid

        self._nodes: tuple[Node, ...] = tuple(sorted(node_list, key=lambda n: n.nid))
        self._default_node: int = default
        self._by_nid: dict[int, Node] = by_nid
        self._starts: list[int] = [r[0] for r in ranges]
        self._ranges: list[tuple[int, int, int]] = ranges
        self._cpu_node: dict[int, int] = cpu_node

    # -- construction helpers -------------------------------------------------

    @classmethod
    def two_tier(cls, top_pages: SupportsIndex, lower_pages: SupportsIndex) -> Topology:
        """A two-node machine: node 0 top tier, node 1 a CPU-less lower tier.

        Node 0 holds PFNs ``[0, top_pages)``, node 1 holds
        ``[top_pages, top_pages + lower_pages)``; the default node is 0.

        Parameters
        ----------
        top_pages : int
            Pages of the top-tier node, ``>= 0``.
        lower_pages : int
            Pages of the lower-tier node, ``>= 0``.

        Returns
        -------
        Topology

        Examples
        --------
        >>> t = Topology.two_tier(1000, 3000)
        >>> t.node(1)
        Node(nid=1, start_pfn=1000, nr_pages=3000, toptier=False, has_cpu=False)
        >>> t.toptier_nids(), t.lower_nids()
        ((0,), (1,))
        """
        top = _as_int(top_pages, "top_pages")
        lower = _as_int(lower_pages, "lower_pages")
        if top < 0:
            raise ValueError(f"top_pages must be >= 0, got {top}")
        if lower < 0:
            raise ValueError(f"lower_pages must be >= 0, got {lower}")
        return cls(
            [
                Node(0, 0, top, toptier=True, has_cpu=True),
                Node(1, top, lower, toptier=False, has_cpu=False),
            ],
            default_node=0,
        )

    @classmethod
    def from_sysfs(
        cls,
        root: str | os.PathLike[str] = "/sys/devices/system/node",
        *,
        memory_root: str | os.PathLike[str] | None = None,
        tiering_root: str | os.PathLike[str] | None = None,
        page_size: SupportsIndex | None = None,
    ) -> Topology:
        """Read the machine's topology from sysfs.

        - Nodes: the ``nodeN`` directories of ``root``.
        - PFN ranges: the online memory blocks linked as ``nodeN/memoryK``
          (block ``K`` covers ``[K * B, (K + 1) * B)`` bytes with ``B`` read
          (hex) from ``memory_root/block_size_bytes``); a node spans from its
          first to the end of its last online block, holes included (the
          kernel's spanned pages). If no node has memory blocks (or the block
          size is unreadable), the ``MemTotal`` of each ``nodeN/meminfo`` is
          laid out as consecutive ranges from PFN 0 in node-id order.
        - CPUs: those of ``nodeN/cpulist`` (:attr:`Node.cpus`); a node has
          CPUs when it is non-empty.
        - Tiers: from ``tiering_root/memory_tier*/nodelist`` where present,
          the nodes of the lowest tier id are top tier and all others lower
          tier; without tiers, nodes with CPUs are top tier and CPU-less nodes
          lower tier.
        - Default node: the lowest top-tier node with CPUs, else the lowest
          top-tier node.

        Parameters
        ----------
        root : path, optional
            The node directory, default ``/sys/devices/system/node``.
        memory_root : path, optional
            The memory block directory; default ``memory`` beside ``root``.
        tiering_root : path, optional
            The memory tiering directory; default ``memory_tiering`` beside
            ``root``.
        page_size : int, optional
            Bytes per page; default the running system's page size.

        Returns
        -------
        Topology

        Raises
        ------
        FileNotFoundError
            ``root`` does not exist.
        ValueError
            ``root`` holds no ``nodeN`` directory, a ``cpulist`` is not a CPU
            list, or the tree describes no top-tier node or overlapping nodes.

        Examples
        --------
        A fake tree with one DRAM node and one CPU-less node:

        >>> import pathlib, tempfile
        >>> sysfs = pathlib.Path(tempfile.mkdtemp())
        >>> for nid, cpus, kb in [(0, "0-3", 4096), (1, "", 8192)]:
        ...     d = sysfs / "node" / f"node{nid}"
        ...     d.mkdir(parents=True)
        ...     _ = (d / "cpulist").write_text(cpus + "\\n")
        ...     _ = (d / "meminfo").write_text(f"Node {nid} MemTotal: {kb} kB\\n")
        >>> topo = Topology.from_sysfs(sysfs / "node", page_size=4096)
        >>> [(n.nid, n.start_pfn, n.nr_pages, n.toptier) for n in topo.nodes]
        [(0, 0, 1024, True), (1, 1024, 2048, False)]
        """
        root_s = os.fspath(root)
        parent = os.path.dirname(os.path.normpath(root_s))
        mem_root = os.path.join(parent, "memory") if memory_root is None else os.fspath(memory_root)
        tier_root = (
            os.path.join(parent, "memory_tiering") if tiering_root is None else os.fspath(tiering_root)
        )
        if page_size is None:
            page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        else:
            page = _as_int(page_size, "page_size")
            if page <= 0:
                raise ValueError(f"page_size must be > 0, got {page}")

        node_dirs: dict[int, str] = {}
        for entry in os.listdir(root_s):
            m = re.fullmatch(r"node(\d+)", entry)
            path = os.path.join(root_s, entry)
            if m and os.path.isdir(path):
                node_dirs[int(m.group(1))] = path
        if not node_dirs:
            raise ValueError(f"root: no nodeN directory in {root_s!r}")
        nids = sorted(node_dirs)

        cpus: dict[int, tuple[int, ...]] = {}
        for nid in nids:
            path = os.path.join(node_dirs[nid], "cpulist")
            try:
                cpus[nid] = _table_cpus(_read(path), path)
            except ValueError as e:
                raise ValueError(f"root: {e}") from None
        has_cpu = {nid: bool(cpus[nid]) for nid in nids}
        ranges = _ranges_from_blocks(node_dirs, mem_root, page)
        if ranges is None:
            ranges = _ranges_from_meminfo(node_dirs, page)

        tiers = _read_tiers(tier_root)
        tiered = {nid for nodes in tiers.values() for nid in nodes}
        top_tier: set[int] = set()
        if tiered & set(nids):
            for tier_id in sorted(tiers):
                if tiers[tier_id] & set(nids):
                    top_tier = tiers[tier_id] & set(nids)
                    break
        else:
            top_tier = {nid for nid in nids if has_cpu[nid]}

        nodes = [
            Node(nid, ranges[nid][0], ranges[nid][1], nid in top_tier, has_cpu[nid], cpus=cpus[nid])
            for nid in nids
        ]
        if not top_tier:
            raise ValueError(f"root: the sysfs tree at {root_s!r} has no top-tier node")
        with_cpu = sorted(nid for nid in top_tier if has_cpu[nid])
        default = with_cpu[0] if with_cpu else min(top_tier)
        return cls(nodes, default_node=default)

    @classmethod
    def from_table(
        cls, table: Mapping[str, Any], *, source: str | os.PathLike[str] | None = None
    ) -> Topology:
        """A topology from a table (the parsed form of a TOML file, see :meth:`from_toml`).

        Keys of ``table``:

        - ``nodes`` (required): a list of node tables, each with
          ``id`` (int, required), exactly one of ``pages`` (int) and
          ``size`` (bytes: an int, or a string with a binary unit, ``"64 GiB"``,
          ``"512M"``; a whole number of pages), ``toptier`` (bool, required),
          ``cpus`` (a kernel CPU list ``"0-3,8"``, a list of ints and such
          strings, or an int; default none: a CPU-less node),
          ``promotion_target`` (a lower-tier node only: the top-tier node its
          pages are promoted to; default ``default_node``) and ``start_pfn``
          (int; give it for every node or for none: without it the nodes are
          laid out one after the other from PFN 0, in id order).
        - ``page_size`` (bytes per page, default 4096) and ``default_node``
          (default: the lowest top-tier node with CPUs, else the lowest
          top-tier node, as :meth:`from_sysfs` chooses).

        Unknown keys are errors (a misspelt key would otherwise be a default).

        Parameters
        ----------
        table : mapping
        source : path, optional
            Where the table came from, named in error messages.

        Raises
        ------
        TypeError, ValueError
            One error naming the key (``nodes[2].size``) and ``source``; no
            topology is built.

        Examples
        --------
        >>> topo = Topology.from_table({"nodes": [
        ...     {"id": 0, "size": "1 MiB", "toptier": True, "cpus": "0-1"},
        ...     {"id": 1, "pages": 512, "toptier": False},
        ... ]})
        >>> [(n.nid, n.start_pfn, n.nr_pages, n.toptier, n.cpus) for n in topo.nodes]
        [(0, 0, 256, True, (0, 1)), (1, 256, 512, False, ())]
        >>> topo.node_of_cpu(1), topo.promotion_target(1)
        (0, 0)
        >>> Topology.from_table({"nodes": [{"id": 0, "pages": -1, "toptier": True}]}, source="t.toml")
        Traceback (most recent call last):
            ...
        ValueError: t.toml: nodes[0].pages must be >= 0, got -1
        """
        where = "" if source is None else f"{os.fspath(source)}: "
        try:
            return cls._from_table(table)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{where}{e}") from None

    @classmethod
    def _from_table(cls, table: Mapping[str, Any]) -> Topology:
        if not isinstance(table, Mapping):
            raise TypeError(f"the topology table must be a mapping, not {type(table).__name__}")
        _check_keys(table, _TABLE_KEYS, "", required=("nodes",))
        page = _table_int(table.get("page_size", 4096), "page_size", lo=1)
        items = table["nodes"]
        if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
            raise TypeError(f"nodes must be a list of node tables, not {type(items).__name__}")
        if not items:
            raise ValueError("nodes must not be empty")
        specs: list[dict[str, Any]] = []
        seen: dict[int, int] = {}
        for i, item in enumerate(items):
            key = f"nodes[{i}]"
            if not isinstance(item, Mapping):
                raise TypeError(f"{key} must be a table, not {type(item).__name__}")
            _check_keys(item, _NODE_KEYS, f"{key}.", required=("id", "toptier"))
            nid = _table_int(item["id"], f"{key}.id", lo=0, hi=_NID_LIMIT - 1)
            if nid in seen:
                raise ValueError(f"{key}.id: node {nid} is already nodes[{seen[nid]}]")
            seen[nid] = i
            if ("pages" in item) == ("size" in item):
                raise ValueError(f"{key}: give exactly one of 'pages' and 'size'")
            if "pages" in item:
                pages = _table_int(item["pages"], f"{key}.pages", lo=0)
            else:
                pages = _size_pages(item["size"], f"{key}.size", page)
            toptier = item["toptier"]
            if not isinstance(toptier, bool):
                raise TypeError(f"{key}.toptier must be a bool, not {type(toptier).__name__}")
            cpus = _table_cpus(item.get("cpus", ()), f"{key}.cpus")
            target = item.get("promotion_target")
            if target is not None:
                target = _table_int(target, f"{key}.promotion_target", lo=0, hi=_NID_LIMIT - 1)
                if toptier:
                    raise ValueError(
                        f"{key}.promotion_target: node {nid} is top tier (its own target); "
                        "only a lower-tier node takes one"
                    )
            start = None
            if "start_pfn" in item:
                start = _table_int(item["start_pfn"], f"{key}.start_pfn", lo=0)
            specs.append(
                {
                    "nid": nid,
                    "start": start,
                    "pages": pages,
                    "toptier": toptier,
                    "cpus": cpus,
                    "target": target,
                }
            )
        with_start = [s["start"] is not None for s in specs]
        if any(with_start) and not all(with_start):
            i = with_start.index(False)
            raise ValueError(f"nodes[{i}].start_pfn: give start_pfn for every node or for none")
        if not any(with_start):
            nxt = 0
            for s in sorted(specs, key=lambda s: s["nid"]):
                s["start"] = nxt if s["pages"] else 0
                nxt += s["pages"]
        for i, s in enumerate(specs):
            if s["start"] + s["pages"] > _PFN_LIMIT:
                raise ValueError(f"nodes[{i}]: start_pfn + pages must be <= 2**63")
        # Cross-node checks with the table's names, before Topology's own.
        owner: dict[int, int] = {}
        for i, s in enumerate(specs):
            for cpu in s["cpus"]:
                if cpu in owner:
                    raise ValueError(f"nodes[{i}].cpus: CPU {cpu} is already in nodes[{owner[cpu]}].cpus")
                owner[cpu] = i
        tops = {s["nid"] for s in specs if s["toptier"]}
        for i, s in enumerate(specs):
            if s["target"] is not None and s["target"] not in tops:
                what = "not a top-tier node" if s["target"] in seen else "not a node of the table"
                raise ValueError(f"nodes[{i}].promotion_target: {s['target']} is {what}")
        if not tops:
            raise ValueError("nodes: at least one node must have toptier = true")
        if "default_node" in table:
            default = _table_int(table["default_node"], "default_node", lo=0, hi=_NID_LIMIT - 1)
            if default not in tops:
                what = "not a top-tier node" if default in seen else "not a node of the table"
                raise ValueError(f"default_node: {default} is {what}")
        else:
            with_cpu = sorted(s["nid"] for s in specs if s["toptier"] and s["cpus"])
            default = with_cpu[0] if with_cpu else min(tops)
        nodes = [
            Node(
                s["nid"],
                s["start"],
                s["pages"],
                s["toptier"],
                has_cpu=bool(s["cpus"]),
                cpus=s["cpus"],
                promotion_target=s["target"],
            )
            for s in specs
        ]
        return cls(nodes, default_node=default)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> Topology:
        """A topology from a TOML file: the table of :meth:`from_table`.

        Needs Python 3.11+ (:mod:`tomllib`; on 3.10 read the file with a TOML
        library of your choice and call :meth:`from_table`).  The repository's
        ``examples/topology-2s2cxl.toml`` describes two sockets with CPUs and
        two CPU-less CXL nodes.

        Raises
        ------
        FileNotFoundError
        ValueError, TypeError
            Unparsable file, unknown key, or bad value: one error naming the
            file and the key.

        Examples
        --------
        >>> import pathlib, tempfile
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "topo.toml"
        >>> _ = p.write_text('''
        ... [[nodes]]
        ... id = 0
        ... size = "4 MiB"
        ... toptier = true
        ... cpus = "0-3"
        ... [[nodes]]
        ... id = 1
        ... size = "16 MiB"
        ... toptier = false
        ... ''')
        >>> t = Topology.from_toml(p)
        >>> t.nodes[1]
        Node(nid=1, start_pfn=1024, nr_pages=4096, toptier=False, has_cpu=False)
        >>> t.node_of_cpu(3)
        0
        """
        p = os.fspath(path)
        with open(p, "rb") as f:
            raw = f.read(_TOML_MAX_BYTES + 1)  # bounded: /dev/zero is not a topology
        if len(raw) > _TOML_MAX_BYTES:
            raise ValueError(f"{p}: larger than {_TOML_MAX_BYTES >> 10} KiB, not a topology table")
        try:
            import tomllib
        except ImportError:  # pragma: no cover - Python 3.10
            raise RuntimeError(
                f"{p}: reading TOML needs Python 3.11+ (tomllib); parse it yourself and call "
                "Topology.from_table"
            ) from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{p}: not valid TOML ({e})") from None
        return cls.from_table(data, source=p)

    def to_table(self, page_size: SupportsIndex = 4096) -> dict[str, Any]:
        """The topology as a table that :meth:`from_table` reads back (and TOML can hold).

        Every node gets its ``start_pfn``, ``pages``, ``toptier``, ``cpus``
        (a kernel CPU list string) and, when set, ``promotion_target``.

        Examples
        --------
        >>> t = Topology([Node(0, 0, 4, True, cpus=[0, 1, 2, 5]),
        ...               Node(1, 4, 8, False, False, promotion_target=0)])
        >>> t.to_table()["nodes"][0]
        {'id': 0, 'start_pfn': 0, 'pages': 4, 'toptier': True, 'cpus': '0-2,5'}
        >>> Topology.from_table(t.to_table()) == t
        True
        """
        page = _as_int(page_size, "page_size")
        if page <= 0:
            raise ValueError(f"page_size must be > 0, got {page}")
        nodes: list[dict[str, Any]] = []
        for n in self._nodes:
            d: dict[str, Any] = {
                "id": n.nid,
                "start_pfn": n.start_pfn,
                "pages": n.nr_pages,
                "toptier": n.toptier,
                "cpus": _format_list(n.cpus),
            }
            if n.promotion_target is not None:
                d["promotion_target"] = n.promotion_target
            nodes.append(d)
        return {"page_size": page, "default_node": self._default_node, "nodes": nodes}

    # -- attributes and queries ------------------------------------------------

    @property
    def nodes(self) -> tuple[Node, ...]:
        """All nodes, sorted by node id.

        >>> [n.nid for n in Topology.two_tier(1, 1).nodes]
        [0, 1]
        """
        return self._nodes

    @property
    def default_node(self) -> int:
        """Top-tier node receiving pages of lower-tier or unknown accessors.

        >>> Topology.two_tier(1, 1).default_node
        0
        """
        return self._default_node

    def node(self, nid: SupportsIndex) -> Node:
        """The node with id ``nid``.

        Parameters
        ----------
        nid : int

        Returns
        -------
        Node

        Raises
        ------
        ValueError
            ``nid`` is not a node of the topology.

        Examples
        --------
        >>> Topology.two_tier(4, 8).node(0).nr_pages
        4
        """
        n = _as_int(nid, "nid")
        try:
            return self._by_nid[n]
        except KeyError:
            raise ValueError(f"nid: {n} is not a node of the topology") from None

    def node_of(self, pfn: SupportsIndex) -> int:
        """The node holding ``pfn``, or -1 when no node holds it (offline).

        Parameters
        ----------
        pfn : int
            A PFN, ``>= 0``.

        Returns
        -------
        int

        Examples
        --------
        >>> t = Topology.two_tier(4, 8)
        >>> t.node_of(0), t.node_of(4), t.node_of(11), t.node_of(12)
        (0, 1, 1, -1)
        """
        p = _as_int(pfn, "pfn")
        if p < 0:
            raise ValueError(f"pfn must be >= 0, got {p}")
        i = bisect.bisect_right(self._starts, p) - 1
        if i >= 0:
            start, end, nid = self._ranges[i]
            if p < end:
                return nid
        return NUMA_NO_NODE

    def is_toptier(self, nid: SupportsIndex) -> bool:
        """Whether node ``nid`` is top tier.

        -1 (no node, as :meth:`node_of` reports an offline PFN) is not top
        tier; any other id that is not a node raises ``ValueError``.

        Examples
        --------
        >>> t = Topology.two_tier(4, 8)
        >>> t.is_toptier(0), t.is_toptier(1), t.is_toptier(-1)
        (True, False, False)
        """
        n = _as_int(nid, "nid")
        if n == NUMA_NO_NODE:
            return False
        return self.node(n).toptier

    def promotion_target(self, nid: SupportsIndex) -> int:
        """The top-tier node that pages accessed from ``nid`` are promoted to.

        A top-tier node is its own target; a lower-tier node maps to its
        ``promotion_target`` when it has one, else (and -1, ``NUMA_NO_NODE``)
        to :attr:`default_node`.

        Raises
        ------
        ValueError
            ``nid`` is neither -1 nor a node.

        Examples
        --------
        >>> t = Topology.two_tier(4, 8)
        >>> t.promotion_target(0), t.promotion_target(1), t.promotion_target(-1)
        (0, 0, 0)
        """
        n = _as_int(nid, "nid")
        if n == NUMA_NO_NODE:
            return self._default_node
        node = self.node(n)
        if node.toptier:
            return n
        return self._default_node if node.promotion_target is None else node.promotion_target

    def node_of_cpu(self, cpu: SupportsIndex) -> int:
        """The node that CPU ``cpu`` belongs to; -1 for CPU -1 (a trace's "unknown").

        A CPU listed by a node (:attr:`Node.cpus`) belongs to it.  When no node
        lists its CPUs and exactly one node has CPUs (as in :meth:`two_tier`),
        every CPU belongs to that node.

        Raises
        ------
        ValueError
            ``cpu`` is below -1, or it belongs to no node (the message says
            which CPUs the topology has).

        Examples
        --------
        >>> t = Topology([Node(0, 0, 4, True, cpus=[0, 1]), Node(2, 4, 4, True, cpus=[2, 3]),
        ...               Node(1, 8, 8, False, False)])
        >>> t.node_of_cpu(0), t.node_of_cpu(3), t.node_of_cpu(-1)
        (0, 2, -1)
        >>> Topology.two_tier(4, 8).node_of_cpu(17)
        0
        >>> t.node_of_cpu(4)
        Traceback (most recent call last):
            ...
        ValueError: cpu: CPU 4 is in no node (the topology's CPUs are 0-3)
        """
        c = _as_int(cpu, "cpu")
        if c == -1:
            return NUMA_NO_NODE
        if c < -1:
            raise ValueError(f"cpu must be >= -1, got {c}")
        nid = self._cpu_node.get(c)
        if nid is not None:
            return nid
        return self._only_cpu_node(f"cpu: CPU {c}")

    def nodes_of_cpus(self, cpus: Any) -> np.ndarray:
        """:meth:`node_of_cpu` of every element of an integer array: an int32 array.

        Examples
        --------
        >>> t = Topology([Node(0, 0, 4, True, cpus=[0, 1]), Node(1, 4, 4, True, cpus=[2, 3])])
        >>> t.nodes_of_cpus(np.array([3, 0, -1, 2])).tolist()
        [1, 0, -1, 1]
        """
        if isinstance(cpus, (str, bytes)):
            raise TypeError(f"cpus must be an integer array, not {type(cpus).__name__}")
        a = np.asarray(cpus)
        if a.dtype.kind not in "iu":
            raise TypeError(f"cpus must be an integer array, not {a.dtype}")
        a = a.reshape(-1).astype(np.int64)
        out = np.full(a.shape, NUMA_NO_NODE, dtype=np.int32)
        if a.size == 0:
            return out
        if int(a.min()) < -1:
            i = int(a.argmin())
            raise ValueError(f"cpus[{i}] must be >= -1, got {int(a[i])}")
        known = a >= 0
        if self._cpu_node:
            listed = np.fromiter(self._cpu_node, dtype=np.int64, count=len(self._cpu_node))
            owners = np.fromiter(self._cpu_node.values(), dtype=np.int32, count=len(self._cpu_node))
            order = np.argsort(listed)
            listed, owners = listed[order], owners[order]
            pos = np.minimum(np.searchsorted(listed, a), listed.size - 1)
            hit = known & (listed[pos] == a)
            out[hit] = owners[pos[hit]]
            miss = known & ~hit
        else:
            miss = known
        if miss.any():
            i = int(miss.argmax())
            out[miss] = self._only_cpu_node(f"cpus[{i}]: CPU {int(a[i])}")
        return out

    def _only_cpu_node(self, what: str) -> int:
        """The node every unlisted CPU belongs to, or ValueError starting with ``what``."""
        if not self._cpu_node:
            with_cpu = [n.nid for n in self._nodes if n.has_cpu]
            if len(with_cpu) == 1:
                return with_cpu[0]
            raise ValueError(
                f"{what}: the topology lists no CPUs and {len(with_cpu)} nodes have CPUs; "
                "give each node its cpus (Topology.from_table, from_toml or from_sysfs)"
            )
        raise ValueError(f"{what} is in no node (the topology's CPUs are {_format_list(self._cpu_node)})")

    def toptier_nids(self) -> tuple[int, ...]:
        """Ids of the top-tier nodes, ascending.

        >>> Topology.two_tier(4, 8).toptier_nids()
        (0,)
        """
        return tuple(n.nid for n in self._nodes if n.toptier)

    def lower_nids(self) -> tuple[int, ...]:
        """Ids of the lower-tier nodes, ascending.

        >>> Topology.two_tier(4, 8).lower_nids()
        (1,)
        """
        return tuple(n.nid for n in self._nodes if not n.toptier)

    def lower_pages(self) -> int:
        """Total pages of the lower-tier nodes (what the tracker sizes from).

        >>> Topology.two_tier(4, 8).lower_pages()
        8
        """
        return sum(n.nr_pages for n in self._nodes if not n.toptier)

    def arrays(self) -> dict[str, np.ndarray]:
        """The topology as flat arrays, for the compiled core.

        Returns
        -------
        dict of numpy.ndarray
            ``nid`` (int32), ``start_pfn`` (uint64), ``nr_pages`` (uint64),
            ``toptier`` (uint8): one entry per node, sorted by ``start_pfn``
            (then ``nid``). ``ids`` (int32): the node ids, sorted, and
            ``id_target`` (int32) beside them: the promotion target of each.
            Their size is the number of nodes, whatever the largest id.

        Examples
        --------
        >>> a = Topology([Node(2, 0, 4, True), Node(0, 4, 4, False)], 2).arrays()
        >>> a["nid"].tolist(), a["start_pfn"].tolist(), a["toptier"].tolist()
        ([2, 0], [0, 4], [1, 0])
        >>> a["ids"].tolist(), a["id_target"].tolist()
        ([0, 2], [2, 2])
        """
        order = sorted(self._nodes, key=lambda n: (n.start_pfn, n.nid))
        by_id = sorted(self._nodes, key=lambda n: n.nid)
        return {
            "nid": np.array([n.nid for n in order], dtype=np.int32),
            "start_pfn": np.array([n.start_pfn for n in order], dtype=np.uint64),
            "nr_pages": np.array([n.nr_pages for n in order], dtype=np.uint64),
            "toptier": np.array([n.toptier for n in order], dtype=np.uint8),
            "ids": np.array([n.nid for n in by_id], dtype=np.int32),
            "id_target": np.array([self.promotion_target(n.nid) for n in by_id], dtype=np.int32),
        }

    # -- dunder ------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Topology):
            return NotImplemented
        return self._nodes == other._nodes and self._default_node == other._default_node

    def __hash__(self) -> int:
        return hash((self._nodes, self._default_node))

    def __repr__(self) -> str:
        return f"Topology(nodes={self._nodes!r}, default_node={self._default_node})"


# -- sysfs parsing --------------------------------------------------------------


def _read(path: str) -> str:
    """Stripped content of a text file, or "" when it does not exist."""
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except (FileNotFoundError, NotADirectoryError):
        return ""


def _parse_list(text: str) -> set[int]:
    """Parse a kernel list such as ``0-2,5`` into a set of ints."""
    out: set[int] = set()
    for part in text.replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if sep:
            out.update(range(int(lo), int(hi) + 1))
        else:
            out.add(int(lo))
    return out


def _block_online(node_dir: str, mem_root: str, entry: str) -> bool:
    """Whether memory block ``entry`` is online (assumed when no state file)."""
    state = _read(os.path.join(node_dir, entry, "state"))
    if not state:
        state = _read(os.path.join(mem_root, entry, "state"))
    return state in ("", "online")


def _ranges_from_blocks(
    node_dirs: dict[int, str], mem_root: str, page: int
) -> dict[int, tuple[int, int]] | None:
    """Per-node ``(start_pfn, nr_pages)`` from memory blocks, or None if none."""
    text = _read(os.path.join(mem_root, "block_size_bytes"))
    if not text:
        return None
    block_pages = int(text, 16) // page
    if block_pages <= 0:
        return None
    ranges: dict[int, tuple[int, int]] = {}
    any_block = False
    for nid, node_dir in node_dirs.items():
        blocks = []
        for entry in os.listdir(node_dir):
            m = re.fullmatch(r"memory(\d+)", entry)
            if m:
                any_block = True
                if _block_online(node_dir, mem_root, entry):
                    blocks.append(int(m.group(1)))
        if blocks:
            start = min(blocks) * block_pages
            ranges[nid] = (start, (max(blocks) + 1) * block_pages - start)
        else:
            ranges[nid] = (0, 0)
    return ranges if any_block else None


def _ranges_from_meminfo(node_dirs: dict[int, str], page: int) -> dict[int, tuple[int, int]]:
    """Per-node ranges laid out consecutively from ``MemTotal`` of each node."""
    ranges: dict[int, tuple[int, int]] = {}
    start = 0
    for nid in sorted(node_dirs):
        m = re.search(r"MemTotal:\s*(\d+)\s*kB", _read(os.path.join(node_dirs[nid], "meminfo")))
        nr = int(m.group(1)) * 1024 // page if m else 0
        ranges[nid] = (start if nr else 0, nr)
        start += nr
    return ranges


def _read_tiers(tier_root: str) -> dict[int, set[int]]:
    """Memory tier id -> node ids, from ``memory_tier*/nodelist``."""
    tiers: dict[int, set[int]] = {}
    try:
        entries = os.listdir(tier_root)
    except (FileNotFoundError, NotADirectoryError):
        return tiers
    for entry in entries:
        m = re.fullmatch(r"memory_tier(\d+)", entry)
        if m:
            nodes = _parse_list(_read(os.path.join(tier_root, entry, "nodelist")))
            if nodes:
                tiers[int(m.group(1))] = nodes
    return tiers
