#!/usr/bin/env bash
# `make run`: first-run setup, then the Airflow sandbox, the scheduler, the job worker and the web console.
# Ctrl-C stops everything this script started (a sandbox that was already running is left alone).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PORT=${PORT:-5000}
SANDBOX_PORT=${SANDBOX_PORT:-28080}
export CONSOLE_AIRFLOW_SANDBOX_PORT=$SANDBOX_PORT

$BIN/python -m console.instance instance
$BIN/python manage.py db upgrade 2>&1 | grep -v '^INFO' || true
# On a laptop the first admin's generated password is printed once to this terminal; the
# Docker image never prints one (it reads CONSOLE_ADMIN_PASSWORD_FILE).
$BIN/python manage.py setup --print-password

children=()
started_sandbox=0
if ! $BIN/python manage.py airflow-sandbox status --quiet; then
  started_sandbox=1
fi

cleanup() {
  trap - INT TERM EXIT
  echo
  echo "Stopping the console..."
  for pid in "${children[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$started_sandbox" = 1 ]; then $BIN/python manage.py airflow-sandbox stop || true; fi
}
trap cleanup INT TERM EXIT

# The sandbox takes ~40 s to start (plus ~35 s to install on the very first run); the console
# serves meanwhile and shows the DAGs as soon as Airflow answers.
( $BIN/python manage.py airflow-sandbox start --register && $BIN/python manage.py seed-demo ) &
children+=($!)
$BIN/python manage.py scheduler &
children+=($!)
$BIN/python manage.py worker &
children+=($!)
# The production settings (deploy/gunicorn.conf.py), with fewer workers and a short grace on a laptop.
$BIN/gunicorn --config deploy/gunicorn.conf.py --workers 2 --graceful-timeout 5 --bind "127.0.0.1:$PORT" &
children+=($!)
echo "Airflow Console: http://127.0.0.1:$PORT  (Ctrl-C stops it)"
wait -n "${children[@]:1}" || true
