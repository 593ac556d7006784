"""The manage form's words for the two ranking preferences and the numbers they stand for.

A subscriber picks "how strict should topic matching be" (the relevance floor) and "how many
trending papers to mix in" (the trending share) from a few named levels; ``"default"`` stores
None, so the service default (``PAPERBOY_RELEVANCE_FLOOR``, ``PAPERBOY_TRENDING_SHARE``) applies.
A value set another way (``paperboy subscribers add --floor 0.35``) is kept and shown as the
subscriber's own. The numbers are documented in docs/ranking.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from service.errors import InputError

DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class Level:
    value: str  # what the form sends
    label: str  # what the reader sees
    number: float | None  # what is stored; None follows the service default


@dataclass(frozen=True, slots=True)
class Preference:
    name: str  # how error messages call the field
    levels: tuple[Level, ...]

    def parse(self, text: str) -> float | None:
        """The stored value for the form's ``text``: a level's value or a number from 0 to 1."""
        cleaned = str(text).strip().lower()
        for level in self.levels:
            if cleaned == level.value:
                return level.number
        choices = ", ".join(level.value for level in self.levels)
        try:
            number = float(cleaned)
        except ValueError:
            raise InputError(
                f"{self.name}: {text!r} is not one of {choices} (or a number from 0 to 1)"
            ) from None
        if not math.isfinite(number) or not 0 <= number <= 1:
            raise InputError(
                f"{self.name}: {text!r} must be one of {choices} or a number from 0 to 1"
            )
        return number

    def value_of(self, number: float | None) -> str:
        """The form value showing a stored ``number``: its level's, or the number itself."""
        for level in self.levels:
            if level.number == number:
                return level.value
        return f"{number:g}"

    def options(self, selected: str) -> list[tuple[str, str, bool]]:
        """(value, label, selected) for the form's select; a number off the levels is kept as
        the subscriber's own choice so that saving the page does not change it."""
        rows = [(level.value, level.label, level.value == selected) for level in self.levels]
        if not any(chosen for _, _, chosen in rows):
            try:
                number = self.parse(selected)
            except InputError:
                return rows
            rows.append((selected, f"Your own setting ({number:g})", True))
        return rows


RELEVANCE_FLOOR = Preference(
    "topic matching",
    (
        Level("loose", "Loose", 0.15),
        Level(DEFAULT, "Normal (the service default)", None),
        Level("strict", "Strict", 0.5),
    ),
)

TRENDING_SHARE = Preference(
    "trending papers",
    (
        Level("none", "None (only my topics)", 0.0),
        Level("little", "A little (about 1 in 10)", 0.1),
        Level(DEFAULT, "Some (the service default)", None),
        Level("lot", "A lot (about 2 in 5)", 0.4),
    ),
)
