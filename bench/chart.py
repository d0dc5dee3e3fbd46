"""The picture of a `make bench` run: messages per second and memory per idle chat.

matplotlib draws it with its Agg backend straight into a PNG: no window, no display.
"""

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from bench.report import Figures

OURS, BASELINE = "#d9622b", "#8aa7c7"  # the tutorial's servers, and what they face


def draw(figures: list[Figures], title: str, caption: str, path: Path) -> None:
    """Two bar charts side by side, one bar per server, in the table's order."""
    top_down = list(reversed(figures))  # barh draws its first bar at the bottom
    labels = [f.label for f in top_down]
    colors = [OURS if f.ours else BASELINE for f in top_down]
    chart = Figure(figsize=(11, 0.5 * len(figures) + 2.2), layout="constrained")
    FigureCanvasAgg(chart)
    panels = (
        ("messages/s", "{:,.0f}", [f.messages_per_second for f in top_down]),
        ("KiB per idle chat", "{:.1f}", [f.kib_per_idle_chat for f in top_down]),
    )
    for axes, (heading, form, values) in zip(
        chart.subplots(1, 2, sharey=True), panels, strict=True
    ):
        bars = axes.barh(labels, values, color=colors)
        axes.bar_label(bars, [form.format(v) for v in values], padding=3, fontsize=8)
        axes.set_title(heading)
        axes.xaxis.set_major_locator(MaxNLocator(nbins=4))
        axes.xaxis.set_major_formatter(StrMethodFormatter("{x:,g}"))
        axes.margins(x=0.2)
        axes.spines[["top", "right"]].set_visible(False)
    chart.legend(
        handles=[Patch(color=OURS), Patch(color=BASELINE)],
        labels=["the tutorial's servers", "baselines"],
        loc="outside upper right",
        fontsize=8,
    )
    chart.suptitle(title)
    chart.supxlabel(caption, fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    chart.savefig(path, dpi=100)
