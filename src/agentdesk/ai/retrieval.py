"""Which FAQ hits a draft gets: the engine takes hits as input; this helper gathers them from a search.

`search` is any callable with the shape of `FaqStore.search` (the console passes its store's method, tests
a real store). The whole conversation is searched, then each text message on its own (a second question
in a later turn), and the hits are merged by id keeping the best score.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from agentdesk.ai.redact import PLACEHOLDER, redact
from agentdesk.ai.text import clean, customer_text, drop_noise, message_text, truncate
from agentdesk.ai.types import Conversation
from agentdesk.faq.model import FaqHit, Lang, SearchResult

SearchFn = Callable[..., SearchResult]
#: weight of a single message's hits against the whole conversation's (tuned on the dev conversations)
MESSAGE_WEIGHT = 0.7
#: Rich/BBCode-style tags, HTML tags and Markdown images/links: noise for a search
_MARKUP = re.compile(r"\[/?[a-zA-Z@#][^\[\]]{0,60}\]|\[/\]|<[^<>]{1,80}>|!?\[[^\]]*\]\([^)]*\)|https?://\S+")


def search_queries(conversation: Conversation) -> list[str]:
    """The queries to run: all customer text, then each message; PII and pasted noise removed."""
    whole = _query(customer_text(conversation).replace("\n", " "))
    queries = [whole] if whole else []
    for m in conversation.customer_messages():
        q = _query(truncate(clean(message_text(m))))
        if q and q not in queries:
            queries.append(q)
    return queries


def _query(text: str) -> str:
    out = PLACEHOLDER.sub(" ", redact(text).text)
    out = _MARKUP.sub(" ", out)
    out = drop_noise(out.replace("…[truncated]", " "))  # pasted noise; Chinese sentences (no spaces) stay
    return " ".join(out.split())[:300].strip()


def gather_hits(
    search: SearchFn,
    conversation: Conversation,
    *,
    lang: Lang | None = None,
    limit: int = 5,
    message_weight: float = MESSAGE_WEIGHT,
) -> list[FaqHit]:
    """Hits for the whole conversation, plus each message's own hits with their score scaled by
    `message_weight` (a short message on its own matches more loosely), merged by id (best score)."""
    best: dict[str, FaqHit] = {}
    for n, query in enumerate(search_queries(conversation)):
        result = search(query, limit=limit, lang=lang)
        for hit in result.hits:
            if n > 0:
                hit = dataclasses.replace(hit, score=hit.score * message_weight)
            prev = best.get(hit.id)
            if prev is None or hit.score > prev.score:
                best[hit.id] = hit
    return sorted(best.values(), key=lambda h: (-h.score, h.id))[:limit]
