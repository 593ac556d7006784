"""Measures ranking quality on a labelled set and records it in bench/results.md.

    .venv/bin/python bench/rank_eval.py [--per-topic] [--methods lexical,semantic] [--no-record]

Papers: the three saved Daily Papers pages in tests/data/seeds/ (18, 19 and 20 Aug 2025), parsed
with service/sources/page_text.py; a paper belongs to the first day that lists it (as the ledger
sees it), which leaves 314 distinct papers. The pages carry no upvotes; each paper gets invented
ones (seeded, independent of topics) so that the default trending share has something to pick,
as it has in a real digest. Judgements: bench/rank_eval_labels.json, topics a subscriber would type, each either
word-for-word (the papers' own terms) or paraphrased (plain words), in a tuning or a held-out
split; some carry an exclude topic. Every paper was read for every topic.

Each day in turn is today's candidates, ranked by ``rank`` for a subscriber with that one topic
(and its exclude), a digest of 10 at the default relevance floor, under two settings: the
default trending share and trending share 0. Figures are means over the (topic, day) pairs with
at least one relevant paper that day:

* P@k: relevant papers in the top k divided by min(k, relevant papers that day), so a perfect
  digest scores 1 even on a day with three relevant papers; an empty place counts as a miss.
* nDCG@10 with binary gains, normalised the same way.

A method is a function from a day's candidates to a ``RelevanceIndex`` (see ``METHODS``):
lexical (BM25 alone, ``PAPERBOY_SEMANTIC=off``), semantic (the bundled embedding model alone) and
hybrid (the default install: both blended by service/ranking/hybrid.py). Feedback: the subscriber was shown the
method's digest of each of the other two days and voted on N of those papers (the days' picks
interleaved, best first), up on a relevant paper and down on any other; P@10 with N = 0, 5, 10
and 20 votes (at most 20 papers were shown), default settings.

Prints the tables and replaces the "Ranking quality" section of bench/results.md (unless
--no-record).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import platform
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from results import record_section  # bench/ is on sys.path when a script runs

from service.ledger.diff import title_key
from service.ranking.feedback import Votes
from service.ranking.index import RelevanceIndex, TopicMatch
from service.ranking.rank import rank
from service.records import Candidate, Topic
from service.settings import Settings
from service.sources.page_text import parse_page_text

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "tests" / "data" / "seeds"
LABELS = Path(__file__).with_name("rank_eval_labels.json")
SECTION = "## Ranking quality (`bench/rank_eval.py`)"
# The pages do not say their year (002 says "Aug 20", the others nothing): the days are given,
# as in scripts/build_sample.py.
PAGE_DAYS = {"000": dt.date(2025, 8, 18), "001": dt.date(2025, 8, 19), "002": dt.date(2025, 8, 20)}
DIGEST = 10
VOTES = (0, 5, 10, 20)
PHRASINGS = ("word-for-word", "paraphrased")
SPLITS = ("tuning", "held-out")


@dataclass(frozen=True, slots=True)
class Day:
    """One listing day: its candidates and the moment its digest is ranked."""

    date: dt.date
    papers: list[Candidate]
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class Judged:
    """One labelled topic."""

    name: str
    text: str
    exclude: str | None
    phrasing: str
    split: str
    relevant: frozenset[str]

    def topics(self) -> list[Topic]:
        extra = [Topic("exclude", self.exclude)] if self.exclude else []
        return [Topic("keyword", self.text), *extra]


@dataclass(frozen=True, slots=True)
class Score:
    """Figures of one digest."""

    p5: float
    p10: float
    ndcg10: float


# --- methods: a day's candidates → the index ``rank`` ranks them with -----------------------------


def lexical(day: Day) -> RelevanceIndex:
    return RelevanceIndex(day.papers, now=day.now)


class _MeaningOnly(RelevanceIndex):
    """The index with the words' relevance taken out: keyword topics match by embeddings alone."""

    def match(self, text: str) -> TopicMatch:
        found = super().match(text)
        return TopicMatch(np.zeros_like(found.relevance), found.terms)


