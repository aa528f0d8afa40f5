"""User-written Markdown to safe HTML.

Text is stored as typed; what is shown goes through nh3 (Ammonia), which keeps
ordinary formatting and links but drops scripts, event handlers and
`javascript:` URLs.
"""

import markdown
import nh3

_EXTENSIONS = ["fenced_code", "tables", "sane_lists"]
# Images are left out: an <img> would make every reader's browser (and the PDF
# renderer) fetch whatever address the author typed.
_TAGS = nh3.ALLOWED_TAGS - {"img"}


def render_markdown(text):
    html = markdown.markdown(text or "", extensions=_EXTENSIONS, output_format="html")
    return nh3.clean(html, tags=_TAGS, link_rel="noopener noreferrer nofollow")
