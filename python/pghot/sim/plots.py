"""The replay's figure: hit ratio and promotions over time, and the page heat map."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pghot.sim.results import Result

__all__ = ["plot"]


def plot(result: Result, path: str | os.PathLike[str]) -> None:
    """Three panels: top-tier hit ratio over time, promotions per second, page heat.

    The heat map is damo's heatmap for the trace: time across, logical pages
    (first-touch order) up, accesses per cell in colour (log scale).

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install 'pghot[plot]'``).

    Examples
    --------
    >>> import os, tempfile
    >>> from pghot.sim import SimConfig, demo_trace, replay
    >>> r = replay([demo_trace(5000, 200, seed=1)], SimConfig(top_pages=50), progress=False)
    >>> p = os.path.join(tempfile.mkdtemp(), "r.png"); plot(r, p); os.path.getsize(p) > 0
    True
    """
    try:
        import matplotlib
    except ImportError:
        raise ImportError("--plot needs matplotlib: pip install 'pghot[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    fig, axes = plt.subplots(3, 1, figsize=(10, 11), sharex=True)
    nb = len(result.accesses_series)
    x = (np.arange(nb) + 0.5) * result.bin_s
    styles = ("-", "--", ":", "-.")  # runs that coincide stay visible
    for i, p in enumerate(result.policies.values()):
        y = np.array([np.nan if v is None else v for v in p.hit_ratio_series], dtype=float)
        style = styles[i % len(styles)]
        axes[0].plot(x, y, style, marker=".", label=p.name)
        axes[1].plot(
            x, np.asarray(p.promotions_series, dtype=float) / result.bin_s, style, marker=".", label=p.name
        )
    axes[0].set_ylabel("top-tier hit ratio")
    axes[0].set_ylim(0, 1.02)
    axes[0].legend(fontsize=8, ncol=3)
    axes[0].set_title(f"pghot replay of {result.trace['name']}")
    axes[1].set_ylabel("promotions per second")
    heat = result.heatmap.T.astype(float)
    heat[heat == 0] = np.nan
    extent = (0, result.heatmap.shape[0] * result.heat_time_s, 0, result.heatmap.shape[1] * result.heat_pages)
    vmax = np.nanmax(heat) if np.isfinite(heat).any() else 1.0
    im = axes[2].imshow(
        heat,
        origin="lower",
        aspect="auto",
        extent=extent,
        norm=LogNorm(vmin=1, vmax=max(vmax, 1.0)),
        cmap="inferno",
        interpolation="nearest",
    )
    axes[2].set_ylabel("logical page (first touch)")
    axes[2].set_xlabel("time (s)")
    fig.colorbar(im, ax=axes[2], orientation="horizontal", pad=0.15, fraction=0.05, label="accesses")
    for ax in axes[:2]:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=100)
    plt.close(fig)
