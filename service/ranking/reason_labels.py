"""Reading back the words a stored reason label names.

The ranker writes a keyword match as 'matches "<topic>"' or 'partly matches "<topic>" (word,
word)' (``rank.py``), and a delivery stores only that label. Whatever later needs the matched
words of a sent digest (the excerpt's highlights, the "not interested" phrase that must not be a
word the reader asked for) reads them back here. Meaning matches ('close in meaning to …'),
categories, authors and trending name no words. Pure.
"""

from __future__ import annotations

import re

_WORD_REASON = re.compile(r'^(?:partly )?matches "(?P<topic>[^"]+)"(?: \((?P<words>[^)]*)\))?$')


def label_words(label: str) -> tuple[str, tuple[str, ...]] | None:
    """(the topic, the words listed after it, or () when none are) of a keyword-match label,
    or None for a label that names no words."""
    found = _WORD_REASON.match(label)
    if found is None:
        return None
    listed = found.group("words")
    return found.group("topic"), tuple(listed.split(",")) if listed else ()
