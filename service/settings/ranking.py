"""Settings of ranking: which papers a digest holds, for subscribers who chose nothing else."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class RankingSettings(BaseModel):
    """Digest size, the relevance floor, the trending share, semantic matching, look-back."""

    default_max_papers: int = Field(
        10, ge=1, le=100, description="Papers per digest for subscribers added without a maximum."
    )
    relevance_floor: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Minimum relevance (0–1; about 0.76 when a paper uses every word of the topic once) for a topic to count a paper as a match.",
    )
    trending_share: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Share (0–1) of a digest given to the day's trending papers and weight of community signal in the score, for subscribers who did not choose their own; 0 ranks on topics alone.",
    )
    semantic: Literal["on", "auto", "off"] = Field(
        "on",
        description="Embedding similarity for keyword topics with the bundled all-MiniLM-L6-v2 model (no extra install): `on` (`auto` means the same) blends it with the lexical match, `off` ranks lexically and ingest embeds nothing.",
    )
    candidate_days: int = Field(
        7, ge=1, le=60, description="How far back a first digest looks for papers."
    )
