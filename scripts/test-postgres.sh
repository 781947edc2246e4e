#!/usr/bin/env bash
# npm run test:postgres: starts a throwaway PostgreSQL (scripts/postgres-test-server.sh), runs the
# PostgreSQL suite (dist/test/**/*.pg-test.js) against it with TOKBENCH_TEST_POSTGRES_URL, and stops
# it whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="$(mktemp -d "${TMPDIR:-/tmp}/tokbench-pg.XXXXXX")"
trap 'bash scripts/postgres-test-server.sh stop "$DIR"' EXIT
URL="$(bash scripts/postgres-test-server.sh start "$DIR" | tail -n 1)"
export TOKBENCH_TEST_POSTGRES_URL="$URL"
node --test --test-concurrency=1 $(find dist/test -name '*.pg-test.js' | sort)
