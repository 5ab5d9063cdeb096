"""The figures' shared style: the Okabe-Ito palette, matplotlib settings, saving.

The figures themselves are in :mod:`experiments.analysis` (batches), :mod:`experiments.observed`
(the model against observed data) and :mod:`experiments.app` (the dashboard).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["OKABE_ITO", "STYLE", "save_figure"]

# Figures are built with the object-oriented API (no pyplot), so no GUI backend is ever needed.

# Okabe & Ito (2008), "Color Universal Design": distinguishable under common colour blindness
OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]

STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
}


def save_figure(fig, folder: Path, name: str) -> list[Path]:
    """Write ``fig`` as ``name.png`` (200 dpi) and ``name.svg`` in ``folder``, atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.png", folder / f"{name}.svg"]
    for path in paths:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
        fig.savefig(tmp, dpi=200)
        os.replace(tmp, path)
    return paths
