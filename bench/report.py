"""What `make bench` prints: the figures it measured, in words a person reads."""

from dataclasses import dataclass

SATURATED = 90  # % of one core: a side that uses this much has no CPU to spare


@dataclass
class Figures:
    """One server's best round of chats, and its memory per idle chat."""

    key: str  # what a Ratio names it by
    label: str  # what the table and the chart call it
    ours: bool  # one of the tutorial's own servers, not a baseline to compare with
    messages_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_us_per_message: float  # server CPU time per message
    server_cpu: float  # % of one core, while the chats talked
    generator_cpu: float  # the same for the load generator
    kib_per_idle_chat: float = 0.0


@dataclass
class Ratio:
    """One server's messages per second over another's, and the least it should be.

    Without `at_least`, the ratio is a figure to read, not a target to meet.
    """

    key: str
    over: str
    at_least: float | None = None


@dataclass
class Memory:
    """Memory figures of one stage, each taken in a fresh process."""

    label: str
    idle_chats: int
    kib_offered: float  # per idle chat, the client offering permessage-deflate
    kib_not_offered: float
    compressed: int  # how many of the offering chats the server agreed to compress
    bye_chats: int
    bye_finished: int
    bye_errors: int
    bye_mb: float  # RSS growth a little after all the chats said bye and closed
    settle_seconds: float
    many_chats: int
    many_opened: int
    many_errors: int


def who_ran_out(server_cpu: float, generator_cpu: float) -> str:
    """Which side limited the rate: only a side that used a whole core can have."""
    server, generator = server_cpu >= SATURATED, generator_cpu >= SATURATED
    if server and generator:
        return "both sides are saturated"
    if server:
        return "the server is the bottleneck"
    if generator:
        return "the load generator is the bottleneck"
    return "neither side is saturated: other work on the machine held the rate back"


def target(value: float, *, at_least: float = 0, at_most: float = 0) -> str:
    if at_least:
        return f"target ≥ {at_least:g}: {'met' if value >= at_least else 'not met'}"
    return f"target ≤ {at_most:g}: {'met' if value <= at_most else 'not met'}"


def table(figures: list[Figures], heading: str) -> list[str]:
    columns = [  # two lines of heading, and how each value is written
        ("messages", "per second", "{:,.0f}"),
        ("round trip", "p50 (ms)", "{:.2f}"),
        ("round trip", "p99 (ms)", "{:.2f}"),
        ("server µs", "per message", "{:.1f}"),
        ("KiB per", "idle chat", "{:.1f}"),
        ("", "errors", "{:d}"),
    ]
    width = max(len(heading), *(len(f.label) for f in figures)) + 2
    lines = [
        (" " * width + "".join(f"{top:>12}" for top, _, _ in columns)).rstrip(),
        f"{heading:{width}}" + "".join(f"{bottom:>12}" for _, bottom, _ in columns),
    ]
    for f in figures:
        values = (
            f.messages_per_second,
            f.p50_ms,
            f.p99_ms,
            f.server_us_per_message,
            f.kib_per_idle_chat,
            f.errors,
        )
        lines.append(
            f"{f.label:{width}}"
            + "".join(
                f"{form.format(value):>12}"
                for (_, _, form), value in zip(columns, values, strict=True)
            )
        )
    return lines


def report(
    figures: list[Figures], ratios: list[Ratio], memory: Memory | None, heading: str
) -> str:
    """The table, who ran out of CPU, the ratios against their targets, and memory."""
    lines = table(figures, heading)
    width = max(len(f.label) for f in figures) + 2
    lines += [
        "",
        f"Who ran out of CPU ({SATURATED} % of a core or more is saturated), "
        "in % of a core:",
    ]
    for f in figures:
        lines.append(
            f"  {f.label:{width}}server {f.server_cpu:3.0f}, generator "
            f"{f.generator_cpu:3.0f}: {who_ran_out(f.server_cpu, f.generator_cpu)}"
        )
    by_key = {f.key: f for f in figures}
    shown = [r for r in ratios if r.key in by_key and r.over in by_key]
    if shown:
        lines += ["", "Messages per second, one server over another:"]
    for ratio in shown:
        top, bottom = by_key[ratio.key], by_key[ratio.over]
        value = top.messages_per_second / bottom.messages_per_second
        by_cpu = bottom.server_us_per_message / top.server_us_per_message
        verdict = ""
        if ratio.at_least is not None:
            verdict = f" ({target(value, at_least=ratio.at_least)})"
        lines.append(
            f"  {top.label} / {bottom.label}: {value:.2f}{verdict}; from server "
            f"CPU per message: {by_cpu:.2f}"
        )
        if min(top.server_cpu, bottom.server_cpu) < SATURATED:
            lines.append(
                "    (a server that did not use a whole core was held back by "
                "something else: the second figure is the steadier one)"
            )
    if memory is not None:
        lines += ["", *memory_lines(memory)]
    return "\n".join(lines)


