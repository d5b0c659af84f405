"""Links in plain text: the addresses in an abstract made clickable, everything else escaped.

linkify-it-py (the recognizer markdown-it uses) finds the addresses, so balanced parentheses stay
in a link and the punctuation that ends a sentence stays out. Only http and https addresses
become links, and bare ones (no scheme) only on the code hosts below: "e.g." or "Fig.3" never
turn into links, nor do ``javascript:`` or ``mailto:`` ones.
"""

from __future__ import annotations

from linkify_it import LinkifyIt
from markupsafe import Markup, escape

BARE_HOSTS = ("github.com/", "gitlab.com/", "huggingface.co/")
_finder = LinkifyIt()


def linkify(text: str | None) -> Markup:
    """``text`` escaped as HTML, with its http(s) addresses (and bare ``github.com/...`` ones) as
    ``<a rel="nofollow noopener">`` links."""
    text = text or ""
    matches = _finder.match(text) if _finder.test(text) else None
    out: list[str] = []
    done = 0
    for found in matches or []:
        raw = found.raw
        if found.schema in ("http:", "https:"):
            href = found.url
        elif found.schema == "" and raw.lower().startswith(BARE_HOSTS):
            href = f"https://{raw}"
        else:
            continue
        out.append(escape(text[done : found.index]))
        out.append(
            Markup('<a href="{}" rel="nofollow noopener">{}</a>').format(href, raw)
        )  # format escapes both, quotes included
        done = found.last_index
    out.append(escape(text[done:]))
    return Markup("").join(out)
