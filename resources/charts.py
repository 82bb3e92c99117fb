"""PNG charts for the reports (matplotlib, headless): the same bytes go inline into the
HTML mail (`cid:`) and into the UI's markdown (a `data:` URI), so both show one picture.

Labels can come from stores (retailer keys are ours, but series names are passed in):
matplotlib draws text and never runs it; the one thing it interprets is `$…$` (mathtext),
so every `$` is escaped and drawn as a dollar sign.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")  # no display here, nor in the daemon

import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend

_COLOURS = ("#2b6cb0", "#2f855a", "#c05621", "#6b46c1", "#b83280", "#2c7a7b", "#744210")


@dataclass(frozen=True)
class Panel:
    """One set of axes: `bars` side by side per x, `lines` over them (None = no figure)."""

    ylabel: str
    bars: Mapping[str, Sequence[float]] = field(default_factory=dict)
    lines: Mapping[str, Sequence[float | None]] = field(default_factory=dict)
    dashed: frozenset[str] = frozenset()  # line labels drawn dashed (last week's)


def chart_png(title: str, x_labels: Sequence[str], panels: Sequence[Panel]) -> bytes:
    """The panels stacked, sharing the x axis; a PNG of about 900 × 300 px per panel."""
    with plt.rc_context({"text.usetex": False}):
        figure, axes = plt.subplots(
            len(panels), 1, figsize=(9, 2.6 * len(panels) + 0.6), sharex=True, squeeze=False
        )
        try:
            for ax, panel in zip(axes[:, 0], panels, strict=True):
                _draw(ax, x_labels, panel)
            figure.suptitle(_plain(title), fontsize=11)
            step = max(1, len(x_labels) // 12)
            axes[-1, 0].set_xticks(range(0, len(x_labels), step))
            axes[-1, 0].set_xticklabels([_plain(x) for x in x_labels][::step], fontsize=8)
            figure.tight_layout()
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=100)
        finally:
            plt.close(figure)
    return buffer.getvalue()


def _draw(ax, x_labels: Sequence[str], panel: Panel) -> None:
    count = max(len(panel.bars), 1)
    width = 0.8 / count
    colour = iter(_COLOURS * 4)
    for i, (label, values) in enumerate(panel.bars.items()):
        offsets = [x - 0.4 + width * (i + 0.5) for x in range(len(x_labels))]
        ax.bar(offsets, values, width=width, label=_plain(label), color=next(colour))
    for label, values in panel.lines.items():
        points = [(x, v) for x, v in enumerate(values) if v is not None]
        if points:
            xs, ys = zip(*points, strict=True)
            style = "--" if label in panel.dashed else "-"
            ax.plot(xs, ys, style, marker="o", markersize=3, label=_plain(label),
                    color=next(colour))  # fmt: skip
    ax.set_ylabel(_plain(panel.ylabel), fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    if panel.bars or panel.lines:
        ax.legend(fontsize=8, loc="upper left", ncols=min(4, len(panel.bars) + len(panel.lines)))


def _plain(label: str) -> str:
    """Text as drawn: `$` would otherwise start mathtext in a legend."""
    return label.replace("$", r"\$")


def data_uri(png: bytes) -> str:
    """The PNG as a `data:` URI for markdown (`![chart](data:image/png;base64,...)`)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
