"""The figures' shared style: palette, sizes for papers and slides, labels, the simplex, saving.

The figures themselves are in :mod:`experiments.analysis` (batches), :mod:`experiments.observed`
(the model against observed data) and :mod:`experiments.app` (the dashboard). What is declared
here once and used by all of them:

- the Okabe-Ito palette and the matplotlib settings (:data:`OKABE_ITO`, :data:`STYLE`);
- the figure sizes of :data:`SIZES` (a journal's single and double column at 300 dpi with text of
  at least 7 pt, a 16:9 slide) and the :class:`Look` of a figure (size, title or none, formats);
- human labels of parameters (:func:`parameter_label`, from :data:`model.parameters.PARAMETERS`)
  and of metrics (:func:`metric_label`, from :data:`model.metrics.METRICS`);
- the alignment simplex's orientation (:func:`simplex_xy`, :func:`draw_simplex_frame`): the
  scenario's first pole at the bottom left, its second at the bottom right, its third at the top
  (Russia, China and the West in the baseline);
- :data:`HISTORY_END`, after which a longer scenario's months are a projection, shaded.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from model.metrics import metric_of
from model.parameters import PLACEHOLDERS, lookup

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# matplotlib is imported where a figure is made, so the command line starts without it

__all__ = [
    "DEFAULT_FORMATS",
    "DEFAULT_LOOK",
    "FIGURE_KINDS",
    "FORMATS",
    "HISTORY_END",
    "OKABE_ITO",
    "SIZES",
    "STYLE",
    "FigureSize",
    "Look",
    "draw_simplex_frame",
    "metric_label",
    "parameter_label",
    "save_figure",
    "simplex_xy",
]

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

SAVING = {"svg.fonttype": "none", "pdf.fonttype": 42, "ps.fonttype": 42}
"""Text stays text: editable in an SVG editor, and fonts embedded as TrueType in a PDF."""

FORMATS = ("png", "svg", "pdf")
DEFAULT_FORMATS = ("png", "svg")

FIGURE_KINDS = {
    "trajectories": "a metric over time per state: the median and the 50% and 90% bands over runs",
    "dimensions": "each state's largest partner share per dimension of ties over time (medians)",
    "shares": "each state's partner shares over time (medians over runs, stacked)",
    "simplex": "each state's path between the three alignment poles (medians over runs)",
    "regional": "the regional cooperation index over time: median, 50% and 90% bands",
    "sweep": "a final-month metric against the swept parameters",
    "distribution": "a final-month metric's distribution over runs, per state",
}
"""The figures of a batch (:func:`experiments.analysis.plot`), in the order a report shows
them (the headline first), with what each shows."""

HISTORY_END = np.datetime64("2021-12", "M")
"""The last month of the article's 30 years (and of the calibrated baseline); later months of a
longer scenario (``baseline-2040`` and its what-ifs) are a projection, and figures shade them."""


@dataclass(frozen=True)
class FigureSize:
    """A figure's width, its text size and how many panels go in a row.

    Attributes
    ----------
    name : ``single``, ``double`` or ``slide``
    width : inches
    dpi : dots per inch of PNG files
    font : points, of every text (titles one point larger)
    columns : panels per row of a faceted figure
    height : inches, for a fixed aspect (a slide); None: from the panels
    """

    name: str
    width: float
    dpi: int
    font: float
    columns: int
    height: float | None = None


SIZES = {
    "single": FigureSize("single", 3.5, 300, 7, 2),
    "double": FigureSize("double", 7.2, 300, 8, 3),
    "slide": FigureSize("slide", 13.333, 200, 14, 3, height=7.5),
}
"""Journal single and double columns (3.5 and 7.2 inches at 300 dpi, text of 7 and 8 pt) and a
16:9 slide (13.33 x 7.5 inches)."""


@dataclass(frozen=True)
class Look:
    """How a figure is drawn and saved: its size, a title or none, the file formats.

    Parameters
    ----------
    size : a key of :data:`SIZES`
    title : draw the figure's title (off for a paper, whose caption says it)
    formats : file formats written by :meth:`save`, from :data:`FORMATS`
    """

    size: str = "double"
    title: bool = True
    formats: tuple[str, ...] = DEFAULT_FORMATS
    _size: FigureSize = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_size", SIZES[self.size])

    @property
    def width(self) -> float:
        return self._size.width

    @property
    def font(self) -> float:
        return self._size.font

    @property
    def columns(self) -> int:
        """Panels per row of a faceted figure."""
        return self._size.columns

    def style(self) -> dict:
        """:data:`STYLE` with every text at this size's font (for ``mpl.rc_context``)."""
        font = self._size.font
        return {
            **STYLE,
            "font.size": font,
            "axes.titlesize": font + 1,
            "axes.labelsize": font,
            "xtick.labelsize": font,
            "ytick.labelsize": font,
            "legend.fontsize": font,
            "legend.title_fontsize": font,
            "figure.titlesize": font + 1,
            "lines.linewidth": 1.2 if self.size == "single" else 1.5,
        }

    def figure(self, aspect: float = 0.55) -> Figure:
        """An empty figure of this width, ``aspect`` (height / width) high (a slide: 16:9)."""
        from matplotlib.figure import Figure

        height = self._size.height or self.width * aspect
        return Figure(figsize=(self.width, height), layout="constrained")

    def facets(self, n: int, *, sharey: bool = True, aspect: float = 0.72):
        """A figure of ``n`` panels, :attr:`FigureSize.columns` to a row; returns it and the
        axes (the unused cells hidden, x tick labels on every bottom panel)."""
        from matplotlib.figure import Figure

        cols = min(n, self._size.columns)
        rows = math.ceil(n / cols)
        panel = self.width / cols
        # each row: the panel, its title and tick labels; then the legend below
        line = self.font / 72 * 1.4
        height = self._size.height or rows * (panel * aspect + 2.5 * line) + 4 * line
        fig = Figure(figsize=(self.width, height), layout="constrained")
        axes = fig.subplots(rows, cols, sharex=True, sharey=sharey, squeeze=False)
        for ax in axes.flat[n:]:
            ax.set_visible(False)
        for k, ax in enumerate(axes.flat[:n]):
            if k + cols >= n:
                ax.xaxis.set_tick_params(labelbottom=True)
        return fig, list(axes.flat[:n])

    def suptitle(self, fig: Figure, text: str) -> None:
        """The figure's title, unless titles are off."""
        if self.title:
            fig.suptitle(text, fontsize=self.font + 1)

    def save(self, fig: Figure, folder: Path, name: str) -> list[Path]:
        """Write ``fig`` as ``name.<format>`` for each format in ``folder``; the written files."""
        return save_figure(fig, folder, name, formats=self.formats, dpi=self._size.dpi)


