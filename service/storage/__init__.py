"""Storage: the one place that speaks SQL.

``engine`` (engines and sessions for SQLite and PostgreSQL), ``models`` (the tables),
``migrations`` (the Alembic runner) and ``store`` (every query: the one face callers use,
re-exporting the query modules ``papers``, ``subscribers``, ``suppression``, ``deliveries``,
``delivery_history``, ``votes``, ``runs``, ``health``, ``ratelimits``; ``rows`` holds the
read-only records some queries return).

May import: the core modules only. No module of a higher package is imported here.
"""
