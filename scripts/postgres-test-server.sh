#!/usr/bin/env bash
# A throwaway PostgreSQL for tokbench's PostgreSQL suite (npm run test:postgres), on loopback only.
#
#   scripts/postgres-test-server.sh start [DIR]   creates DIR (default: a new folder under $TMPDIR),
#       runs initdb there, starts postgres on 127.0.0.1 on a free port, creates the database
#       `tokbench`, and prints, as its last line, the connection URL. The state (data dir, port,
#       log) stays in DIR.
#   scripts/postgres-test-server.sh stop DIR      stops that server and deletes DIR; idempotent (a
#       DIR already stopped or deleted is fine).
#
# Run as root (CI machines), the server runs as the `postgres` user Debian's package creates
# (postgres refuses to run as root). The password (in the URL) is generated per server; the suite
# uses it to check that it never reaches output, errors or the database.
set -euo pipefail

find_bin() {
  if command -v pg_ctl >/dev/null 2>&1; then dirname "$(command -v pg_ctl)"; return; fi
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/pg_ctl" ]; then echo "$dir"; return; fi
  done
  echo "postgres-test-server: PostgreSQL's server is not installed (Debian: apt-get install -y postgresql)" >&2
  exit 1
}

as_owner() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  node -e 'const s=require("node:net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

cmd="${1:-}"
case "$cmd" in
  start)
    BIN="$(find_bin)"
    DIR="${2:-$(mktemp -d "${TMPDIR:-/tmp}/tokbench-pg.XXXXXX")}"
    mkdir -p "$DIR"
    if [ "$(id -u)" = "0" ]; then chown postgres: "$DIR"; chmod 700 "$DIR"; fi
    PASSWORD="pw-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
    printf '%s\n' "$PASSWORD" > "$DIR/pwfile"
    if [ "$(id -u)" = "0" ]; then chown postgres: "$DIR/pwfile"; fi
    as_owner "$BIN/initdb" -D "$DIR/data" -U tokbench --pwfile="$DIR/pwfile" -A scram-sha-256 \
      --encoding=UTF8 --locale=C >"$DIR/initdb.log" 2>&1 \
      || { cat "$DIR/initdb.log" >&2; exit 1; }
    rm -f "$DIR/pwfile"
    # A free port can be taken between the probe and the bind: try a few.
    for _ in 1 2 3 4 5; do
      PORT="$(free_port)"
      if as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c max_connections=200 -c fsync=on" >/dev/null; then
        echo "$PORT" > "$DIR/port"
        break
      fi
    done
    [ -f "$DIR/port" ] || { echo "postgres-test-server: could not start postgres (log: $DIR/server.log)" >&2; tail -5 "$DIR/server.log" >&2; exit 1; }
    PGPASSWORD="$PASSWORD" psql -h 127.0.0.1 -p "$PORT" -U tokbench -d postgres -q -c "CREATE DATABASE tokbench" >/dev/null
    echo "$DIR" > "$DIR/dir"
    echo "postgres://tokbench:$PASSWORD@127.0.0.1:$PORT/tokbench"
    ;;
  stop)
    DIR="${2:?usage: postgres-test-server.sh stop DIR}"
    if [ -d "$DIR/data" ] && [ -f "$DIR/data/postmaster.pid" ]; then
      BIN="$(find_bin)"
      as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
    ;;
  *)
    echo "usage: postgres-test-server.sh start [DIR] | stop DIR" >&2
    exit 2
    ;;
esac
