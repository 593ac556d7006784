"""Paths to files shipped with Paperboy: the packaged copy if present, else the repository's.

A built wheel carries templates/, alembic/ and alembic.ini inside the `service` package (see
the hatch force-include in pyproject.toml); an editable install or a checkout does not, so
each lookup falls back to the repository root.
"""

from __future__ import annotations

from pathlib import Path

import service

_PACKAGE_DIR = Path(service.__file__).resolve().parent
_REPO_ROOT = Path(__file__).resolve().parents[1]


def _locate(name: str) -> Path:
    packaged = _PACKAGE_DIR / name
    if packaged.exists():
        return packaged
    return _REPO_ROOT / name


def templates_dir() -> Path:
    """The templates/ directory (holding email/ and web/)."""
    return _locate("templates")


def alembic_dir() -> Path:
    """The alembic/ migrations directory."""
    return _locate("alembic")


def alembic_ini() -> Path:
    """The alembic.ini file."""
    return _locate("alembic.ini")


def sample_listings_path() -> Path:
    """The bundled sample listings file, service/data/sample_listings.jsonl."""
    return _PACKAGE_DIR / "data" / "sample_listings.jsonl"


def embedding_model_dir() -> Path:
    """The bundled int8 ONNX MiniLM model, service/data/minilm/."""
    return _PACKAGE_DIR / "data" / "minilm"
