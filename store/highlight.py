"""Highlighted snippets computed in Python so every backend returns identical, safe HTML.

The text is HTML-escaped first; only ``<em>`` tags are added, so a post containing markup or
script can be shown with innerHTML without executing anything.
"""

from __future__ import annotations

import html
import re

SNIPPET_CHARS = 160


def highlight(text: str, tokens: list[str], width: int = SNIPPET_CHARS) -> str | None:
    if not text or not tokens:
        return None
    pattern = re.compile(
        "|".join(re.escape(t) for t in sorted(set(tokens), key=len, reverse=True)), re.I
    )
    matches = list(pattern.finditer(text))
    if not matches:
        return None
    # centre the window on the densest stretch: start a little before the first match
    first = matches[0].start()
    start = max(0, first - width // 4)
    end = min(len(text), start + width)
    out: list[str] = ["…" if start > 0 else ""]
    pos = start
    for m in matches:
        if m.start() < pos:
            continue
        if m.end() > end:
            break
        out.append(html.escape(text[pos : m.start()]))
        out.append(f"<em>{html.escape(m.group(0))}</em>")
        pos = m.end()
    out.append(html.escape(text[pos:end]))
    if end < len(text):
        out.append("…")
    return "".join(out)
