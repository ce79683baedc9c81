#!/usr/bin/env bash
# The image's entry point: `web`, `scheduler`, `worker` or `migrate` (anything else runs as is).
# Each role runs the same commands as `make run` (scripts/run.sh): gunicorn with
# deploy/gunicorn.conf.py, `manage.py scheduler`, `manage.py worker`, `manage.py db upgrade`.
# It refuses to start without CONSOLE_SECRET_KEY (or CONSOLE_SECRET_KEY_FILE) and without
# CONSOLE_DATABASE_URL: a container with its own SQLite file would share nothing with the others.
set -euo pipefail
CONSOLE_HOME="${CONSOLE_HOME:-/app}"
PYTHON="${PYTHON:-python}"
cd "$CONSOLE_HOME"

fail() { echo "airflow-console: $*" >&2; exit 64; }

if [ -n "${CONSOLE_SECRET_KEY_FILE:-}" ] && [ -z "${CONSOLE_SECRET_KEY:-}" ]; then
  [ -r "$CONSOLE_SECRET_KEY_FILE" ] || fail "CONSOLE_SECRET_KEY_FILE=$CONSOLE_SECRET_KEY_FILE cannot be read."
  CONSOLE_SECRET_KEY="$(cat "$CONSOLE_SECRET_KEY_FILE")"
  export CONSOLE_SECRET_KEY
fi

role="${1:-web}"
case "$role" in
  web|scheduler|worker|migrate)
    [ -n "${CONSOLE_SECRET_KEY:-}" ] || fail "CONSOLE_SECRET_KEY is not set: give every container the same long random value (e.g. \`python -c 'import secrets; print(secrets.token_urlsafe(48))'\`), or CONSOLE_SECRET_KEY_FILE naming a mounted secret file."
    [ -n "${CONSOLE_DATABASE_URL:-}" ] || fail "CONSOLE_DATABASE_URL is not set: point every container at the same database, e.g. postgresql+psycopg://console:PASSWORD@postgres:5432/console."
    shift || true
    ;;
esac

case "$role" in
  web) exec gunicorn --config deploy/gunicorn.conf.py "$@" ;;
  scheduler) exec "$PYTHON" manage.py scheduler "$@" ;;
  worker) exec "$PYTHON" manage.py worker "$@" ;;
  # Idempotent and safe when several replicas run it at once (console.database.migration_lock);
  # `setup` then creates the roles, and the first admin from CONSOLE_ADMIN_PASSWORD_FILE.
  migrate) "$PYTHON" manage.py db upgrade "$@" && exec "$PYTHON" manage.py setup ;;
  *) exec "$@" ;;
esac
