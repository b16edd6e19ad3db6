"""The report's charts as inline SVG strings: no script, no fonts or images fetched, every label escaped.

    svg = bars([("asked for a person", 12), ("upset shopper", 5)], "Handoffs by reason")

Each chart is one `<svg role="img">` with a `<title>` and an `aria-label`, sized by its `viewBox` so it fills the
width it is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#1f6f50", "#3d8fd1", "#e39b2d", "#c4455a", "#7a5bb5", "#4bb3a6", "#9a8f3b", "#8a8f96")
OTHER = "other"
GREEN, RED, GREY, INK = "#1f6f50", "#c4455a", "#d9ddd9", "#222"


def _svg(width: int, height: int, label: str, body: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-label="{escape(label)}" font-family="system-ui,sans-serif" font-size="12">'
            f'<title>{escape(label)}</title>{body}</svg>')


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def bars(items: Sequence[tuple[str, float]], label: str, colour: str = GREEN, width: int = 520) -> str:
    """Horizontal bars, one a row, the value at each bar's end."""
    if not items:
        return _svg(width, 40, label, f'<text x="0" y="24" fill="#666">{escape("nothing yet")}</text>')
    row, left, right = 24, 170, 60
    top = max(v for _, v in items) or 1
    parts = []
    for i, (name, value) in enumerate(items):
        y = i * row
        length = (width - left - right) * value / top
        parts.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end" fill="{INK}">{escape(_clip(name))}</text>'
                     f'<rect x="{left}" y="{y + 4}" width="{length:.1f}" height="{row - 8}" rx="3" fill="{colour}">'
                     f'<title>{escape(name)}: {_number(value)}</title></rect>'
                     f'<text x="{left + length + 6:.1f}" y="{y + 16}" fill="{INK}">{_number(value)}</text>')
    return _svg(width, row * len(items) + 4, label, "".join(parts))


def split(good: int, bad: int, label: str, good_name: str = "up", bad_name: str = "down", width: int = 520) -> str:
    """One bar split in two (thumbs up and down, resolved and not), with each part's count and share."""
    total = good + bad
    if not total:
        return _svg(width, 40, label, f'<text x="0" y="24" fill="#666">{escape("nothing yet")}</text>')
    share = good / total
    left = width * share
    body = (f'<rect x="0" y="4" width="{width}" height="26" rx="4" fill="{RED}"/>'
            f'<rect x="0" y="4" width="{left:.1f}" height="26" rx="4" fill="{GREEN}"/>'
            f'<text x="6" y="48" fill="{GREEN}">{escape(good_name)}: {good:,} ({share:.0%})</text>'
            f'<text x="{width - 6}" y="48" text-anchor="end" fill="{RED}">{escape(bad_name)}: {bad:,} '
            f'({1 - share:.0%})</text>')
    return _svg(width, 56, label, body)


def stacked_days(by_day: Mapping[str, Mapping[str, int]], label: str, top: int = 6, width: int = 720) -> str:
    """Columns per day, each stacked by intent (the `top` most frequent overall, the rest as `other`), a legend."""
    if not by_day:
        return _svg(width, 40, label, f'<text x="0" y="24" fill="#666">{escape("nothing yet")}</text>')
    totals: dict[str, int] = {}
    for counts in by_day.values():
        for name, count in counts.items():
            totals[name] = totals.get(name, 0) + count
    named = [n for n, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
    series = named + ([OTHER] if len(totals) > len(named) else [])
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    days = sorted(by_day)
    left, plot_top, plot_height, bottom = 40, 10, 180, 40
    legend_rows = (len(series) + 3) // 4
    height = plot_top + plot_height + bottom + legend_rows * 18
    peak = max(sum(c.values()) for c in by_day.values()) or 1
    step = (width - left - 10) / len(days)
    column = max(2.0, step * 0.7)
    parts = [f'<line x1="{left}" y1="{plot_top + plot_height}" x2="{width - 10}" y2="{plot_top + plot_height}" '
             f'stroke="#999"/>',
             f'<text x="{left - 6}" y="{plot_top + 10}" text-anchor="end" fill="#666">{peak:,}</text>',
             f'<text x="{left - 6}" y="{plot_top + plot_height}" text-anchor="end" fill="#666">0</text>']
    every = max(1, len(days) // 8)
    for i, date in enumerate(days):
        counts = by_day[date]
        x = left + i * step + (step - column) / 2
        y = plot_top + plot_height
        for name in series:
            value = counts.get(name, 0) if name != OTHER else sum(v for n, v in counts.items() if n not in named)
            if not value:
                continue
            h = plot_height * value / peak
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{column:.1f}" height="{h:.1f}" '
                         f'fill="{colours[name]}"><title>{escape(date)} {escape(name)}: {value:,}</title></rect>')
        if i % every == 0:
            parts.append(f'<text x="{x + column / 2:.1f}" y="{plot_top + plot_height + 16}" text-anchor="middle" '
                         f'fill="#666">{escape(date[5:])}</text>')
    for i, name in enumerate(series):
        x = left + (i % 4) * ((width - left) / 4)
        y = plot_top + plot_height + bottom + (i // 4) * 18
        parts.append(f'<rect x="{x:.1f}" y="{y - 10}" width="12" height="12" fill="{colours[name]}"/>'
                     f'<text x="{x + 16:.1f}" y="{y}" fill="{INK}">{escape(_clip(name, 22))}</text>')
    return _svg(width, height, label, "".join(parts))


def _clip(text: str, limit: int = 26) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"
