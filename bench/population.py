"""Generated subscribers with realistic topic mixes, for the benchmarks.

Topic popularity follows a Zipf law over phrases people actually follow on the Daily Papers
pages (a few very popular: "large language models", "diffusion"; a long tail); most readers have
2–4 keyword topics, some add an arXiv category or an author, one in ten excludes something, a few
have no topic at all (they get the day's trending papers). Time zones and hours are spread the
way a global community is. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

KEYWORDS = [
    "large language models", "diffusion models", "reinforcement learning", "reasoning", "agents",
    "multimodal", "video generation", "image generation", "benchmark", "vision language models",
    "retrieval augmented generation", "code generation", "robotics", "3d reconstruction", "speech",
    "mixture of experts", "alignment", "reward models", "chain of thought", "efficient inference",
    "quantization", "long context", "instruction tuning", "scaling laws", "continual learning",
    "graph neural networks", "medical imaging", "segmentation", "world models", "tokenizer",
    "knowledge distillation", "federated learning", "time series", "object detection", "embodied ai",
    "text to speech", "music generation", "gaussian splatting", "protein", "mathematical reasoning",
    "hallucination", "safety", "interpretability", "sparse attention", "state space models",
    "data curation", "synthetic data", "evaluation", "preference optimization", "tool use",
]  # fmt: skip
CATEGORIES = ["cs.CL", "cs.CV", "cs.LG", "cs.AI", "cs.RO", "cs.SD", "stat.ML", "eess.IV"]
EXCLUDES = ["survey", "medical", "robotics", "speech", "benchmark", "protein"]
TIMEZONES = [
    ("America/Los_Angeles", 14), ("America/New_York", 16), ("America/Sao_Paulo", 4),
    ("Europe/London", 8), ("Europe/Berlin", 14), ("Europe/Paris", 6), ("Asia/Kolkata", 8),
    ("Asia/Shanghai", 14), ("Asia/Tokyo", 6), ("Asia/Seoul", 4), ("Australia/Sydney", 3), ("UTC", 3),
]  # fmt: skip
ZIPF = [1 / (rank + 1) ** 0.9 for rank in range(len(KEYWORDS))]


def subscriber_rows(
    count: int, *, seed: int = 7, domain: str = "bench.example.org"
) -> list[dict[str, Any]]:
    """``count`` rows for ``store.add_subscribers_bulk``."""
    return list(iter_subscriber_rows(count, seed=seed, domain=domain))


def iter_subscriber_rows(
    count: int, *, seed: int = 7, domain: str = "bench.example.org"
) -> Iterator[dict[str, Any]]:
    """The same rows, one at a time (a million need not be in memory at once)."""
    rng = random.Random(seed)
    zones, zone_weights = zip(*TIMEZONES, strict=True)
    for i in range(count):
        topics: list[tuple[str, str, float]] = []
        if rng.random() >= 0.05:  # 5% follow only what is trending
            n = rng.choices([1, 2, 3, 4, 5], weights=[15, 30, 30, 15, 10])[0]
            for text in set(rng.choices(KEYWORDS, weights=ZIPF, k=n)):
                topics.append(("keyword", text, rng.choice([1.0, 1.0, 1.0, 1.5, 2.0])))
            if rng.random() < 0.15:
                topics.append(("category", rng.choice(CATEGORIES), 1.0))
            if rng.random() < 0.10:
                topics.append(("exclude", rng.choice(EXCLUDES), 1.0))
        yield (
            {
                "email": f"reader{i:07d}@{domain}",
                "status": "active",
                "timezone": rng.choices(zones, weights=zone_weights)[0],
                "delivery_hour": rng.choice([6, 7, 7, 8, 8, 8, 9]),
                "cadence": "weekly" if rng.random() < 0.1 else "daily",
                "max_papers": rng.choice([5, 10, 10, 10, 15, 20]),
                "topics": topics,
            }
        )
