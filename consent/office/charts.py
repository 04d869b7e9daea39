"""Bar charts of the dashboard, laid out here and drawn by templates/office/_chart.html as inline SVG.

Server-side, with no JavaScript library and nothing fetched from elsewhere: the page works with scripts off,
and a chart is one more piece of HTML that the office's Content-Security-Policy already allows.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

WIDTH = 720
HEIGHT = 180
AXIS = 24  # room under the bars for the day labels


@dataclass
class Segment:
    key: str
    label: str
    count: int
    y: float
    height: float


@dataclass
class Day:
    day: date
    x: float
    width: float
    total: int
    segments: list[Segment] = field(default_factory=list)
    show_label: bool = False


@dataclass
class Chart:
    title: str
    series: list[tuple[str, str]]  # (key, label) in stacking order, bottom first
    days: list[Day]
    peak: int
    width: int = WIDTH
    height: int = HEIGHT
    plot_height: int = HEIGHT - AXIS

    @property
    def total(self) -> int:
        return sum(day.total for day in self.days)


def stacked_bars(*, title: str, counts: dict, series: list[tuple[str, str]], first: date, days: int) -> Chart:
    """One stacked bar per calendar day from `first`, also for days with nothing (a gap is information)."""
    plot = HEIGHT - AXIS
    peak = max([sum(counts.get((first + timedelta(n), key), 0) for key, _ in series) for n in range(days)] + [1])
    slot = WIDTH / days
    label_every = max(1, days // 10)
    bars = []
    for n in range(days):
        day = first + timedelta(n)
        bar = Day(day=day, x=round(n * slot + slot * 0.1, 2), width=round(slot * 0.8, 2), total=0)
        bar.show_label = n % label_every == 0
        top = plot
        for key, label in series:
            count = counts.get((day, key), 0)
            if not count:
                continue
            height = round(count / peak * (plot - 4), 2)
            top -= height
            bar.segments.append(Segment(key=key, label=label, count=count, y=round(top, 2), height=height))
            bar.total += count
        bars.append(bar)
    return Chart(title=title, series=series, days=bars, peak=peak)
