#!/usr/bin/env bash
# `make test`: the whole suite on SQLite, then a second pass of every test that touches the
# database (those using the `database_url` fixture, browser tests excepted) on PostgreSQL + Redis
# (CONSOLE_TEST_DATABASE=postgres, see tests/conftest.py). The Airflow sandbox the first pass
# starts is kept for the second and stopped at the end; one that was already running is left so.
# Usage: scripts/test.sh PYTHON [pytest arguments...]
set -uo pipefail
cd "$(dirname "$0")/.."
python=$1
shift
was_running=$(PYTHONPATH=$PWD "$python" -c 'from console.airflow import sandbox; from tests.conftest import sandbox_settings; print(int(sandbox.status(sandbox_settings()).running))')

start=$SECONDS
CONSOLE_TEST_KEEP_SANDBOX=1 "$python" -m pytest "$@"
first=$?
echo "== SQLite pass: $((SECONDS - start)) s (exit $first)"

start=$SECONDS
if [ "$was_running" = 1 ]; then stop=0; else stop=1; fi
CONSOLE_TEST_DATABASE=postgres CONSOLE_TEST_STOP_SANDBOX=$stop "$python" -m pytest "$@"
second=$?
echo "== PostgreSQL + Redis pass: $((SECONDS - start)) s (exit $second)"
# "no tests ran" (5) is not a failure of the second pass when arguments selected no database test.
if [ "$second" = 5 ]; then second=0; fi
if [ "$first" != 0 ]; then exit "$first"; fi
exit "$second"
