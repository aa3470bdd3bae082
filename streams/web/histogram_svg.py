"""The confidence histogram as inline SVG: one bar per bin, counts on top, no script."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["histogram_svg"]

_W = 560
_H = 220
_PAD_L = 40
_PAD_B = 34
_PAD_T = 20


def histogram_svg(buckets: Sequence[Mapping[str, Any]], title: str = "confidence") -> str:
    """SVG bars for ``[{"le": 0.1, "count": n}, ...]`` (bins in order, upper bounds inclusive)."""
    n = max(1, len(buckets))
    top = max([int(b["count"]) for b in buckets] + [1])
    plot_h = _H - _PAD_B - _PAD_T
    bar_w = (_W - _PAD_L - 10) / n
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="histogram" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(title)} histogram">',
        f"<title>{escape(title)} histogram</title>",
        f'<line x1="{_PAD_L}" y1="{_H - _PAD_B}" x2="{_W - 5}" y2="{_H - _PAD_B}" stroke="#4a5568"/>',
        f'<text x="4" y="{_PAD_T + 4}" font-size="11" fill="#4a5568">{top}</text>',
        f'<text x="4" y="{_H - _PAD_B}" font-size="11" fill="#4a5568">0</text>',
    ]
    lower = 0.0
    for i, b in enumerate(buckets):
        count = int(b["count"])
        le = float(b["le"])
        h = round(plot_h * count / top, 1)
        x = round(_PAD_L + i * bar_w + 3, 1)
        y = round(_H - _PAD_B - h, 1)
        w = round(bar_w - 6, 1)
        # Red for doubtful customers, amber in between, green when well supported.
        color = "#e53e3e" if le <= 0.4 else "#dd6b20" if le <= 0.6 else "#38a169"
        out.append(
            f'<g class="bar"><title>{lower:.1f} to {le:.1f}: {count} customer(s)</title>'
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{color}"/>'
            f'<text x="{x + w / 2}" y="{y - 4}" font-size="11" text-anchor="middle" fill="#1a202c">{count}</text>'
            f'<text x="{x + w / 2}" y="{_H - _PAD_B + 16}" font-size="11" text-anchor="middle" '
            f'fill="#4a5568">≤{le:.1f}</text></g>'
        )
        lower = le
    out.append("</svg>")
    return "\n".join(out)
