"""The picture of a `make bench` run: the chats, and the party's fan-out.

The top row has messages per second and memory per idle chat, one bar per server;
the bottom row, when there is a fan-out, its most deliveries a second with p99
under 200 ms and the server's CPU time per delivery, one bar per search.
matplotlib draws it with its Agg backend straight into a PNG: no window, no display.
"""

from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure, SubFigure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from bench.report import Figures, at_least, fanout_rows

OURS, BASELINE = "#d9622b", "#8aa7c7"  # the tutorial's servers, and what they face
# A panel's heading, how its values are written, the values, and texts written
# instead of some (an empty text: the value itself; no texts at all: every value).
Panel = tuple[str, str, list[float], list[str]]


def bars(
    row: Figure | SubFigure,
    labels: list[str],
    colors: list[str],
    panels: list[Panel],
) -> None:
    """One row of horizontal bar charts side by side, first label at the top."""
    labels, colors = labels[::-1], colors[::-1]  # barh draws its first bar lowest
    axes_row: list[Axes] = list(row.subplots(1, len(panels), sharey=True))
    for axes, (heading, form, values, texts) in zip(axes_row, panels, strict=True):
        values, texts = values[::-1], (texts or [""] * len(values))[::-1]
        drawn = axes.barh(labels, values, color=colors)
        written = [
            text or form.format(v) for v, text in zip(values, texts, strict=True)
        ]
        axes.bar_label(drawn, written, padding=3, fontsize=8)
        axes.set_title(heading, fontsize=10)
        axes.xaxis.set_major_locator(MaxNLocator(nbins=4))
        axes.xaxis.set_major_formatter(StrMethodFormatter("{x:,g}"))
        axes.margins(x=0.25)
        axes.spines[["top", "right"]].set_visible(False)


def fanout_panels(fanout: dict) -> tuple[list[str], list[str], list[Panel]]:
    """The fan-out's bars: its labels, colours and two panels."""
    rows = fanout_rows(fanout)
    labels = [label for label, _ in rows]
    colors = [BASELINE if s["key"] == "peer" else OURS for _, s in rows]
    rates, costs, rate_texts, cost_texts = [], [], [], []
    for _, search in rows:
        best = search["best"]
        if best is None:  # even the first step failed
            first = search["steps"][0]["asked_per_second"]
            rates.append(0.0)
            costs.append(0.0)
            rate_texts.append(f"< {first:,.0f}")
            cost_texts.append("-")
        else:
            rates.append(best["delivered_per_second"])
            costs.append(best["server_us_per_delivery"])
            rate_texts.append(at_least(search) + f"{rates[-1]:,.0f}")
            cost_texts.append("")
    return (
        labels,
        colors,
        [
            (
                "deliveries/s with p99 < 200 ms (≥: the generator's limit)",
                "{:,.0f}",
                rates,
                rate_texts,
            ),
            ("server µs of CPU per delivery", "{:.1f}", costs, cost_texts),
        ],
    )


def draw(
    figures: list[Figures],
    title: str,
    caption: str,
    path: Path,
    fanout: dict | None = None,
    fanout_title: str = "",
) -> None:
    """The chats' row, and the fan-out's below it if there is one."""
    chat_height = 0.5 * len(figures) + 1.2
    fanout_height = 0 if fanout is None else 0.5 * len(fanout["searches"]) + 1.2
    chart = Figure(figsize=(11, chat_height + fanout_height + 1), layout="constrained")
    FigureCanvasAgg(chart)
    chats: Figure | SubFigure = chart
    if fanout is not None:
        rows = chart.subfigures(2, 1, height_ratios=[chat_height, fanout_height])
        chats, fanned = list(rows.flat)  # type: ignore[union-attr]  # 2 rows: an array
        bars(fanned, *fanout_panels(fanout))
        fanned.suptitle(fanout_title)
    bars(
        chats,
        [f.label for f in figures],
        [OURS if f.ours else BASELINE for f in figures],
        [
            ("messages/s", "{:,.0f}", [f.messages_per_second for f in figures], []),
            ("KiB per idle chat", "{:.1f}", [f.kib_per_idle_chat for f in figures], []),
        ],
    )
    chats.suptitle(title)
    chart.legend(
        handles=[Patch(color=OURS), Patch(color=BASELINE)],
        labels=["the tutorial's servers", "baselines and peers"],
        loc="outside upper right",
        fontsize=8,
    )
    chart.supxlabel(caption, fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    chart.savefig(path, dpi=100)