def memory_lines(m: Memory) -> list[str]:
    deflate = m.kib_offered / m.kib_not_offered
    rows = [
        (
            f"KiB per idle chat, {m.idle_chats:,} chats offering compression",
            f"{m.kib_offered:.1f}",
            f"the server compressed {m.compressed:,} of them",
        ),
        (
            f"KiB per idle chat, {m.idle_chats:,} not offering it",
            f"{m.kib_not_offered:.1f}",
            "",
        ),
        ("offered / not offered", f"{deflate:.2f}", target(deflate, at_most=1.5)),
        (
            f"growth in MB {m.settle_seconds:g} s after {m.bye_chats:,} chats said bye",
            f"{m.bye_mb:.1f}",
            f"{target(m.bye_mb, at_most=15)}; {m.bye_finished:,} got the farewell "
            f"and the close, {m.bye_errors} errors",
        ),
        (
            "idle chats held at once in one process",
            f"{m.many_opened:,}",
            f"of {m.many_chats:,}, {m.many_errors} errors",
        ),
    ]
    width = max(len(name) for name, _, _ in rows) + 2
    return [f"Memory of {m.label}, each figure from a fresh process:"] + [
        f"  {name:{width}}{value:>8}" + (f"  ({note})" if note else "")
        for name, value, note in rows
    ]


def fanout_rows(result: dict) -> list[tuple[str, dict]]:
    """Each search of `make bench`'s fan-out, with its label for the table and chart."""
    return [(f"{s['label']}, {s['guests']:,} guests", s) for s in result["searches"]]


def at_least(search: dict) -> str:
    """A mark before a rate the generator could not raise: not the server's limit."""
    alone = "the generator" in search["limit"] and "server" not in search["limit"]
    return "≥ " if alone else ""


def fanout_report(result: dict) -> str:
    """The fan-out table, what ended each search, and the party over its peer."""
    heading = "fan-out"
    columns = [  # two lines of heading, and how each value is written
        ("deliveries/s", "p99 < 200 ms"),
        ("at that rate", "p99 (ms)"),
        ("server µs", "per delivery"),
        ("KiB per", "guest"),
        ("join storm", "(s)"),
    ]
    rows = fanout_rows(result)
    width = max(len(heading), *(len(label) for label, _ in rows)) + 2
    lines = [
        "The party's fan-out: the most deliveries a second (one line to one guest)",
        "with p99 latency under 200 ms, raising the rate step by step; server CPU",
        "per delivery at that rate (user + system, the talking only); memory per",
        "guest and the join storm's time, as N guests join.",
        "",
        " " * width + "".join(f"{top:>14}" for top, _ in columns),
        f"{heading:{width}}" + "".join(f"{bottom:>14}" for _, bottom in columns),
    ]
    for label, search in rows:
        best = search["best"]
        if best is None:
            first = search["steps"][0]["asked_per_second"]
            measured = [f"< {first:,.0f}", "", ""]
        else:
            measured = [
                at_least(search) + f"{best['delivered_per_second']:,.0f}",
                f"{best['p99_ms']:.1f}",
                f"{best['server_us_per_delivery']:.1f}",
            ]
        values = [
            *measured,
            f"{search['kib_per_guest']:.1f}",
            f"{search['join_seconds']:.1f}",
        ]
        lines.append(f"{label:{width}}" + "".join(f"{v:>14}" for v in values))
    if any(at_least(search) for _, search in rows):
        lines.append("≥: the load generator used its whole core, the server did not.")
    lines += ["", f"What ended each search ({SATURATED} % of a core or more):"]
    for label, search in rows:
        shares = ""
        failed = [s for s in search["steps"] if not s["passed"]]
        if failed:
            shares = ", ".join(
                f"{name} {share:.0%}" for name, share in failed[-1]["shares"].items()
            )
            shares = f" (CPU in the step that failed: {shares})"
        lines.append(f"  {label}: {search['limit']}{shares}")
    lines += ["", "The party over its peer (websockets broadcast()), one process each:"]
    for guests in sorted({s["guests"] for s in result["searches"]}):
        by_key = {s["key"]: s for s in result["searches"] if s["guests"] == guests}
        party, peer = by_key.get("party"), by_key.get("peer")
        if party is None or peer is None or not party["best"] or not peer["best"]:
            continue
        ours, theirs = party["best"], peer["best"]
        rate = ours["delivered_per_second"] / theirs["delivered_per_second"]
        if party["limit"] == peer["limit"] == "the server":
            counted = "counted: the server was the limit of both"
        else:
            counted = (
                f"not counted: the party's search ended on {party['limit']}, "
                f"the peer's on {peer['limit']}"
            )
        lines.append(f"  {guests:,} guests: deliveries/s {rate:.2f} ({counted})")
        lines.append(f"    {cpu_at_the_same_rate(party, peer)}")
    return "\n".join(lines)


def cpu_at_the_same_rate(party: dict, peer: dict) -> str:
    """Server CPU per delivery, peer's over party's, at the highest rate both passed.

    Writes coalesce as the rate grows, so each one's cost at its own best rate
    would favour the faster one.
    """
    theirs = {s["asked_per_second"]: s for s in peer["steps"] if s["passed"]}
    both = [
        s for s in party["steps"] if s["passed"] and s["asked_per_second"] in theirs
    ]
    if not both:
        return "server CPU per delivery: no rate that both passed"
    ours = max(both, key=lambda s: s["asked_per_second"])
    rate = ours["asked_per_second"]
    party_us = ours["server_us_per_delivery"]
    peer_us = theirs[rate]["server_us_per_delivery"]
    if not party_us or not peer_us:  # a tiny run: 0 in the clock's ticks
        return f"server CPU per delivery at {rate:,.0f}/s: too little to divide"
    return (
        f"server CPU per delivery at {rate:,.0f}/s, the highest rate both passed: "
        f"the peer {peer_us:.1f} µs, the party {party_us:.1f} µs, "
        f"a ratio of {peer_us / party_us:.2f}"
    )
