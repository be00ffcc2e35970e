"""The overview's charts, laid out here as shapes and drawn by the template as inline SVG: no
script and no image requests, so the console's content policy stays strict. Colours come from
the console's stylesheet by class name."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from adapter.store.queries import AgeBand, Bucket

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 48, 12, 28
LABELS = 8  # at most this many x labels


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    kind: str  # the CSS class
    title: str  # shown on hover, and read by screen readers


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"
    kind: str = "axis"


@dataclass(frozen=True)
class Rule:
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    rects: list[Rect] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    line: str = ""  # polyline points, "x,y x,y ..."


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value`` (at least 1)."""
    if value <= 1:
        return 1
    power: int = 10 ** (len(str(value)) - 1)
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def activity_chart(buckets: Sequence[Bucket], label: Callable[[datetime], str]) -> Chart:
    """Payments per slice, stacked by how they stand (paid, failed or cancelled, open), with
    the share paid among those that ended as a line on the right-hand scale."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_ceiling(max((b.created for b in buckets), default=0))
    slot = plot_w / max(1, len(buckets))
    rects: list[Rect] = []
    labels: list[Label] = []
    rules: list[Rule] = []
    for fraction in (0.0, 0.5, 1.0):
        y = TOP + plot_h * (1 - fraction)
        rules.append(Rule(LEFT, y, LEFT + plot_w, y))
        labels.append(Label(LEFT - 6, y + 4, f"{top * fraction:g}", "end"))
        labels.append(Label(LEFT + plot_w + 6, y + 4, f"{fraction:.0%}", "start", "rate"))
    every = max(1, math.ceil(len(buckets) / LABELS))
    points = []
    for number, bucket in enumerate(buckets):
        x = LEFT + number * slot + slot * 0.1
        base = float(TOP + plot_h)
        when = label(bucket.start)
        for count, kind, what in (
            (bucket.succeeded, "paid", "paid"),
            (bucket.failed, "failed", "failed or cancelled"),
            (bucket.open, "open", "open"),
        ):
            if not count:
                continue
            height = plot_h * count / top
            base -= height
            rects.append(Rect(x, base, slot * 0.8, height, kind, f"{when}: {count} {what}"))
        if number % every == 0:
            labels.append(Label(x + slot * 0.4, HEIGHT - 8, when))
        rate = bucket.success_rate
        if rate is not None:
            points.append(f"{x + slot * 0.4:.1f},{TOP + plot_h * (1 - rate):.1f}")
    title = "Payments per slice, and the share paid of those that ended"
    return Chart(title, WIDTH, HEIGHT, rects, labels, rules, " ".join(points))


def age_chart(bands: Sequence[AgeBand], describe: Callable[[AgeBand], str]) -> Chart:
    """Open payments per age band, one horizontal bar each."""
    row, name_w, plot_w = 26, 150, WIDTH - 150 - RIGHT - 40
    top = _nice_ceiling(max((band.count for band in bands), default=0))
    chart = Chart("Open payments by age", WIDTH, row * len(bands) + 8)
    for number, band in enumerate(bands):
        y = 4 + number * row
        text = describe(band)
        chart.labels.append(Label(name_w - 8, y + 16, text, "end"))
        width = plot_w * band.count / top
        if band.count:
            kind = "open" if band.younger_than is not None else "failed"
            chart.rects.append(Rect(name_w, y + 4, width, row - 8, kind, f"{text}: {band.count}"))
        chart.labels.append(Label(name_w + width + 6, y + 16, str(band.count), "start", "count"))
    return chart
