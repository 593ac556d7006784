"""Ranking, pure: candidate papers × one reader's preferences → a short, explained list.

``index`` (the run's relevance index: BM25, topic evidence, tf-idf similarity), ``rank`` (the
scoring, the slots and the reasons), ``authors`` (name matching), ``feedback`` (votes), ``trend``
(community signal), ``semantic`` (the bundled MiniLM encoder and its scorer; the ledger stores the
vectors), ``hybrid`` (the lexical/semantic blend), ``diversity`` (MMR) and ``reader_model`` (a
per-reader classifier). Imports run one way: rank → feedback → index. Every function takes plain
records and returns plain records: no database, no network, no clock.

May import: the core modules only (``service.records``, ``service.errors``, ``service.resources``).
"""
