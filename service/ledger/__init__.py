"""The paper ledger: parsed listings in, papers and sightings stored once, every run recorded.

``ingest`` diffs parsed listings against the stored history (``diff`` is the pure part) and writes
the new and changed papers; ``source_runs`` fetches the HTTP sources, parses them and ingests each
run in one transaction; ``categories`` fills arXiv categories for Hugging Face papers;
``embeddings`` stores each paper's vector from the pure encoder.

May import: ``service.storage``, ``service.ranking`` (the pure encoder), ``service.sources`` and
the core modules. Nothing here knows about subscribers, digests or mail.
"""
