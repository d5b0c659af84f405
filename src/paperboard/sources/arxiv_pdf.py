"""A paper's PDF from arXiv (``https://arxiv.org/pdf/ID``), for its thumbnail.

Fetched through the :class:`PoliteClient` (arXiv's pause between requests, retries, backoff) with
a size cap, and checked to be a PDF at all: arXiv answers some ids (withdrawn papers, papers
without a PDF yet) with an HTML page. A problem with one paper raises :class:`PdfError`, which the
caller may report and go on past; a network that is down raises the client's
:class:`~paperboard.core.errors.SourceError`, which stops the run.
"""

from __future__ import annotations

from paperboard.core.errors import SourceError
from paperboard.sources.http import PoliteClient, TooLargeError

MAX_PDF_BYTES = 50_000_000
"""The largest PDF fetched (arXiv's own submission limit is 50 MB)."""

_PDF_MAGIC = b"%PDF-"
_MAGIC_WITHIN = 1024  # the PDF reference lets the header come after up to 1 KiB of junk


class PdfError(SourceError):
    """This paper's PDF cannot be had (not found, not a PDF, too large); others may be."""


def pdf_url(base_url: str, paper_id: str) -> str:
    """Where the PDF of ``paper_id`` (a canonical arXiv id, old style included) lives."""
    return f"{base_url.rstrip('/')}/{paper_id}"


def fetch_pdf(
    client: PoliteClient, base_url: str, paper_id: str, *, max_bytes: int = MAX_PDF_BYTES
) -> bytes:
    """The bytes of the PDF of ``paper_id``; :class:`PdfError` when there is none to be had."""
    url = pdf_url(base_url, paper_id)
    try:
        response = client.get(url, max_bytes=max_bytes)
    except TooLargeError:
        raise PdfError(
            f"{paper_id}: the PDF is larger than {max_bytes / 1_000_000:.0f} MB, skipped"
        ) from None
    if response.status_code != 200:
        raise PdfError(f"{paper_id}: no PDF at {url} (HTTP {response.status_code})")
    body = response.content
    if _PDF_MAGIC not in body[:_MAGIC_WITHIN]:
        kind = response.headers.get("Content-Type", "unknown type").split(";")[0].strip()
        raise PdfError(f"{paper_id}: {url} answered {kind or 'something'}, not a PDF")
    return body
