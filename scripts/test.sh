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
sandbox() {  # sandbox status|stop for the test sessions' sandbox (CONSOLE_TEST_SANDBOX_PORT)
  PYTHONPATH=$PWD "$python" -c "import sys; from console.airflow import sandbox; from tests.conftest import sandbox_settings
s = sandbox_settings()
print(int(sandbox.status(s).running)) if sys.argv[1] == 'status' else sandbox.stop(s, log=print)" "$1"
}
was_running=$(sandbox status)

start=$SECONDS
CONSOLE_TEST_KEEP_SANDBOX=1 "$python" -m pytest "$@"
first=$?
echo "== SQLite pass: $((SECONDS - start)) s (exit $first)"

start=$SECONDS
CONSOLE_TEST_KEEP_SANDBOX=1 CONSOLE_TEST_DATABASE=postgres "$python" -m pytest "$@"
second=$?
echo "== PostgreSQL + Redis pass: $((SECONDS - start)) s (exit $second)"
if [ "$was_running" = 0 ] && [ "$(sandbox status)" = 1 ]; then sandbox stop; fi
# "no tests ran" (5) is not a failure of the second pass when the arguments selected no database test.
if [ "$second" = 5 ]; then second=0; fi
if [ "$first" != 0 ]; then exit "$first"; fi
exit "$second"
