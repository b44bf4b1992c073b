"""Charts as inline SVG: drawn here, so the report needs no script and no library in the page.

Each chart is one ``<svg role="img">`` with axes, axis labels and a value on
every mark; every mark (bar) is a ``<rect class="marque">`` carrying its value
in ``data-valeur`` and a ``<title>`` (the browser's tooltip). Numbers are
written the French way (:mod:`cpfft.rapport.fr`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from cpfft.rapport import fr
from cpfft.rapport.figures import Classe, nice_width

WIDTH = 880
ROW = 24
BAR = 15
FONT = 'font-family="system-ui, sans-serif" font-size="13"'


@dataclass(frozen=True)
class Serie:
    """One set of bars: its name (panel header), colour, axis label and value format."""

    nom: str
    couleur: str
    axe: str
    valeurs: Sequence[float]
    format: Callable[[float], str] = fr.nombre
    #: Counts: axis ticks on whole numbers.
    entier: bool = True


def _t(text: str) -> str:
    return escape(text, quote=True)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ticks(maximum: float, target: int = 4, entier: bool = True) -> list[float]:
    """Round tick values from 0 to at least ``maximum`` (whole steps for counts)."""
    step = nice_width(maximum, target) if maximum > 0 else 1.0
    if entier:
        step = max(1.0, math.ceil(step))
    count = max(1, math.ceil(maximum / step - 1e-9))
    return [i * step for i in range(count + 1)]


def _open(height: int, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_t(label)}" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" {FONT}>'
    )


def barres(
    titre: str,
    libelles: Sequence[str],
    series: Sequence[Serie],
    surlignes: frozenset[int] = frozenset(),
    largeur_libelles: int = 290,
) -> str:
    """Horizontal bars, one row per label and one panel per series (each on its own scale,
    side by side). Rows in ``surlignes`` are drawn in bold with a darker bar."""
    top, bottom, gap = 30, 48, 34
    height = top + ROW * max(1, len(libelles)) + bottom
    panel = (WIDTH - largeur_libelles - gap * len(series)) / len(series)
    parts = [_open(height, titre)]
    for row, label in enumerate(libelles):
        y = top + row * ROW + ROW / 2 + 4
        weight = ' font-weight="bold"' if row in surlignes else ""
        parts.append(
            f'<text x="{largeur_libelles - 8}" y="{y:.1f}" text-anchor="end"{weight}>'
            f"<title>{_t(label)}</title>{_t(_short(label, largeur_libelles // 8))}</text>"
        )
    for index, serie in enumerate(series):
        x0 = largeur_libelles + index * (panel + gap)
        axis = ticks(max(serie.valeurs, default=0), entier=serie.entier)
        scale = (panel - 60) / axis[-1]  # room for the value printed after the longest bar
        parts.append(
            f'<text x="{x0}" y="18" font-weight="bold" fill="{serie.couleur}">'
            f"{_t(serie.nom)}</text>"
        )
        base = top + ROW * max(1, len(libelles))
        for tick in axis:
            x = x0 + tick * scale
            parts.append(
                f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{base}" stroke="#ddd"/>'
                f'<text x="{x:.1f}" y="{base + 15}" text-anchor="middle" fill="#444">'
                f"{_t(serie.format(tick))}</text>"
            )
        parts.append(
            f'<line x1="{x0}" y1="{base}" x2="{x0 + axis[-1] * scale:.1f}" y2="{base}" '
            'stroke="#666"/>'
            f'<text x="{x0 + axis[-1] * scale / 2:.1f}" y="{base + 36}" text-anchor="middle">'
            f"{_t(serie.axe)}</text>"
        )
        for row, value in enumerate(serie.valeurs):
            y = top + row * ROW + (ROW - BAR) / 2
            w = value * scale
            shown = serie.format(value)
            opacity = "1" if row in surlignes or not surlignes else "0.75"
            parts.append(
                f'<rect class="marque" data-serie="{index}" data-valeur="{value!r}" '
                f'x="{x0}" y="{y:.1f}" width="{w:.1f}" height="{BAR}" fill="{serie.couleur}" '
                f'fill-opacity="{opacity}"><title>{_t(libelles[row])} : {_t(shown)}</title></rect>'
                f'<text x="{x0 + w + 4:.1f}" y="{y + BAR - 3:.1f}" fill="#222">{_t(shown)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _y_axis(parts: list[str], highest: float, label: str, left: int, right: int, top: int,
            inner_h: int) -> float:  # fmt: skip
    """A vertical chart's count axis: round ticks with grid lines, and its name; the
    scale (pixels per unit)."""
    base = top + inner_h
    axis = ticks(highest)
    scale = inner_h / axis[-1]
    for tick in axis:
        y = base - tick * scale
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#444">'
            f"{_t(fr.nombre(tick))}</text>"
        )
    parts.append(
        f'<text transform="translate(18 {top + inner_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">{_t(label)}</text>'
    )
    return scale


def histogramme(
    titre: str,
    classes: Sequence[Classe],
    axe_x: str,
    format_x: Callable[[float], str],
    couleur: str,
    mediane: float | None = None,
) -> str:
    """Vertical bars of the bins' counts; bin edges under the x axis, the last open bin
    (values beyond) labelled « au-delà », the median as a dashed line."""
    left, right, top, bottom, height = 84, 20, 30, 76, 340
    inner_w, inner_h = WIDTH - left - right, height - top - bottom
    parts = [_open(height, titre)]
    base = top + inner_h
    if not classes:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{height / 2}" text-anchor="middle" fill="#444">'
            "Aucune valeur</text></svg>"
        )
        return "".join(parts)
    scale = _y_axis(parts, max(c.effectif for c in classes), "Nombre de formations", left,
                    right, top, inner_h)  # fmt: skip
    step = inner_w / len(classes)
    for i, c in enumerate(classes):
        x = left + i * step
        h = c.effectif * scale
        span = (
            f"{format_x(c.bas)} à {format_x(c.haut)}"
            if c.haut is not None
            else f"{format_x(c.bas)} et plus"
        )
        fill = couleur if c.haut is not None else "#888"
        parts.append(
            f'<rect class="marque" data-valeur="{c.effectif}" x="{x + 1:.1f}" '
            f'y="{base - h:.1f}" width="{step - 2:.1f}" height="{h:.1f}" fill="{fill}">'
            f"<title>{_t(span)} : {_t(fr.nombre(c.effectif))} formations</title></rect>"
        )
        if c.effectif:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{base - h - 4:.1f}" text-anchor="middle" '
                f'font-size="11">{_t(fr.nombre(c.effectif))}</text>'
            )
        if c.haut is not None:
            parts.append(
                f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle" font-size="11" '
                f'fill="#444">{_t(format_x(c.bas))}</text>'
            )
        else:  # the open bin: its lower edge, and what it holds under it
            parts.append(
                f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle" font-size="11" '
                f'fill="#444">{_t(format_x(c.bas))}</text>'
                f'<text x="{x + step / 2:.1f}" y="{base + 30}" text-anchor="middle" '
                'font-size="11" fill="#444">au-delà</text>'
            )
    regular = [c for c in classes if c.haut is not None]
    last = regular[-1]
    if classes[-1].haut is not None:
        parts.append(
            f'<text x="{left + inner_w:.1f}" y="{base + 16}" text-anchor="middle" '
            f'font-size="11" fill="#444">{_t(format_x(last.haut or 0))}</text>'
        )
    parts.append(
        f'<line x1="{left}" y1="{base}" x2="{WIDTH - right}" y2="{base}" stroke="#666"/>'
        f'<text x="{left + inner_w / 2:.1f}" y="{height - 18}" text-anchor="middle">'
        f"{_t(axe_x)}</text>"
    )
    if mediane is not None and last.haut and mediane <= last.haut:
        width = last.haut / len(regular)
        x = left + mediane / width * step
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{base}" stroke="#222" '
            'stroke-dasharray="5 4"/>'
            f'<text x="{min(max(x, left + 70), WIDTH - right - 70):.1f}" y="{top - 8}" '
            'text-anchor="middle" font-size="12">'
            f"médiane : {_t(format_x(mediane))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def colonnes(
    titre: str, libelles: Sequence[str], series: Sequence[Serie], axe_y: str, pas: int = 1
) -> str:
    """Vertical bars over time, one group per label (a day, a week), one bar per series
    side by side on one scale; a label under every ``pas``-th group, a legend above."""
    left, right, top, bottom, height = 84, 20, 40, 58, 320
    inner_w, inner_h = WIDTH - left - right, height - top - bottom
    base = top + inner_h
    parts = [_open(height, titre)]
    highest = max((v for s in series for v in s.valeurs), default=0)
    scale = _y_axis(parts, highest, axe_y, left, right, top, inner_h)
    x = left
    for serie in series:  # the legend
        parts.append(
            f'<rect x="{x}" y="10" width="12" height="12" fill="{serie.couleur}"/>'
            f'<text x="{x + 18}" y="21">{_t(serie.nom)}</text>'
        )
        x += 30 + 8 * len(serie.nom)
    step = inner_w / max(1, len(libelles))
    bar = min(48.0, max(1.0, (step - 2) / len(series)))
    printed = len(libelles) * len(series) <= 24  # values above the bars, while they fit
    for i, label in enumerate(libelles):
        x0 = left + i * step + 1 + (step - 2 - bar * len(series)) / 2
        for k, serie in enumerate(series):
            value = serie.valeurs[i]
            h = value * scale
            shown = _t(serie.format(value))
            parts.append(
                f'<rect class="marque" data-serie="{k}" data-valeur="{value!r}" '
                f'x="{x0 + k * bar:.1f}" y="{base - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{serie.couleur}"><title>{_t(label)} — {_t(serie.nom)} : '
                f"{shown}</title></rect>"
            )
            if printed:
                parts.append(
                    f'<text x="{x0 + (k + 0.5) * bar:.1f}" y="{base - h - 4:.1f}" '
                    f'text-anchor="middle" font-size="11">{shown}</text>'
                )
        if i % pas == 0:
            parts.append(
                f'<text x="{left + i * step + step / 2:.1f}" y="{base + 16}" '
                f'text-anchor="middle" font-size="11" fill="#444">{_t(label)}</text>'
            )
    parts.append(
        f'<line x1="{left}" y1="{base}" x2="{WIDTH - right}" y2="{base}" stroke="#666"/></svg>'
    )
    return "".join(parts)
