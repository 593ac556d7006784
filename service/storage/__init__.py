"""Storage: the one place that speaks SQL.

``engine`` (engines and sessions for SQLite and PostgreSQL), ``models`` (the tables),
``migrations`` (the Alembic runner) and ``store`` (every query).

May import: the core modules only. No module of a higher package is imported here.
"""
