#!/usr/bin/env bash
# A private PostgreSQL cluster on loopback for the CRM connector, from Debian's postgresql package
# (installed when missing).
#
#   scripts/postgres.sh install | start | stop | status | url
#
# start prints the URL of database `irl` on stdout: postgresql://postgres@127.0.0.1:$IRL_PG_PORT/irl
# Settings: IRL_PG_PORT (55432), IRL_PG_HOME (/var/tmp/irl-postgres). Trust authentication, loopback only:
# a development and test database, never a production one.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${IRL_PG_PORT:-55432}"
# Outside the work tree: the postgres OS user must reach it, and a clone may sit under a private home.
HOME_DIR="${IRL_PG_HOME:-/var/tmp/irl-postgres}"
DATA="$HOME_DIR/data-$PORT"
LOG="$HOME_DIR/postgres-$PORT.log"
DB=irl
URL="postgresql://postgres@127.0.0.1:$PORT/$DB"

say() { echo "postgres: $*" >&2; }

bindir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "$d" && -x "$d/initdb" ]] && echo "$d"
}

install() {
  bindir >/dev/null && return 0
  say "PostgreSQL is missing: installing Debian's package"
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  bindir >/dev/null || { say "installing postgresql failed"; exit 1; }
}

# PostgreSQL refuses to run as root: as root, run its programs as the `postgres` OS user, from `/`
# (its programs go back to the working directory, and a clone under a private home is closed to that user).
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

ready() { "$(bindir)/pg_isready" -q -h 127.0.0.1 -p "$PORT" -d postgres -U postgres 2>/dev/null; }

running() { [[ -f "$DATA/postmaster.pid" ]] && as_owner "$(bindir)/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

start() {
  install
  local bin; bin="$(bindir)"
  if running; then
    say "already running on 127.0.0.1:$PORT"
  else
    if ready; then say "something else answers on 127.0.0.1:$PORT; set IRL_PG_PORT"; exit 1; fi
    mkdir -p "$HOME_DIR"
    if [[ $(id -u) -eq 0 ]]; then chown postgres: "$HOME_DIR"; fi
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
      say "initdb in $DATA"
      as_owner "$bin/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    fi
    # Loopback only; the socket lives in the data directory (no /var/run/postgresql needed).
    as_owner "$bin/pg_ctl" -D "$DATA" -l "$LOG" -s \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA" start
  fi
  local deadline=$((SECONDS + 30))
  until ready; do
    if ((SECONDS >= deadline)); then
      say "not ready within 30s; last lines of its log:"; tail -n 20 "$LOG" >&2 || true; exit 1
    fi
    sleep 0.2
  done
  if ! "$bin/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
  fi
  say "ready on 127.0.0.1:$PORT"
  echo "$URL"
}

stop() {
  if ! bindir >/dev/null || ! running; then say "not running"; return 0; fi
  as_owner "$(bindir)/pg_ctl" -D "$DATA" -s -m fast -w -t 30 stop
  say "stopped"
}

status() {
  if bindir >/dev/null && running && ready; then say "running on 127.0.0.1:$PORT"; echo "$URL"; return 0; fi
  say "not running"; return 1
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 install|start|stop|status|url" >&2; exit 2 ;;
esac