def semantic(day: Day) -> RelevanceIndex:
    from service.ranking.semantic import EmbeddingScorer

    return _MeaningOnly(day.papers, now=day.now, semantic=EmbeddingScorer.for_texts(day.papers))


def hybrid(day: Day) -> RelevanceIndex:
    """The default install: words and embeddings blended (service/ranking/hybrid.py)."""
    from service.ranking.semantic import EmbeddingScorer

    return RelevanceIndex(day.papers, now=day.now, semantic=EmbeddingScorer.for_texts(day.papers))


def available_methods() -> dict[str, Callable[[Day], RelevanceIndex]]:
    """Every method, by name."""
    return {"lexical": lexical, "semantic": semantic, "hybrid": hybrid}


# --- data ------------------------------------------------------------------------------------------


def load_days(seeds: Path = SEEDS, *, seed: int = 7) -> list[Day]:
    """The seed pages' papers by listing day; a paper listed again later stays on its first day.

    The saved pages carry no upvotes, so each paper gets invented ones (seeded, heavy-tailed,
    independent of any topic, as service/digest/samples.py draws them): without a community signal the
    default trending share would have nothing to pick and equal trending share 0.
    """
    rng = random.Random(seed)
    days: list[Day] = []
    seen: set[str] = set()
    next_id = itertools.count(1)
    for prefix, date in PAGE_DAYS.items():
        pages = sorted(seeds.glob(f"{prefix}_*.txt"))
        if len(pages) != 1:
            raise SystemExit(f"{seeds}: expected one {prefix}_*.txt page, found {len(pages)}")
        parsed = parse_page_text(pages[0].read_bytes(), source=pages[0].name)
        if parsed.rejected:
            raise SystemExit(f"{pages[0]}: rejected entries: {parsed.rejected}")
        first_seen = dt.datetime.combine(date, dt.time(6), tzinfo=dt.UTC)
        papers = []
        for listing in parsed.listings:
            key = title_key(listing.title)
            if key in seen:
                continue
            seen.add(key)
            upvotes = min(
                int(rng.paretovariate(1.1) * 3), 950
            )  # as service/digest/samples.py invents them
            papers.append(
                Candidate(
                    paper_id=next(next_id),
                    key=key,
                    title=listing.title,
                    abstract=listing.abstract,
                    first_seen=first_seen,
                    upvotes=listing.upvotes if listing.upvotes is not None else upvotes,
                )
            )
        days.append(Day(date, papers, first_seen + dt.timedelta(hours=1)))
    return days


def load_labels(path: Path = LABELS) -> list[Judged]:
    topics = json.loads(path.read_text(encoding="utf-8"))["topics"]
    judged = []
    for name, entry in topics.items():
        if entry["phrasing"] not in PHRASINGS or entry["split"] not in SPLITS:
            raise SystemExit(f"{name}: phrasing must be one of {PHRASINGS}, split one of {SPLITS}")
        judged.append(
            Judged(
                name=name,
                text=entry.get("text", name),
                exclude=entry.get("exclude"),
                phrasing=entry["phrasing"],
                split=entry["split"],
                relevant=frozenset(entry["relevant"]),
            )
        )
    return judged


# --- metrics ---------------------------------------------------------------------------------------


def precision(ranked: Sequence[str], relevant: set[str] | frozenset[str], k: int) -> float:
    """Relevant papers in the top k over min(k, relevant papers): 1 for a perfect digest."""
    best = min(k, len(relevant))
    return sum(1 for key in ranked[:k] if key in relevant) / best if best else 0.0


def ndcg(ranked: Sequence[str], relevant: set[str] | frozenset[str], k: int) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, key in enumerate(ranked[:k]) if key in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def score(ranked: Sequence[str], relevant: frozenset[str]) -> Score:
    return Score(
        precision(ranked, relevant, 5), precision(ranked, relevant, 10), ndcg(ranked, relevant, 10)
    )


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