DEFAULT_LOOK = Look()


def save_figure(
    fig: Figure,
    folder: Path,
    name: str,
    *,
    formats: Sequence[str] = DEFAULT_FORMATS,
    dpi: int = 200,
) -> list[Path]:
    """Write ``fig`` as ``name.<format>`` (PNG at ``dpi``) in ``folder``, each atomically.

    SVG text stays text (``svg.fonttype = 'none'``) and PDF fonts are embedded as TrueType.
    """
    import matplotlib as mpl

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.{fmt}" for fmt in formats]
    with mpl.rc_context(SAVING):
        for path in paths:
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
            fig.savefig(tmp, dpi=dpi, metadata=_metadata(path.suffix))
            os.replace(tmp, path)
    return paths


def _metadata(suffix: str) -> dict | None:
    # no creation date, so the same figure gives the same PDF or SVG
    if suffix == ".pdf":
        return {"CreationDate": None}
    if suffix == ".svg":
        return {"Date": None}
    return None


# --------------------------------------------------------------------------------------------
# labels from the declarations


def metric_label(column: str) -> str:
    """A metric column's axis label with its unit (from :data:`model.metrics.METRICS`)."""
    found = metric_of(column)
    return found[1] if found else column.replace("_", " ")


def parameter_label(key: str, names: Mapping[str, str] | None = None) -> str:
    """A concrete key path as words, with its unit, from its row of ``PARAMETERS``.

    ``states.KAZ.balancing_propensity`` is "Balancing propensity of Kazakhstan (utility
    units)" when ``names`` maps ``KAZ`` to ``Kazakhstan``; an id without a name stays an id,
    and a key that is no parameter is returned as it is.
    """
    parameter = lookup(key)
    if parameter is None:
        return key
    names = names or {}
    words, ids = [], []
    for template, part in zip(parameter.key.split(".")[1:], key.split(".")[1:], strict=False):
        if template in PLACEHOLDERS or template.startswith("<"):
            ids.append(names.get(part, part))
        else:
            words.append(part.replace("_", " "))
    text = " ".join(words).capitalize() or key
    if ids:
        text += " of " + ", ".join(ids)
    if parameter.unit not in ("-", ""):
        text += f" ({parameter.unit})"
    return text


# --------------------------------------------------------------------------------------------
# the alignment simplex


SIMPLEX_CORNERS = ((0.0, 0.0), (1.0, 0.0), (0.5, math.sqrt(3) / 2))
"""Where the poles go, in the scenario's order: bottom left, bottom right, top."""


def simplex_xy(poles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project three pole shares onto the triangle of :data:`SIMPLEX_CORNERS`.

    The shares (last axis) are renormalised to sum to 1 (other partners are left out);
    returns x and y.
    """
    p = np.asarray(poles, dtype=float)
    total = p.sum(axis=-1, keepdims=True)
    p = np.divide(p, total, out=np.full_like(p, 1 / 3), where=total > 0)
    corners = np.asarray(SIMPLEX_CORNERS)
    return p @ corners[:, 0], p @ corners[:, 1]


def draw_simplex_frame(ax, labels: Sequence[str], *, fontsize: float = 10) -> None:
    """The triangle, grid lines every 20% of each pole's share and the corner labels.

    ``labels`` names the three poles in the scenario's order (e.g. ``West (USA+EU)``).
    """
    ax.set_axis_off()
    ax.set_aspect("equal")
    (x0, y0), (x1, y1), (x2, y2) = SIMPLEX_CORNERS
    ax.plot([x0, x1, x2, x0], [y0, y1, y2, y0], color="#333333", linewidth=1)
    for level in (0.2, 0.4, 0.6, 0.8):  # grid lines: each pole's share = level
        for a, b in ((0, 1), (1, 2), (2, 0)):
            ends = np.zeros((2, 3))
            ends[:, a] = level
            ends[0, b], ends[1, 3 - a - b] = 1 - level, 1 - level
            x, y = simplex_xy(ends)
            ax.plot(x, y, color="#dddddd", linewidth=0.6, zorder=0)
    for (x, y), label, (ha, va) in zip(
        SIMPLEX_CORNERS,
        labels,
        (("right", "top"), ("left", "top"), ("center", "bottom")),
        strict=True,
    ):
        offset = 0.03 if va == "bottom" else -0.03
        ax.text(x, y + offset, label, ha=ha, va=va, fontsize=fontsize, fontweight="bold")
    ax.set_xlim(-0.12, 1.12)
    ax.set_ylim(-0.1, y2 + 0.08)
