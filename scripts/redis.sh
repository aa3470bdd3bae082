#!/usr/bin/env bash
# Local Redis on loopback, from Debian's redis-server package (installed when missing).
#
#   scripts/redis.sh install | start | stop | status
#
# Settings: IRL_REDIS_PORT (6379), IRL_REDIS_HOME (.cache/redis).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${IRL_REDIS_PORT:-6379}"
RUN="${IRL_REDIS_HOME:-$ROOT/.cache/redis}/run-$PORT"
PIDFILE="$RUN/redis.pid"
LOG="$RUN/redis.log"

say() { echo "redis: $*" >&2; }
# shellcheck source=lib/process.sh
source "$ROOT/scripts/lib/process.sh"

install() {
  command -v redis-server >/dev/null && return 0
  say "redis-server is missing: installing Debian's package"
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
  command -v redis-server >/dev/null || { say "installing redis-server failed"; exit 1; }
}

start() {
  if running_pid >/dev/null; then say "already running on 127.0.0.1:$PORT"; return 0; fi
  install
  mkdir -p "$RUN"
  # No persistence: Redis is a read model, rebuilt from the Faust tables when it is empty.
  redis-server --bind 127.0.0.1 --port "$PORT" --daemonize yes --pidfile "$PIDFILE" --logfile "$LOG" \
    --dir "$RUN" --save "" --appendonly no --protected-mode yes --databases 16
  local deadline=$((SECONDS + 20))
  while ((SECONDS < deadline)); do
    if redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null | grep -q PONG; then say "ready on 127.0.0.1:$PORT"; return 0; fi
    sleep 0.2
  done
  say "redis did not answer within 20s; last lines of its log:"; tail -n 20 "$LOG" >&2 || true; exit 1
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then rm -f "$PIDFILE"; say "not running"; return 0; fi
  redis-cli -h 127.0.0.1 -p "$PORT" shutdown nosave >/dev/null 2>&1 || kill -TERM "$pid"
  local deadline=$((SECONDS + 20))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then kill -KILL "$pid" || true; fi
    sleep 0.1
  done
  rm -f "$PIDFILE"; say "stopped"
}

status() {
  if running_pid >/dev/null && redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null | grep -q PONG; then
    say "running on 127.0.0.1:$PORT"; return 0
  fi
  say "not running"; return 1
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