# --- the evaluation --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One method's figures for one (topic, day) pair."""

    method: str
    topic: Judged
    date: dt.date
    default: Score  # default settings
    no_trending: Score  # trending share 0
    with_votes: dict[int, float]  # P@10 after N simulated votes, default settings
    votes_cast: dict[int, int]


def evaluate(
    method: str,
    build: Callable[[Day], RelevanceIndex],
    days: list[Day],
    labels: list[Judged],
    settings: Settings,
) -> list[Row]:
    indexes = {day.date: build(day) for day in days}

    def digest(
        day: Day, judged: Judged, share: float, votes: Votes | None = None
    ) -> list[Candidate]:
        picks = rank(
            indexes[day.date],
            topics=judged.topics(),
            max_papers=DIGEST,
            floor=settings.relevance_floor,
            trending_share=share,
            votes=votes,
        )
        return [s.paper for s in picks]

    rows = []
    for judged in labels:
        shown = {day.date: digest(day, judged, settings.trending_share) for day in days}
        for day in days:
            relevant = judged.relevant & {p.key for p in day.papers}
            if not relevant:
                continue
            # What the reader saw on the other days, interleaved best first.
            others = [shown[d.date] for d in days if d.date != day.date]
            seen = [p for group in itertools.zip_longest(*others) for p in group if p is not None]
            with_votes, cast = {}, {}
            for n in VOTES:
                voted = seen[:n]
                votes = Votes(
                    tuple(p for p in voted if p.key in judged.relevant),
                    tuple(p for p in voted if p.key not in judged.relevant),
                )
                ranked = [
                    p.key
                    for p in digest(day, judged, settings.trending_share, votes if n else None)
                ]
                with_votes[n], cast[n] = precision(ranked, relevant, 10), len(voted)
            rows.append(
                Row(
                    method=method,
                    topic=judged,
                    date=day.date,
                    default=score([p.key for p in shown[day.date]], relevant),
                    no_trending=score([p.key for p in digest(day, judged, 0.0)], relevant),
                    with_votes=with_votes,
                    votes_cast=cast,
                )
            )
    return rows


# --- reporting -------------------------------------------------------------------------------------

GROUPS: list[tuple[str, Callable[[Row], bool]]] = [
    (
        f"{split}, {phrasing}",
        lambda r, s=split, p=phrasing: r.topic.split == s and r.topic.phrasing == p,
    )
    for split in SPLITS
    for phrasing in PHRASINGS
] + [(f"all, {phrasing}", lambda r, p=phrasing: r.topic.phrasing == p) for phrasing in PHRASINGS]


