"""Chooses the lexical/embedding blend (service/ranking/hybrid.py) on the tuning half of the labelled set.

    .venv/bin/python bench/tune_blend.py [--split tuning|held-out]

For every combination of the blend's constants in the grid below, each tuning topic is ranked on
each seed day as bench/rank_eval.py does (digest of 10, default floor, default trending share and
trending share 0) and scored by P@10 (capped by the day's relevant papers). The objective is the
mean of the word-for-word and the paraphrased figures, so neither kind of topic is sacrificed.
Prints the ten best combinations and the current one. Only the tuning half is used for choosing;
run with --split held-out to see, once, how the choice does on the other half.
"""

from __future__ import annotations

import argparse
import itertools
import statistics

from rank_eval import DIGEST, PHRASINGS, load_days, load_labels, precision

from service.ranking import hybrid
from service.ranking.index import RelevanceIndex
from service.ranking.rank import rank
from service.ranking.semantic import EmbeddingScorer
from service.settings import Settings

GRID = {
    "ABS_LOW": [0.1, 0.15, 0.2, 0.25],
    "ABS_HIGH": [0.45, 0.55],
    "Z_LOW": [0.0, 0.5, 1.0, 1.5],
    "Z_HIGH": [2.0, 2.5, 3.0, 4.0],
    "SEMANTIC_WEIGHT": [1.0, 1.5],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="tuning", choices=("tuning", "held-out"))
    args = parser.parse_args()
    settings = Settings()
    days = load_days()
    labels = [j for j in load_labels() if j.split == args.split]
    scorers = {day.date: EmbeddingScorer.for_texts(day.papers) for day in days}

    def evaluate() -> dict[str, float]:
        figures: dict[str, list[float]] = {p: [] for p in PHRASINGS}
        for day in days:
            index = RelevanceIndex(day.papers, now=day.now, semantic=scorers[day.date])
            for judged in labels:
                relevant = judged.relevant & {p.key for p in day.papers}
                if not relevant:
                    continue
                for share in (settings.trending_share, 0.0):
                    picks = rank(index, topics=judged.topics(), max_papers=DIGEST,
                                 floor=settings.relevance_floor, trending_share=share)  # fmt: skip
                    figures[judged.phrasing].append(
                        precision([s.paper.key for s in picks], relevant, 10)
                    )
        result = {p: statistics.fmean(v) for p, v in figures.items()}
        result["objective"] = statistics.fmean(result[p] for p in PHRASINGS)
        return result

    current = {name: getattr(hybrid, name) for name in GRID}
    baseline = evaluate()
    results = []
    for values in itertools.product(*GRID.values()):
        config = dict(zip(GRID, values, strict=True))
        if config["ABS_LOW"] >= config["ABS_HIGH"] or config["Z_LOW"] >= config["Z_HIGH"]:
            continue
        for name, value in config.items():
            setattr(hybrid, name, value)
        results.append((evaluate(), config))
    for name, value in current.items():
        setattr(hybrid, name, value)
    results.sort(key=lambda r: -r[0]["objective"])

    def line(figures: dict[str, float], config: dict[str, float]) -> str:
        shown = "  ".join(f"{p} {figures[p]:.3f}" for p in PHRASINGS)
        return f"objective {figures['objective']:.3f}  {shown}  {config}"

    print(f"{args.split} half, {len(labels)} topics, {len(results)} combinations; P@10 at share "
          f"{settings.trending_share} and 0, floor {settings.relevance_floor}")  # fmt: skip
    for figures, config in results[:10]:
        print(line(figures, config))
    print("current:", line(baseline, current))


if __name__ == "__main__":
    main()
