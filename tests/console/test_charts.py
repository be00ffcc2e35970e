"""The overview's charts are laid out inside their box, to scale, with nothing for empty data."""

from __future__ import annotations

from datetime import timedelta

from adapter.console.charts import BOTTOM, HEIGHT, TOP, WIDTH, activity_chart, age_chart
from adapter.store.queries import AgeBand, Bucket
from tests.support.models import NOW


def test_bars_stack_to_scale_inside_the_plot_and_the_rate_line_has_a_point_per_ended_slice() -> (
    None
):
    buckets = [
        Bucket(NOW, created=10, succeeded=6, failed=3, open=1),
        Bucket(NOW + timedelta(hours=1)),
        Bucket(NOW + timedelta(hours=2), created=5, succeeded=5),
    ]
    chart = activity_chart(buckets, lambda start: start.strftime("%H:%M"))
    plot_height = HEIGHT - TOP - BOTTOM
    first = [r for r in chart.rects if r.title.startswith("12:00")]
    assert [r.kind for r in first] == ["paid", "failed", "open"]
    assert sum(r.height for r in first) == plot_height  # 10 of a scale topped at 10
    assert all(r.x >= 0 and r.x + r.width <= WIDTH and r.y >= TOP for r in chart.rects)
    assert not [r for r in chart.rects if r.title.startswith("13:00")]
    points = chart.line.split()
    assert len(points) == 2  # the empty slice has no share paid
    assert float(points[1].split(",")[1]) == TOP  # 100 % at the top
    assert [r.title for r in first] == [
        "12:00: 6 paid",
        "12:00: 3 failed or cancelled",
        "12:00: 1 open",
    ]


def test_the_scale_rounds_up_to_a_readable_top() -> None:
    chart = activity_chart([Bucket(NOW, created=37, succeeded=37)], lambda s: "x")
    assert [label.text for label in chart.labels if label.anchor == "end"] == ["0", "25", "50"]


def test_an_empty_window_draws_an_empty_chart() -> None:
    chart = activity_chart([Bucket(NOW)], lambda s: "x")
    assert chart.rects == [] and chart.line == ""
    ages = age_chart(
        [AgeBand(timedelta(0), timedelta(minutes=1), 0), AgeBand(timedelta(days=1), None, 3)],
        lambda band: "band",
    )
    assert [r.kind for r in ages.rects] == ["failed"]  # the oldest band stands out