def quality_table(rows: list[Row], methods: Sequence[str]) -> list[str]:
    lines = [
        "| method | topics | pairs | P@5 | P@10 | nDCG@10 | P@5, share 0 | P@10, share 0 | nDCG@10, share 0 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for method in methods:
        for label, keep in GROUPS:
            mine = [r for r in rows if r.method == method and keep(r)]
            if not mine:
                continue
            figures = [
                mean([getattr(getattr(r, setting), field) for r in mine])
                for setting in ("default", "no_trending")
                for field in ("p5", "p10", "ndcg10")
            ]
            lines.append(
                f"| {method} | {label} | {len(mine)} | "
                + " | ".join(f"{v:.3f}" for v in figures)
                + " |"
            )
    return lines


def votes_table(rows: list[Row], methods: Sequence[str]) -> list[str]:
    lines = [
        "| method | topics | " + " | ".join(f"P@10, {n} votes" for n in VOTES) + " |",
        "|---|---|" + "---:|" * len(VOTES),
    ]
    for method in methods:
        for label, keep in GROUPS:
            mine = [r for r in rows if r.method == method and keep(r)]
            if not mine:
                continue
            cells = []
            for n in VOTES:
                cast = mean([r.votes_cast[n] for r in mine])
                figure = f"{mean([r.with_votes[n] for r in mine]):.3f}"
                cells.append(figure if cast == n else f"{figure} ({cast:.1f} cast)")
            lines.append(f"| {method} | {label} | " + " | ".join(cells) + " |")
    return lines


def per_topic_table(rows: list[Row], methods: Sequence[str], labels: list[Judged]) -> list[str]:
    lines = [
        "| topic | phrasing | split | days | "
        + " | ".join(
            f"{m} P@10 | {m} P@10 share 0 | {m} nDCG@10 | {m} P@10 20 votes" for m in methods
        )
        + " |",
        "|---|---|---|---:|" + "---:|" * (4 * len(methods)),
    ]
    for judged in labels:
        cells = []
        pairs = 0
        for method in methods:
            mine = [r for r in rows if r.method == method and r.topic is judged]
            pairs = len(mine)
            cells += [
                f"{mean([r.default.p10 for r in mine]):.2f}",
                f"{mean([r.no_trending.p10 for r in mine]):.2f}",
                f"{mean([r.default.ndcg10 for r in mine]):.2f}",
                f"{mean([r.with_votes[VOTES[-1]] for r in mine]):.2f}",
            ]
        name = (
            judged.name
            if judged.name == judged.text
            else f"{judged.text} (exclude: {judged.exclude})"
        )
        lines.append(
            f"| {name} | {judged.phrasing} | {judged.split} | {pairs} | " + " | ".join(cells) + " |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-topic", action="store_true", help="Also print each topic's figures.")
    parser.add_argument(
        "--methods", help="Comma-separated methods to run (default: every available one)."
    )
    parser.add_argument("--no-record", action="store_true", help="Do not write bench/results.md.")
    args = parser.parse_args()

    settings = Settings()
    days = load_days()
    labels = load_labels()
    known = {p.key for day in days for p in day.papers}
    for judged in labels:
        missing = judged.relevant - known
        assert not missing, (
            f"{judged.name}: labelled papers not on the seed pages: {sorted(missing)[:3]}"
        )

    methods = available_methods()
    if args.methods:
        wanted = args.methods.split(",")
        unknown = [m for m in wanted if m not in methods]
        if unknown:
            raise SystemExit(
                f"not available here: {', '.join(unknown)} (available: {', '.join(methods)})"
            )
        methods = {m: methods[m] for m in wanted}
    rows = [
        row
        for name, build in methods.items()
        for row in evaluate(name, build, days, labels, settings)
    ]

    count = {
        (s, p): sum(1 for j in labels if j.split == s and j.phrasing == p)
        for s in SPLITS
        for p in PHRASINGS
    }
    header = [
        f"{dt.date.today().isoformat()}, Python {platform.python_version()}. {len(labels)} labelled topics "
        f"(tuning: {count['tuning', 'word-for-word']} word-for-word + {count['tuning', 'paraphrased']} paraphrased; "
        f"held-out: {count['held-out', 'word-for-word']} + {count['held-out', 'paraphrased']}) over the "
        f"{len(known)} papers of the three seed pages ({', '.join(str(len(d.papers)) for d in days)} per day); "
        f"each day in turn is the candidates, a digest of {DIGEST} at relevance floor {settings.relevance_floor}. "
        f"Means over (topic, day) pairs with a relevant paper that day. P@k = relevant papers in the top k / "
        f"min(k, relevant papers that day). Default settings: trending share {settings.trending_share}, "
        "over upvotes invented for the papers (the saved pages have none; seeded, independent of topics).",
    ]
    skipped: list[str] = []
    lines = [
        *header,
        "",
        *quality_table(rows, list(methods)),
        "",
        "P@10 after simulated votes on the other two days' digests (up on relevant, down on the rest), "
        "default settings:",
        "",
        *votes_table(rows, list(methods)),
    ]
    if skipped:
        lines += ["", *skipped]
    print("\n".join(lines))
    if args.per_topic:
        print()
        print("\n".join(per_topic_table(rows, list(methods), labels)))
    if not args.no_record:
        record_section(SECTION, [*lines, "", *per_topic_table(rows, list(methods), labels)])


if __name__ == "__main__":
    main()
