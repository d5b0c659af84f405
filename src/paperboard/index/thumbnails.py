"""Thumbnails: the first page of a paper's PDF as a small WebP image, kept in ``HOME/thumbnails``.

Like the other indexes, thumbnails are derived data: made from what the store lists (and the PDF
that ``sources/arxiv_pdf.py`` fetches), never written to the database, and made again at any time
by deleting the folder. Only arXiv papers have one (their PDF is at a known address). A file is
named for the paper's canonical id, the ``/`` of old-style ids turned into ``_``
(``hep-th_9901001.webp``), and written atomically, so the site serves a whole image or none.

PDFium (pypdfium2) renders the page, Pillow encodes it; a page much taller than wide is cut at
:data:`MAX_ASPECT` so that every card's image box has the same shape.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from paperboard.core.config import Settings
from paperboard.core.files import atomic_write
from paperboard.core.ids import is_arxiv_id
from paperboard.sources.arxiv_pdf import PdfError, fetch_pdf
from paperboard.sources.http import PoliteClient
from paperboard.store.papers import PaperStore

WIDTH = 400
"""Pixels across: twice what a card shows, so the image is sharp on high-density screens."""
MAX_ASPECT = 1.5
"""Height over width past which the page is cut (US Letter is 1.29, A4 1.41)."""
SUFFIX = ".webp"
MEDIA_TYPE = "image/webp"
_FIRST_DAY = date(1991, 1, 1)  # arXiv's first
_PAGE = 500


def file_stem(paper_id: str) -> str:
    """The file name of ``paper_id``'s thumbnail, without its suffix."""
    return paper_id.replace("/", "_")


def paper_id_for(stem: str) -> str | None:
    """The paper a thumbnail file stem names, or ``None`` when it names none (a bad or
    hostile name such as ``..`` never maps to a path outside the folder)."""
    paper_id = stem.replace("_", "/", 1)
    return paper_id if is_arxiv_id(paper_id) and file_stem(paper_id) == stem else None


def thumbnail_path(settings: Settings, paper_id: str) -> Path:
    return settings.thumbnail_dir / f"{file_stem(paper_id)}{SUFFIX}"


def has_thumbnail(settings: Settings, paper_id: str) -> bool:
    """True when thumbnails are on and this paper has one."""
    return settings.thumbnails and thumbnail_path(settings, paper_id).is_file()


def render_first_page(pdf: bytes, *, width: int = WIDTH, label: str = "the PDF") -> bytes:
    """The first page of ``pdf`` as WebP, ``width`` pixels across; :class:`PdfError` when PDFium
    cannot read it."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(pdf)
    except pdfium.PdfiumError as error:
        raise PdfError(f"{label} cannot be read as a PDF: {error}") from None
    try:
        if len(document) == 0:
            raise PdfError(f"{label} has no pages")
        page = document[0]
        page_width, page_height = page.get_size()
        if page_width <= 0 or page_height <= 0:
            raise PdfError(f"{label}: its first page has no size")
        cut = max(0.0, page_height - page_width * MAX_ASPECT)  # crop: left, bottom, right, top
        bitmap = page.render(scale=width / page_width, crop=(0, cut, 0, 0))
        image = bitmap.to_pil().convert("RGB")
    finally:
        document.close()
    if image.width != width:  # rounding of the scale: make it exact
        image = image.resize((width, max(1, round(image.height * width / image.width))))
    out = io.BytesIO()
    image.save(out, "WEBP", quality=80, method=4)
    return out.getvalue()


def missing_thumbnails(
    store: PaperStore, settings: Settings, *, since: date | None = None
) -> Iterator[str]:
    """arXiv papers (on the feed since ``since``, else all) without a thumbnail, newest first."""
    offset = 0
    while True:
        rows = store.list_papers(
            since or _FIRST_DAY, date.max, sort="published", limit=_PAGE, offset=offset
        )
        for row in rows:
            paper_id = row["id"]
            if is_arxiv_id(paper_id) and not thumbnail_path(settings, paper_id).exists():
                yield paper_id
        if len(rows) < _PAGE:
            return
        offset += _PAGE


def make_thumbnail(client: PoliteClient, settings: Settings, paper_id: str) -> Path:
    """Fetch ``paper_id``'s PDF, render its first page and store it; returns the file.

    :class:`PdfError` for a problem with this paper, ``SourceError`` when the network fails."""
    pdf = fetch_pdf(client, settings.arxiv_pdf_url, paper_id)
    image = render_first_page(pdf, label=f"{paper_id}: the PDF")
    path = thumbnail_path(settings, paper_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, image)
    return path
