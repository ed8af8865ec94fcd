"""Charts drawn on the server as inline SVG: no script, no chart library, no CDN. Each chart
is labelled for screen readers (role="img" with its title) and prints its figures as text;
the page also gives the same figures as a table. Colours are presentation attributes, which
the console's CSP (style-src 'self') allows where inline styles are refused."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

# Distinct on white and for common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
_FONT = 'font-family="sans-serif" font-size="15"'


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def hbars(
    chart_id: str,
    title: str,
    bars: Sequence[tuple[str, float | None]],
    *,
    unit: str = "",
    scale_max: float | None = None,
    colour: str = PALETTE[0],
) -> Markup:
    """Horizontal bars, one per (label, value), the value written at the end of its bar; a
    value of None (nothing to measure, e.g. no request closed yet) is drawn as "—", no bar."""
    label_w, bar_w, row_h, pad = 110, 240, 28, 8
    width = label_w + bar_w + 70
    height = pad * 2 + row_h * max(len(bars), 1)
    top = max([scale_max or 0, *(v for _, v in bars if v is not None)]) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" class="chart" '
        f'role="img" aria-labelledby="{escape(chart_id)}-t" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
    ]
    for i, (label, value) in enumerate(bars):
        y = pad + i * row_h
        w = round(bar_w * value / top, 1) if value is not None else 0
        shown = f"{_num(value)}{unit}" if value is not None else "—"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end" {_FONT} fill="#222">'
            f"{escape(label)}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{w}" height="{row_h - 8}" fill="{colour}"/>'
            f'<text x="{label_w + w + 6}" y="{y + 18}" {_FONT} fill="#222" class="figure">'
            f"{escape(shown)}</text>"
        )
    if not bars:
        parts.append(f'<text x="8" y="{pad + 18}" {_FONT} fill="#222">자료 없음</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_columns(
    chart_id: str,
    title: str,
    columns: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
) -> Markup:
    """Columns (e.g. months) stacked by series (e.g. request types), each column's total on
    top, with a legend below."""
    left, col_w, gap, plot_h, top_pad = 40, 56, 24, 200, 24
    width = left + len(columns) * (col_w + gap) + gap
    legend_rows = (len(series) + 2) // 3
    height = top_pad + plot_h + 28 + legend_rows * 22 + 8
    totals = [sum(s[1][i] for s in series) for i in range(len(columns))]
    top = max(totals, default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" class="chart" '
        f'role="img" aria-labelledby="{escape(chart_id)}-t" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - 4}" y2="{top_pad + plot_h}" '
        f'stroke="#555"/>',
    ]
    for i, column in enumerate(columns):
        x = left + gap + i * (col_w + gap)
        base: float = top_pad + plot_h
        for k, (_, values) in enumerate(series):
            h = round(plot_h * values[i] / top, 1)
            if h:
                base -= h
                parts.append(
                    f'<rect x="{x}" y="{round(base, 1)}" width="{col_w}" height="{h}" '
                    f'fill="{PALETTE[k % len(PALETTE)]}"/>'
                )
        parts.append(
            f'<text x="{x + col_w / 2}" y="{round(base, 1) - 6}" text-anchor="middle" {_FONT} '
            f'fill="#222" class="figure">{totals[i]}</text>'
            f'<text x="{x + col_w / 2}" y="{top_pad + plot_h + 18}" text-anchor="middle" '
            f'{_FONT} fill="#222">{escape(column)}</text>'
        )
    for k, (name, _) in enumerate(series):
        lx = left + (k % 3) * 170
        ly = top_pad + plot_h + 34 + (k // 3) * 22
        parts.append(
            f'<rect x="{lx}" y="{ly}" width="14" height="14" fill="{PALETTE[k % len(PALETTE)]}"/>'
            f'<text x="{lx + 20}" y="{ly + 12}" {_FONT} fill="#222">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
