"""A static SVG picture of the map of the literature (``index/map_data.py``): a circle per paper
coloured by region, chosen so that touching regions differ (Paul Tol's colour-blind-safe
palette), some papers highlighted on top, and each region's label near its centre, nudged off
the others. Self-contained: no external resources. Used by ``paperboard map --svg`` and the
``/map`` page."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from html import escape as _html_escape
from urllib.parse import quote

import numpy as np

from paperboard.index.map_data import LiteratureMap, MapPoint, highlight

__all__ = ["PALETTE", "render_svg"]

# Paul Tol's colour-blind-safe qualitative colours: "muted", then three of "light".
PALETTE = (
    "#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE", "#882255",
    "#44AA99", "#999933", "#AA4499", "#EE8866", "#77AADD", "#BBCC33",
)  # fmt: skip
_BACKGROUND = "#FBFAF7"
_INK = "#2B2B2B"
_FONT = "Inter, 'Helvetica Neue', Helvetica, Arial, 'DejaVu Sans', sans-serif"


def render_svg(
    m: LiteratureMap,
    *,
    highlighted: Iterable[str] = (),
    width: int = 1200,
    height: int = 800,
    max_points: int = 20000,
    link: str | None = None,
    titles: Callable[[Sequence[str]], Mapping[str, str]] | None = None,
    label_sets: Sequence[tuple[str, float]] = (),
) -> str:
    """A static SVG picture of the map, self-contained: one circle per drawn point coloured by
    cluster (at most ``max_points`` of them, a fixed sample when there are more), the
    ``highlighted`` papers on top, larger and outlined, and each cluster's label at its centre.

    With ``link`` (an address with ``{id}``, e.g. ``/papers/{id}``) each dot is a link to its
    paper, titled by ``titles`` (given the drawn ids, their titles by id), and the labels let
    the pointer through to the dots. ``label_sets`` draws the labels once per ``(class, least
    font size)``, leaving out those that would overlap at that size, so that a page can show
    the set that stays legible at its width; by default one set, every label drawn."""
    width, height = max(int(width), 100), max(int(height), 100)
    n = len(m.points)
    marked = highlight(m, highlighted)
    if n > max_points:
        keep = np.sort(np.random.default_rng(0).choice(n, size=max(max_points, 0), replace=False))
        drawn = [m.points[i] for i in keep]
    else:
        drawn = list(m.points)
    xs = np.array([p.x for p in m.points] or [0.5])
    ys = np.array([p.y for p in m.points] or [0.5])
    margin = 28.0
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    span_x, span_y = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    scale = min((width - 2 * margin) / span_x, (height - 2 * margin - 18) / span_y)
    if not np.isfinite(scale) or scale > 1e6:
        scale = 0.0
    off_x = (width - scale * span_x) / 2
    off_y = (height - 18 - scale * span_y) / 2

    def sx(x: float) -> float:
        return float(off_x + (x - x0) * scale)

    def sy(y: float) -> float:
        return float(off_y + (y1 - y) * scale)

    colours = _cluster_colours(m, drawn)
    named: Mapping[str, str] = {}
    if link is not None and titles is not None:
        named = titles([p.id for p in drawn] + [p.id for p in marked])

    def dot(p: MapPoint, circle: str) -> str:
        if link is None:
            return circle
        href = _esc(link.replace("{id}", quote(p.id, safe=":")))
        return f'<a href="{href}"><title>{_esc(named.get(p.id, p.id))}</title>{circle}</a>'

    # points cover about a sixth of the canvas together, whatever their number
    radius = float(np.clip(math.sqrt(width * height / 6 / math.pi / max(len(drawn), 1)), 0.8, 3.5))
    opacity = 0.3 if marked else 0.8

    out: list[str] = []
    add = out.append
    add('<?xml version="1.0" encoding="UTF-8"?>')
    title = f"Map of {n:,} papers in {len(m.clusters)} topics"
    add(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(title)}">'
    )
    add(f"<title>{_esc(title)}</title>")
    add(f'<rect width="{width}" height="{height}" fill="{_BACKGROUND}"/>')
    by_cluster: dict[int, list[MapPoint]] = {}
    for p in drawn:
        by_cluster.setdefault(p.cluster, []).append(p)
    add(f'<g class="points" fill-opacity="{opacity}">')
    for c in sorted(by_cluster):
        add(f'<g fill="{colours.get(c, "#888888")}">')
        add("".join(
            dot(p, f'<circle cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="{radius:.2f}"/>')
            for p in by_cluster[c]
        ))  # fmt: skip
        add("</g>")
    add("</g>")
    if marked:
        big = float(np.clip(radius * 2.2, 3.5, 6.5))
        add(f'<g class="highlighted" stroke="{_INK}" stroke-width="1.2">')
        for p in marked:
            fill = colours.get(p.cluster, "#888888")
            at = f'cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="{big:.2f}" fill="{fill}"'
            if link is None:
                add(f"<circle {at}><title>{_esc(p.id)}</title></circle>")
            else:
                add(dot(p, f"<circle {at}/>"))
        add("</g>")
    # labels on top, a little transparent when highlights may lie beneath them
    for name, least in label_sets or [("", 0.0)]:
        add(
            _labels_svg(
                m, colours, sx, sy, width, height, opacity=0.82 if marked else 1.0,
                name=name, least=least, through=link is not None,
            )
        )  # fmt: skip
    caption = f"{n:,} papers \u00b7 {len(m.clusters)} topics"
    if marked:
        caption += f" \u00b7 {len(marked):,} highlighted"
    add(
        f'<text class="caption" x="{margin:.0f}" y="{height - 12}" font-family="{_esc(_FONT)}" '
        f'font-size="12" '
        f'fill="#77736A">{_esc(caption)}</text>'
    )
    add("</svg>")
    return "\n".join(out)


def _esc(text: str) -> str:
    return _html_escape(str(text), quote=True)


def _cluster_colours(m: LiteratureMap, drawn: list[MapPoint]) -> dict[int, str]:
    """A palette colour per cluster, chosen so that clusters that touch on the map differ."""
    ids = [c.id for c in m.clusters] or sorted({p.cluster for p in drawn})
    if not ids:
        return {}
    position = {c: i for i, c in enumerate(ids)}
    k = len(ids)
    contact = np.zeros((k, k))
    if len(drawn) > 1 and k > 1:
        from scipy.spatial import cKDTree

        pts = np.array([(p.x, p.y) for p in drawn])
        lab = np.array([position.get(p.cluster, 0) for p in drawn])
        _, nb = cKDTree(pts).query(pts, k=min(8, len(pts)))
        a = np.repeat(lab, nb.shape[1])
        b = lab[nb.ravel()]
        np.add.at(contact, (a, b), 1.0)
        contact = contact + contact.T
        np.fill_diagonal(contact, 0.0)
    # labels close on the map count as touching too, so neighbouring names differ in colour
    for i, ci in enumerate(m.clusters):
        for j, cj in enumerate(m.clusters[:i]):
            if math.hypot(ci.x - cj.x, ci.y - cj.y) < 0.12:
                contact[i, j] += 1.0
                contact[j, i] += 1.0
    order = np.argsort(-contact.sum(axis=1), kind="stable")
    chosen: dict[int, int] = {}
    use: Counter[int] = Counter()
    for i in order:
        cost = np.zeros(len(PALETTE))
        for j, col in chosen.items():
            cost[col] += contact[i, j]
        best = min(range(len(PALETTE)), key=lambda col: (cost[col], use[col], col))
        chosen[int(i)] = best
        use[best] += 1
    return {ids[i]: PALETTE[col] for i, col in chosen.items()}


def _darker(colour: str, amount: float = 0.5) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#{:02X}{:02X}{:02X}".format(*(int(v * (1 - amount)) for v in (r, g, b)))


def _label_lines(label: str) -> list[str]:
    """A label's terms on at most two lines: the first term, then the others."""
    terms = [t.strip() for t in label.split(", ") if t.strip()] or [label]
    lines = [terms[0]]
    for term in terms[1:]:
        if len(lines) == 1:
            lines.append(term)
        else:
            lines[-1] += ", " + term
    return lines


