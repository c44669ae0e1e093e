"""Model output to safe HTML: Markdown (raw HTML off) then an allow-list sanitizer.

Two independent layers, so a bug in one is not an XSS:

1. markdown-it-py in CommonMark mode with ``html=False``: any raw HTML a model writes is
   shown as text, and link/image destinations go through markdown-it's own URL validation
   (``javascript:``, ``vbscript:``, ``file:`` and non-image ``data:`` are refused).
2. nh3 (ammonia) with a small allow-list: formatting tags only, no ``img`` (remote images
   in model output would be tracking beacons and could reveal the model), no attributes
   except ``href``/``title`` on links and ``class`` on code, URL schemes http/https/mailto,
   and every link gets ``rel="nofollow noopener noreferrer"``.

On top of that the page's Content-Security-Policy allows scripts only from the arena's own
``/static`` files, so even markup that slipped through could not run script.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

_TAGS = {
    "p", "br", "hr", "em", "strong", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "sup",
    "sub",
}
_ATTRS = {"a": {"href", "title"}, "code": {"class"}, "ol": {"start"}, "th": {"align"},
          "td": {"align"}}

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_md.enable("table")
_md.enable("strikethrough")


def sanitize_html(html: str) -> str:
    """Clean ``html`` to the allow-list above."""
    return nh3.clean(
        html, tags=_TAGS, attributes=_ATTRS, url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer", strip_comments=True,
    )


@lru_cache(maxsize=8192)
def render_markdown(text: str) -> str:
    """Render model output (Markdown) to sanitized HTML, safe to put in the page as is."""
    return sanitize_html(_md.render(text or ""))
