"""The ``paperboy ingest`` command: fetch or read listings into the ledger, backfill, fill categories."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from service.cli.common import ProgressBar, emit, fail, parse_date, runtime_from
from service.errors import PaperboyError, SourceError


@click.command()
@click.option(
    "--file",
    "files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Listing file(s) to ingest; with --source hf_daily|arxiv, saved responses of that source.",
)
@click.option("--sample", is_flag=True, help="Ingest the bundled sample listings.")
@click.option("--if-empty", is_flag=True, help="Only when the database holds no paper yet.")
@click.option(
    "--source",
    "source_name",
    default=None,
    help="Run only source NAME (files, hf_daily, arxiv; default: all enabled).",
)
@click.option(
    "--since",
    "since_text",
    default=None,
    help="Backfill hf_daily or arxiv from this day YYYY-MM-DD.",
)
@click.option(
    "--until",
    "until_text",
    default=None,
    help="Last day of a backfill YYYY-MM-DD (default: today).",
)
@click.option(
    "--id",
    "arxiv_ids",
    multiple=True,
    help="Look these arXiv ids up in the export API (with --source arxiv).",
)
@click.option(
    "--fill-categories",
    is_flag=True,
    help="Look up the arXiv categories of stored papers that have none, e.g. from Hugging Face (with --source arxiv).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.pass_context
def ingest(
    ctx: click.Context, files: tuple[Path, ...], sample: bool, if_empty: bool, source_name: str | None,
    since_text: str | None, until_text: str | None, arxiv_ids: tuple[str, ...], as_json: bool,
    fill_categories: bool = False,
) -> None:  # fmt: skip
    """Fetch or read listings and merge them into the paper ledger."""
    from service.ledger import source_runs
    from service.ledger.ingest import ingest_file, utcnow
    from service.records import IngestReport
    from service.resources import sample_listings_path
    from service.settings import KNOWN_SOURCES
    from service.sources.arxiv_ids import parse_arxiv_id
    from service.storage import store
    from service.storage.engine import session_scope

    runtime = runtime_from(ctx)
    settings = runtime.settings
    if source_name is not None and source_name not in KNOWN_SOURCES:
        fail(f"unknown source {source_name!r}; known: {', '.join(KNOWN_SOURCES)}", 2)
    remote = source_name in source_runs.REMOTE_SOURCES
    if (since_text or until_text) and not remote:
        fail("--since/--until backfill needs --source hf_daily or --source arxiv", 2)
    if arxiv_ids and source_name != "arxiv":
        fail("--id needs --source arxiv", 2)
    if fill_categories:
        if source_name != "arxiv" or arxiv_ids or files or sample or since_text or until_text:
            fail("--fill-categories goes with --source arxiv alone", 2)
        _fill_categories(runtime, as_json)
        return
    if if_empty:
        with session_scope(runtime.factory) as session:
            if store.count_papers(session):
                emit(
                    {"skipped": "database not empty"},
                    as_json,
                    "database already has papers; nothing ingested",
                )
                return
    reports = []
    embed = runtime.settings.semantic != "off"
    try:
        if sample:
            reports.append(
                ingest_file(
                    runtime.factory, path=sample_listings_path(), source="sample", embed=embed
                )
            )
        for path in files:
            if remote:
                reports.append(
                    source_runs.replay_file(runtime.factory, source=source_name, path=path)
                )
            else:
                reports.append(ingest_file(runtime.factory, path=path, source="file", embed=embed))
    except SourceError as exc:
        fail(str(exc), 2)
    if not sample and not files:
        with source_runs.make_fetcher(settings) as fetcher:
            if since_text or until_text:
                since = parse_date(since_text) or utcnow().date()
                until = parse_date(until_text) or utcnow().date()
                if since > until:
                    fail(f"--since {since} is after --until {until}", 2)
                bar = ProgressBar(
                    f"backfill {source_name} {since}..{until}",
                    enabled=not as_json and sys.stderr.isatty(),
                )
                backfill = (
                    source_runs.backfill_hf
                    if source_name == "hf_daily"
                    else source_runs.backfill_arxiv
                )
                try:
                    reports.extend(
                        backfill(
                            runtime.factory,
                            settings=settings,
                            fetcher=fetcher,
                            since=since,
                            until=until,
                            progress=bar,
                        )
                    )
                finally:
                    bar.close()
            elif arxiv_ids:
                ids = []
                for text in arxiv_ids:
                    parsed_id = parse_arxiv_id(text)
                    if parsed_id is None:
                        fail(f"--id {text!r} is not an arXiv id", 2)
                    ids.append(parsed_id[0])
                try:
                    reports.append(
                        source_runs.lookup_arxiv(
                            runtime.factory, settings=settings, fetcher=fetcher, ids=ids
                        )
                    )
                except PaperboyError as exc:
                    reports.append(IngestReport(source="arxiv", errors=[str(exc)], status="failed"))
            else:
                names = [source_name] if source_name else settings.enabled_sources
                reports.extend(
                    source_runs.ingest_sources(
                        runtime.factory, settings=settings, names=names, fetcher=fetcher
                    )
                )
    summaries = [r.as_dict() | ({"errors": r.errors} if r.errors else {}) for r in reports]
    human = (
        "\n".join(
            f"{r.source}: fetched {r.fetched}, new {r.new}, updated {r.updated}, unchanged {r.unchanged}, rejected {r.rejected}"
            + (f", skipped {r.skipped}" if r.skipped else "")
            + (f" ({r.status.replace('_', ' ')})" if r.status != "ok" else "")
            + (f" — {'; '.join(r.errors)}" if r.errors else "")
            for r in reports
        )
        or "nothing to ingest"
    )
    emit(summaries[0] if len(summaries) == 1 else summaries, as_json, human)
    if any(r.errors for r in reports):
        sys.exit(1)


def _fill_categories(runtime: Any, as_json: bool) -> None:
    """`paperboy ingest --source arxiv --fill-categories`: every stored paper without categories."""
    from service.ledger import categories, source_runs

    bar = ProgressBar("arxiv categories", enabled=not as_json and sys.stderr.isatty())
    try:
        with source_runs.make_fetcher(runtime.settings) as fetcher:
            report = categories.fill_categories(
                runtime.factory, settings=runtime.settings, fetcher=fetcher, progress=bar
            )
    finally:
        bar.close()
    human = (
        f"arxiv categories: asked {report.asked}, filled {report.filled}, not found {report.not_found}"
        + (f" — {'; '.join(report.errors)}" if report.errors else "")
    )
    emit(report.as_dict() | ({"errors": report.errors} if report.errors else {}), as_json, human)
    if report.errors:
        sys.exit(1)
