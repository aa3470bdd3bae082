#!/usr/bin/env bash
# Local Redis on loopback, from Debian's redis-server package (installed when missing).
#
#   scripts/redis.sh install | start | stop | status | url
#
# It requires a password (`requirepass`): IRL_REDIS_PASSWORD, else this clone's own
# (scripts/local-secret.sh redis-password). `url` prints the redis:// URL that works for it,
# password included, for IRL_REDIS_URL. A Redis of ours found running without a password
# (started by an older version of this script) gets it at once, without a restart.
#
# Settings: IRL_REDIS_PORT (6379), IRL_REDIS_HOME (.cache/redis), IRL_REDIS_PASSWORD.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${IRL_REDIS_PORT:-6379}"
RUN="${IRL_REDIS_HOME:-$ROOT/.cache/redis}/run-$PORT"
PIDFILE="$RUN/redis.pid"
LOG="$RUN/redis.log"
PASSWORD="${IRL_REDIS_PASSWORD:-$("$ROOT/scripts/local-secret.sh" redis-password)}"
[[ "$PASSWORD" =~ ^[A-Za-z0-9._~-]+$ ]] || {
  echo "redis: IRL_REDIS_PASSWORD may hold only letters, digits and . _ ~ - (it goes into a URL)" >&2; exit 2; }

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

# cli ARGS...: redis-cli on our port, authenticated with the password (REDISCLI_AUTH keeps it
# out of the process list).
cli() { REDISCLI_AUTH="$PASSWORD" redis-cli --no-auth-warning -h 127.0.0.1 -p "$PORT" "$@"; }
# open_cli ARGS...: redis-cli without a password.
open_cli() { redis-cli -h 127.0.0.1 -p "$PORT" "$@"; }

# protect: a Redis answering without a password gets ours (CONFIG SET; nothing is restarted).
protect() {
  if open_cli ping 2>/dev/null | grep -q PONG; then
    open_cli config set requirepass "$PASSWORD" >/dev/null
    say "was running without a password on 127.0.0.1:$PORT: password set (requirepass)"
  fi
  cli ping 2>/dev/null | grep -q PONG && return 0
  say "Redis on 127.0.0.1:$PORT refuses this password: set IRL_REDIS_PASSWORD to the one it was started with"
  exit 1
}

start() {
  if running_pid >/dev/null; then protect; say "already running on 127.0.0.1:$PORT"; return 0; fi
  install
  mkdir -p "$RUN"
  # No persistence: Redis is a read model, rebuilt from the worker's snapshot when it is empty.
  # The password goes through a config file on stdin, never the command line (ps shows that).
  printf 'requirepass %s\n' "$PASSWORD" | redis-server - --bind 127.0.0.1 --port "$PORT" --daemonize yes \
    --pidfile "$PIDFILE" --logfile "$LOG" --dir "$RUN" --save "" --appendonly no --protected-mode yes \
    --databases 16
  local deadline=$((SECONDS + 20))
  while ((SECONDS < deadline)); do
    if cli ping 2>/dev/null | grep -q PONG; then say "ready on 127.0.0.1:$PORT (password required)"; return 0; fi
    sleep 0.2
  done
  say "redis did not answer within 20s; last lines of its log:"; tail -n 20 "$LOG" >&2 || true; exit 1
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then rm -f "$PIDFILE"; say "not running"; return 0; fi
  cli shutdown nosave >/dev/null 2>&1 || kill -TERM "$pid"
  local deadline=$((SECONDS + 20))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then kill -KILL "$pid" || true; fi
    sleep 0.1
  done
  rm -f "$PIDFILE"; say "stopped"
}

status() {
  if running_pid >/dev/null && cli ping 2>/dev/null | grep -q PONG; then
    say "running on 127.0.0.1:$PORT"; return 0
  fi
  say "not running"; return 1
}

# url: the URL for IRL_REDIS_URL (database 0), with the password when Redis accepts it. A Redis
# that is not ours and answers without one (`services.sh` uses whatever answers) gets a URL
# without it, and a warning.
url() {
  if open_cli ping 2>/dev/null | grep -q PONG && ! running_pid >/dev/null; then
    say "warning: the Redis on 127.0.0.1:$PORT was not started here and requires no password"
    echo "redis://127.0.0.1:$PORT/0"; return 0
  fi
  if running_pid >/dev/null; then protect; fi
  echo "redis://:$PASSWORD@127.0.0.1:$PORT/0"
}

# usable: whether the Redis answering on our port (ours or not) takes this checkout's password or
# needs none; else say what to do (a Redis another checkout started has that checkout's password).
usable() {
  if cli ping 2>/dev/null | grep -q PONG || open_cli ping 2>/dev/null | grep -q PONG; then return 0; fi
  say "the Redis on 127.0.0.1:$PORT was started elsewhere and refuses this checkout's password: set"
  say "IRL_REDIS_PASSWORD to its password (\`scripts/redis.sh url\` in the checkout that started it), or stop it"
  return 1
}

case "${1:-}" in
  install) install ;;
  usable) usable ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) url ;;
  *) echo "usage: $0 install|start|stop|status|url|usable" >&2; exit 2 ;;
esac
