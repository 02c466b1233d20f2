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
import operator
import os
import re
from collections.abc import Iterable
from typing import Any, SupportsIndex

import numpy as np

from pghot._types import NUMA_NO_NODE

__all__ = ["Node", "Topology"]

#: Largest PFN bound accepted (PFNs are stored in signed 64-bit arithmetic).
_PFN_LIMIT = 2**63
#: Node ids must fit an ``int32``.
_NID_LIMIT = 2**31 - 1


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
    """

    nid: int
    start_pfn: int
    nr_pages: int
    toptier: bool
    has_cpu: bool = True

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

    __slots__ = ("_nodes", "_default_node", "_by_nid", "_starts", "_ranges")

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

        self._nodes: tuple[Node, ...] = tuple(sorted(node_list, key=lambda n: n.nid))
        self._default_node: int = default
        self._by_nid: dict[int, Node] = by_nid
        self._starts: list[int] = [r[0] for r in ranges]
        self._ranges: list[tuple[int, int, int]] = ranges

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
        - CPUs: a node has CPUs when ``nodeN/cpulist`` is non-empty.
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
            ``root`` holds no ``nodeN`` directory, or the tree describes no
            top-tier node or overlapping nodes.

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

        has_cpu = {nid: bool(_read(os.path.join(node_dirs[nid], "cpulist"))) for nid in nids}
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

        nodes = [Node(nid, ranges[nid][0], ranges[nid][1], nid in top_tier, has_cpu[nid]) for nid in nids]
        if not top_tier:
            raise ValueError(f"root: the sysfs tree at {root_s!r} has no top-tier node")
        with_cpu = sorted(nid for nid in top_tier if has_cpu[nid])
        default = with_cpu[0] if with_cpu else min(top_tier)
        return cls(nodes, default_node=default)

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

        A top-tier node is its own target; a lower-tier node and -1
        (``NUMA_NO_NODE``) map to :attr:`default_node`.

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
        return n if self.node(n).toptier else self._default_node

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
            "id_target": np.array(
                [n.nid if n.toptier else self._default_node for n in by_id], dtype=np.int32
            ),
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
