"""The figures' shared style: the Okabe-Ito palette and matplotlib settings.

The figures themselves are in :mod:`experiments.analysis` (batches) and :mod:`experiments.app`
(the dashboard).
"""

from __future__ import annotations

__all__ = ["OKABE_ITO", "STYLE"]

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
