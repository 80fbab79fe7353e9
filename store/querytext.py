"""Parse the user's search text into a backend-neutral boolean form.

Syntax (deliberately small, nothing a user can break): words are ANDed; ``A OR B``;
``-word`` excludes; ``"a phrase"`` keeps words together. Every word goes through the shared
segmenter, so hostile input (quotes, FTS operators, SQL, emoji) becomes plain tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nlp.segment import query_tokens
from store.base import QueryError

_TERM = re.compile(r'(-?)"([^"]*)"|(\S+)')
_WORD_RUN = re.compile(r"[^\W_]{2,12}")


@dataclass
class Term:
    tokens: list[str]
    negated: bool = False
    whole: str | None = None  # the term as one token, when segmentation split it

    @property
    def alternatives(self) -> list[list[str]]:
        """Ways the term can appear in the index: its precise tokens, or the whole word.

        jieba segments by context (HMM), so 步道 alone is cut 步/道 while 新修的步道 keeps 步道
        whole; matching either form finds both posts.
        """
        alts = [self.tokens]
        if self.whole and [self.whole] != self.tokens:
            alts.append([self.whole])
        return alts


@dataclass
class ParsedQuery:
    # AND over groups; each group is an OR over terms; each term ANDs its tokens.
    groups: list[list[Term]] = field(default_factory=list)
    excluded: list[Term] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.groups

    def all_tokens(self) -> list[str]:
        seen: dict[str, None] = {}
        for group in self.groups:
            for term in group:
                for alt in term.alternatives:
                    for tok in alt:
                        seen.setdefault(tok, None)
        return list(seen)


def parse_query(text: str, max_chars: int = 500) -> ParsedQuery:
    if len(text) > max_chars:
        raise QueryError(f"query is too long ({len(text)} characters; at most {max_chars})")
    parsed = ParsedQuery()
    pending_or = False
    for m in _TERM.finditer(text):
        neg_q, quoted, bare = m.group(1), m.group(2), m.group(3)
        if bare is not None and bare == "OR":
            pending_or = bool(parsed.groups)
            continue
        negated = bool(neg_q)
        raw = quoted if quoted is not None else bare
        if quoted is None and raw.startswith("-") and len(raw) > 1:
            negated, raw = True, raw[1:]
        tokens = query_tokens(raw)
        if not tokens:
            continue  # punctuation, emoji, stray operators: nothing to search for
        plain = raw.strip().lower()
        whole = plain if len(tokens) > 1 and _WORD_RUN.fullmatch(plain) else None
        term = Term(tokens=tokens, negated=negated, whole=whole)
        if negated:
            parsed.excluded.append(term)
        elif pending_or:
            parsed.groups[-1].append(term)
        else:
            parsed.groups.append([term])
        pending_or = False
    if parsed.excluded and not parsed.groups:
        raise QueryError("the query only excludes words; add at least one word to search for")
    return parsed
