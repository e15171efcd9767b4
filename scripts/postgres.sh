#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests and the benchmarks: `npm run db:start` / `npm run db:stop`.
#
#   scripts/postgres.sh start   install PostgreSQL from Debian's packages when it is missing (as root),
#                               initdb into a temporary directory, listen on 127.0.0.1 on a free port,
#                               create the database `gavel`, and write the connection string to
#                               .tmp/postgres/env (GAVEL_TEST_POSTGRES_URL=postgres://...), which the
#                               tests read. Starting a running server again only prints its address.
#   scripts/postgres.sh stop    stop the server and delete its data directory.
#   scripts/postgres.sh url     print the connection string of the running server.
#
# The server trusts every local connection: it is a test server, reachable only from this machine,
# and it holds nothing but test data. Never point it at real data.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="$ROOT/.tmp/postgres"
ENV_FILE="$STATE/env"
DATABASE="gavel"

find_bin() {
  local name="$1" found
  found="$(command -v "$name" 2>/dev/null || true)"
  if [[ -z "$found" ]]; then
    found="$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1 || true)"
  fi
  printf '%s' "$found"
}

ensure_installed() {
  if [[ -n "$(find_bin initdb)" && -n "$(find_bin pg_ctl)" ]]; then return; fi
  if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null; then
    echo "postgres: PostgreSQL is missing; installing it from Debian's packages" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  if [[ -z "$(find_bin initdb)" ]]; then
    echo "postgres: initdb not found. Install PostgreSQL (Debian/Ubuntu: sudo apt-get install -y postgresql; macOS: brew install postgresql), or set GAVEL_TEST_POSTGRES_URL to a server of your own." >&2
    exit 1
  fi
}

# Run a PostgreSQL program as the owner of the data directory: the `postgres` user when we are root
# (the server refuses to run as root), else ourselves.
as_owner() {
  if [[ "$(id -u)" == "0" ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  node -e 'const s = require("node:net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

running() {
  [[ -f "$STATE/datadir" ]] && as_owner "$(find_bin pg_ctl)" status -D "$(cat "$STATE/datadir")" >/dev/null 2>&1
}

start() {
  if running; then
    echo "postgres: already running: $(url)"
    return
  fi
  ensure_installed
  local initdb pg_ctl datadir port
  initdb="$(find_bin initdb)"
  pg_ctl="$(find_bin pg_ctl)"
  rm -rf "$STATE"
  mkdir -p "$STATE"
  datadir="$(mktemp -d /tmp/gavel-postgres.XXXXXX)"
  echo "$datadir/data" >"$STATE/datadir" # first: whatever fails below, stop still cleans it up
  if [[ "$(id -u)" == "0" ]]; then chown postgres: "$datadir"; fi
  as_owner "$initdb" -D "$datadir/data" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$STATE/initdb.log" 2>&1 || {
    cat "$STATE/initdb.log" >&2
    exit 1
  }
  port="$(free_port)"
  as_owner "$pg_ctl" start -D "$datadir/data" -l "$datadir/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $datadir -c max_connections=300 -c shared_buffers=128MB" >/dev/null || {
    cat "$datadir/server.log" >&2
    exit 1
  }
  as_owner "$(find_bin createdb)" -h 127.0.0.1 -p "$port" -U postgres "$DATABASE"
  echo "GAVEL_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/$DATABASE" >"$ENV_FILE"
  echo "postgres: started: $(url)"
}

stop() {
  if [[ ! -f "$STATE/datadir" ]]; then
    echo "postgres: not running"
    return
  fi
  local datadir
  datadir="$(cat "$STATE/datadir")"
  as_owner "$(find_bin pg_ctl)" stop -D "$datadir" -m fast >/dev/null 2>&1 || true
  # Delete only what start made: a data directory under /tmp/gavel-postgres.*.
  case "$datadir" in
    /tmp/gavel-postgres.*/data) rm -rf "$(dirname "$datadir")" ;;
    *) echo "postgres: not deleting unexpected data directory '$datadir'" >&2 ;;
  esac
  rm -rf "$STATE"
  echo "postgres: stopped"
}

url() {
  sed -n 's/^GAVEL_TEST_POSTGRES_URL=//p' "$ENV_FILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  *)
    echo "usage: scripts/postgres.sh start|stop|url" >&2
    exit 2
    ;;
esac
