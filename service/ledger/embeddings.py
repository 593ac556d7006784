"""The ledger's paper embeddings: each paper's vector stored once, with its model and text hash.

The pure encoder (service/ranking/semantic.py) turns texts into vectors; this module keeps them in
``paper_embeddings`` so every later process reuses a paper's vector, and embeds again a paper whose
text changed (a revised abstract) or that was embedded by another model. ``embed_papers`` runs
after an ingest commits; ``paper_vectors`` gives a ranking run its candidates' vectors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from service import logs
from service.ranking import semantic
from service.records import Candidate
from service.storage import store
from service.storage.engine import session_scope

log = logs.get_logger(__name__)


def paper_vectors(
    session: Session,
    papers: Sequence[Candidate],
    *,
    encode: Callable[[str], np.ndarray] | None = None,
) -> list[np.ndarray | None]:
    """Stored vectors of ``papers``; those missing (or stale) are embedded now and stored.

    The caller commits. A paper the model fails on gets None and ranks on words alone.
    """
    texts = [semantic.text_of(p) for p in papers]
    hashes = [semantic.text_hash(t) for t in texts]
    stored = store.paper_embeddings(
        session, paper_ids=[p.paper_id for p in papers], model=semantic.MODEL
    )
    result: list[np.ndarray | None] = []
    missing: list[int] = []
    for i, paper in enumerate(papers):
        row = stored.get(paper.paper_id)
        vector = semantic.from_bytes(row[1]) if row is not None and row[0] == hashes[i] else None
        result.append(vector)
        if vector is None:
            missing.append(i)
    if missing:
        fresh = semantic.embed([texts[i] for i in missing], encode=encode)
        rows = []
        for i, vector in zip(missing, fresh, strict=True):
            result[i] = vector
            if vector is not None:
                rows.append((papers[i].paper_id, hashes[i], semantic.to_bytes(vector)))
        store.save_paper_embeddings(session, model=semantic.MODEL, rows=rows)
        log.info(
            "paper_embeddings",
            stored=len(papers) - len(missing),
            embedded=len(rows),
            failed=len(missing) - len(rows),
        )
    return result


def embed_papers(
    factory: sessionmaker[Session], *, paper_ids: Sequence[int], batch: int = 256
) -> int:
    """Embed and store the vectors of ``paper_ids`` that have none, in short transactions.

    Runs after an ingest commits; a failure is logged and never undoes the ingest. Returns how
    many papers have a vector now.
    """
    done = 0
    for start in range(0, len(paper_ids), batch):
        chunk = paper_ids[start : start + batch]
        try:
            with session_scope(factory) as session:
                papers = list(store.papers_by_id(session, ids=chunk).values())
                done += sum(v is not None for v in paper_vectors(session, papers))
        except Exception as exc:
            log.error("embed_papers_failed", papers=len(chunk), error=str(exc))
    return done
