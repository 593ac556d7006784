"""Paperboy: a self-hosted daily digest of trending research papers."""

__version__ = "0.1.0"
