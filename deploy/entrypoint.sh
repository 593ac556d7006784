#!/bin/sh
# Start a Paperboy role: check the settings, wait for the database, migrate, then run.
#   all        web front + scheduler in one process (the default)
#   web        web front only (run the scheduler elsewhere)
#   scheduler  the ingest and delivery ticks only
#   worker     a delivery worker (PAPERBOY_DELIVERY_QUEUE=procrastinate, PostgreSQL)
#   anything else is passed to `paperboy` (e.g. `send --dry-run`, `ingest --sample`)
set -eu

role="${1:-all}"
[ $# -gt 0 ] && shift

# Invalid settings (such as no PAPERBOY_SECRET_KEY in production, the image's default) stop here
# with the message that says how to fix them, rather than after a minute of waiting for a database.
python - <<'PY'
import sys
from service.errors import ConfigError
from service.settings import get_settings
try:
    get_settings()
except ConfigError as exc:
    sys.exit(f"paperboy: {exc}")
PY

tries=0
until python - <<'PY'
from sqlalchemy import text
from service.storage.engine import make_engine
from service.settings import get_settings
with make_engine(get_settings().database_url).connect() as connection:
    connection.execute(text("SELECT 1"))
PY
do
  tries=$((tries + 1))
  if [ "$tries" -ge 30 ]; then echo "database not reachable after 60 s" >&2; exit 1; fi
  sleep 2
done

paperboy db upgrade

case "$role" in
  all) exec paperboy serve --host 0.0.0.0 --port "${PORT:-8000}" "$@" ;;
  web) exec paperboy serve --host 0.0.0.0 --port "${PORT:-8000}" --no-scheduler "$@" ;;
  scheduler) exec paperboy scheduler "$@" ;;
  worker) exec paperboy worker "$@" ;;
  *)   exec paperboy "$role" "$@" ;;
esac
