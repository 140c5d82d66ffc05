"""The offline FAQ cache: SQLite FTS5 store, bilingual search, importers and HTTP sync.

Public API: `FaqStore` (agentdesk.faq.store), `load_jsonl` / `import_file` (agentdesk.faq.importers),
`sync` / `export_jsonl` (agentdesk.faq.sync), `detect_lang`, and the result types in agentdesk.faq.model.
"""

from __future__ import annotations

from agentdesk.faq.model import FaqEntry, FaqHit, Lang, SearchResult, Snippet
from agentdesk.faq.text import detect_lang

__all__ = ["FaqEntry", "FaqHit", "Lang", "SearchResult", "Snippet", "detect_lang"]