def _labels_svg(
    m: LiteratureMap,
    colours: dict[int, str],
    sx: Callable[[float], float],
    sy: Callable[[float], float],
    width: int,
    height: int,
    opacity: float = 1.0,
    *,
    name: str = "",
    least: float = 0.0,
    through: bool = False,
) -> str:
    """The cluster labels, biggest clusters first, each nudged off the labels already placed.
    With a ``least`` font size, none is smaller and those that would overlap are left out."""
    if not m.clusters:
        return ""
    biggest = max(c.size for c in m.clusters) or 1
    base = min(width, height) / 800
    placed: list[tuple[float, float, float, float]] = []
    halo = max(3.2, 0.15 * least)
    parts = [
        f'<g class="{_esc(" ".join(["labels", name]).strip())}" font-family="{_esc(_FONT)}" '
        f'font-weight="600" text-anchor="middle" stroke="{_BACKGROUND}" '
        f'stroke-width="{halo:g}" stroke-linejoin="round" paint-order="stroke" '
        f'opacity="{opacity:g}"' + (' pointer-events="none">' if through else ">")
    ]
    for c in sorted(m.clusters, key=lambda c: (-c.size, c.id)):
        lines = _label_lines(c.label)
        cx, cy = sx(c.x), sy(c.y)
        best, best_overlap = (cx, cy, 0.0, 0.0, 0.0), math.inf
        # nudged around its place, and at a smaller size, until it overlaps no other label
        for shrink in (1.0, 0.85, 0.72):
            size = max(shrink * base * (9.5 + 5.0 * math.sqrt(c.size / biggest)), least)
            w = 0.64 * size * max(len(line) for line in lines)  # a bold sans's average advance
            h = 1.2 * size * len(lines)
            for dx, dy in _NUDGES:
                x = min(max(cx + dx * w, w / 2 + 6), width - w / 2 - 6)
                y = min(max(cy + dy * h, h / 2 + 4), height - 22 - h / 2)
                box = (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
                overlap = sum(_overlap(box, other) for other in placed) / (w * h)
                overlap += 0.002 * math.hypot(x - cx, y - cy) / max(size, 1.0)
                if overlap < best_overlap:
                    best, best_overlap = (x, y, size, w, h), overlap
                if overlap < 0.01:
                    break
            if best_overlap < 0.01:
                break
        if least and best_overlap >= 0.01:
            continue  # no room for it at a legible size: the page lists every topic anyway
        x, y, size, w, h = best
        placed.append((x - w / 2, y - h / 2, x + w / 2, y + h / 2))
        top = y - h / 2 + 0.95 * size
        fill = _darker(colours.get(c.id, "#888888"), 0.45)
        spans = "".join(
            f'<tspan x="{x:.1f}" y="{top + i * 1.2 * size:.1f}">{_esc(line)}</tspan>'
            for i, line in enumerate(lines)
        )
        parts.append(
            f'<text font-size="{size:.1f}" fill="{fill}"><title>{_esc(", ".join(c.terms))}'
            f"</title>{spans}</text>"
        )
    parts.append("</g>")
    return "".join(parts)


# where to try a label, in label widths and heights from its place: nearest first
_NUDGES = [(0.0, 0.0)] + [
    (dx * r, dy * r)
    for r in (0.55, 1.0, 1.5, 2.1)
    for dx, dy in (
        (0, -1), (0, 1), (-0.6, 0), (0.6, 0), (-0.5, -1), (0.5, 1), (0.5, -1), (-0.5, 1),
    )
]  # fmt: skip


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0
