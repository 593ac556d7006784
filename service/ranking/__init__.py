"""Ranking, pure: candidate papers × one reader's preferences → a short, explained list.

``rank`` (the index and the scoring), ``feedback`` (votes), ``trend`` (community signal),
``semantic`` (the bundled MiniLM encoder and its scorer), ``hybrid`` (the lexical/semantic blend),
``diversity`` (MMR) and ``reader_model`` (a per-reader classifier). Every function takes plain
records and returns plain records: no database, no network, no clock.

May import: the core modules only (``service.records``, ``service.errors``, ``service.resources``).
"""
