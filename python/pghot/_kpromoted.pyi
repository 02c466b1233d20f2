# The compiled promoter rounds (src/_pghot/_kpromoted.pyx): the state and
# round of pghot.machine.promoter.Promoter on a compiled memory and tracker,
# and `run`, the replay engine's loop of one pghot policy over a stretch.
from typing import Any

import numpy as np
import numpy.typing as npt

_I64 = npt.NDArray[np.int64]
_I32 = npt.NDArray[np.int32]

STAT_KEYS: tuple[str, ...]

class PromoterCore:
    def __init__(
        self,
        tracker: Any,
        memory: Any,
        nids: list[int],
        watermarks: list[int],
        batch: int,
        rate_limit_mbps: int | None,
        interval_ms: int,
        threshold_adjust: bool,
        period_jiffies: int,
        free_bypass: bool,
        stale_check: bool,
        throttle_demotion_ratio: int | None = None,
        throttle_jiffies: int = 1,
        throttle_ping_pong: bool = False,
    ) -> None: ...
    def counters(self, j: int) -> dict[str, int]: ...
    def threshold(self, j: int) -> int: ...
    def throttle_level(self, j: int) -> int: ...
    def last_round(self, j: int) -> int | None: ...
    def forget_node(self, j: int) -> None: ...
    def round(self, j: int, now: int) -> tuple[_I64, _I64, _I32]: ...
    def run(
        self,
        pages: npt.ArrayLike,
        times: npt.ArrayLike,
        rpages: npt.ArrayLike,
        rnids: npt.ArrayLike,
        rsrcs: npt.ArrayLike,
        rtimes: npt.ArrayLike,
        horizon: int,
        next_round: int,
        round_j: int,
        bin_jiffies: int,
        hit_bins: _I64,
        promo_bins: _I64,
        outcomes: _I64,
        max_rounds: int = 0,
    ) -> tuple[int, int, _I64, int, int]: ...
    @property
    def own_buffers(self) -> int: ...
    def idle(self) -> bool: ...
    def idle_rounds(self, first: int, last: int, count: int) -> None: ...
