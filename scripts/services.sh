#!/usr/bin/env bash
# Kafka, the schema registry, Redis (and PostgreSQL) for development and tests.
#   scripts/services.sh up       start each unless something already answers on its port; create the
#                                topics and register the contracts
#   scripts/services.sh ensure   like up, but only for what is not reachable (used by make test)
#   scripts/services.sh down     stop what we started (Kafka Connect too, when `make connect` or a test started it)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KPORT="${IRL_KAFKA_PORT:-9092}"
RPORT="${IRL_REDIS_PORT:-6379}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
# PostgreSQL's cluster lives outside the clone (/var/tmp/irl-postgres) and every clone shares it:
# this marker says that this clone started it, so that only this clone's `down` stops it.
PG_MARK="$ROOT/.cache/postgres.started-here"

# shellcheck source=lib/process.sh
source "$ROOT/scripts/lib/process.sh"

up() {
  if port_open "$KPORT" && ! "$ROOT/scripts/kafka.sh" status >/dev/null 2>&1; then
    echo "kafka: something already answers on 127.0.0.1:$KPORT; using it" >&2
  else
    "$ROOT/scripts/kafka.sh" start
  fi
  # After Kafka: it keeps its schemas in Kafka (kafkasql). Uses a registry that already answers.
  "$ROOT/scripts/registry.sh" start
  if port_open "$RPORT" && ! "$ROOT/scripts/redis.sh" status >/dev/null 2>&1; then
    echo "redis: something already answers on 127.0.0.1:$RPORT; using it" >&2
    "$ROOT/scripts/redis.sh" usable || exit 1
  else
    "$ROOT/scripts/redis.sh" start
  fi
  # PostgreSQL only serves the CRM connector's tests and users who point crm-sync at it.
  if [[ "${IRL_WITH_POSTGRES:-1}" == "1" ]]; then
    if "$ROOT/scripts/postgres.sh" status >/dev/null 2>&1; then
      echo "postgres: already running (started by another clone or by hand); using it" >&2
    else
      "$ROOT/scripts/postgres.sh" start >/dev/null
      mkdir -p "$(dirname "$PG_MARK")" && touch "$PG_MARK"
    fi
  fi
  if [[ -x "$PY" ]]; then "$PY" -m streams.cli topics create; fi
}

down() {
  # a worker left running by `make demo` (for its dashboard)
  local pidfile="${DEMO_OUT:-$ROOT/demo-out}/worker.pid"
  if [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill -TERM "$(cat "$pidfile")" || true
    for _ in $(seq 1 100); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
    echo "demo worker: stopped" >&2
  fi
  rm -f "$pidfile"
  # Before Kafka: its sink commits offsets there on the way out.
  "$ROOT/scripts/connect.sh" stop
  "$ROOT/scripts/registry.sh" stop
  "$ROOT/scripts/kafka.sh" stop
  "$ROOT/scripts/redis.sh" stop
  if [[ -f "$PG_MARK" ]]; then
    "$ROOT/scripts/postgres.sh" stop
    rm -f "$PG_MARK"
  else
    echo "postgres: not started by this clone; left running" >&2
  fi
}

case "${1:-}" in
  up|ensure) up ;;
  down) down ;;
  *) echo "usage: $0 up|ensure|down" >&2; exit 2 ;;
esac
