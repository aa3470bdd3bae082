#!/usr/bin/env bash
# Local Apicurio Registry (Confluent-compatible schema registry API), without Docker.
#
#   scripts/registry.sh fetch    fetch the app from Maven Central into .cache/registry (once)
#   scripts/registry.sh start    start on 127.0.0.1 unless a registry already answers there; wait until ready
#   scripts/registry.sh stop     stop the one we started and wait until the process is gone
#   scripts/registry.sh status   exit 0 when a registry answers on the port
#
# Storage is Kafka (kafkasql, topics kafkasql-journal, kafkasql-snapshots, registry-events) by
# default: schema ids outlive a registry restart as long as the broker's data does, like the
# records that carry them. IRL_REGISTRY_STORAGE=mem keeps them in memory (lost on restart).
# Settings: IRL_REGISTRY_PORT (8081), IRL_REGISTRY_MANAGEMENT_PORT (8091), IRL_REGISTRY_STORAGE
# (kafkasql), IRL_REGISTRY_KAFKA (127.0.0.1:$IRL_KAFKA_PORT), IRL_REGISTRY_VERSION (3.0.9),
# IRL_REGISTRY_HOME (.cache/registry), IRL_REGISTRY_READY_TIMEOUT seconds (120).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${IRL_REGISTRY_VERSION:-3.0.9}"
HOME_DIR="${IRL_REGISTRY_HOME:-$ROOT/.cache/registry}"
APP="$HOME_DIR/apicurio-registry-$VERSION"
JAR="$APP/apicurio-registry-app-$VERSION-runner.jar"
PORT="${IRL_REGISTRY_PORT:-8081}"
MANAGEMENT_PORT="${IRL_REGISTRY_MANAGEMENT_PORT:-8091}"
STORAGE="${IRL_REGISTRY_STORAGE:-kafkasql}"
KAFKA="${IRL_REGISTRY_KAFKA:-127.0.0.1:${IRL_KAFKA_PORT:-9092}}"
RUN="$HOME_DIR/run-$PORT"
PIDFILE="$RUN/registry.pid"
LOG="$RUN/registry.log"
TIMEOUT="${IRL_REGISTRY_READY_TIMEOUT:-120}"
API="http://127.0.0.1:$PORT/apis/ccompat/v7"

say() { echo "registry: $*" >&2; }
# shellcheck source=lib/process.sh
source "$ROOT/scripts/lib/process.sh"

# A schema registry answers the Confluent API (a JSON list of subjects), not just the port.
answers() { curl -fsS -m 3 "$API/subjects" 2>/dev/null | grep -q '^\['; }

fetch() {
  if [[ -f "$APP/.complete" ]]; then return 0; fi
  command -v mvn >/dev/null || { say "Maven (mvn) is required to fetch Apicurio Registry"; exit 1; }
  command -v java >/dev/null || { say "Java 17+ is required to run Apicurio Registry"; exit 1; }
  say "fetching Apicurio Registry $VERSION from Maven Central into $APP"
  rm -rf "$APP" "$HOME_DIR/download"
  mkdir -p "$HOME_DIR/download" "$APP"
  mvn -q -B dependency:copy -Dartifact="io.apicurio:apicurio-registry-app:$VERSION:tar.gz:all" \
    -DoutputDirectory="$HOME_DIR/download"
  tar -xzf "$HOME_DIR/download/apicurio-registry-app-$VERSION-all.tar.gz" -C "$APP"
  rm -rf "$HOME_DIR/download"
  [[ -f "$JAR" ]] || { say "the download has no $(basename "$JAR")"; exit 1; }
  touch "$APP/.complete"
}

start() {
  if running_pid >/dev/null; then
    if answers; then say "already running (pid $(cat "$PIDFILE")) at $API"; return 0; fi
  elif answers; then
    say "a registry already answers at $API; using it"; return 0
  elif port_open "$PORT"; then
    say "port $PORT is taken by something that is not a schema registry: stop it or set IRL_REGISTRY_PORT"; exit 1
  fi
  fetch
  local storage=()
  case "$STORAGE" in
    kafkasql)
      local khost="${KAFKA%%,*}"
      if ! (exec 3<>"/dev/tcp/${khost%:*}/${khost##*:}") 2>/dev/null; then
        say "kafkasql storage needs Kafka at $KAFKA: start it first (scripts/kafka.sh start), or IRL_REGISTRY_STORAGE=mem"
        exit 1
      fi
      storage=(-Dapicurio.storage.kind=kafkasql "-Dapicurio.kafkasql.bootstrap.servers=$KAFKA") ;;
    mem) storage=() ;;  # the default: an in-memory database
    *) say "IRL_REGISTRY_STORAGE=$STORAGE: expected kafkasql or mem"; exit 2 ;;
  esac
  mkdir -p "$RUN"
  if ! running_pid >/dev/null; then
    : >"$LOG"
    nohup java -Xms128m -Xmx512m -Djava.awt.headless=true \
      -Dquarkus.http.host=127.0.0.1 "-Dquarkus.http.port=$PORT" \
      -Dquarkus.management.host=127.0.0.1 "-Dquarkus.management.port=$MANAGEMENT_PORT" \
      "${storage[@]}" -jar "$JAR" >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    say "started pid $! on 127.0.0.1:$PORT ($STORAGE storage); waiting up to ${TIMEOUT}s"
  fi
  local deadline=$((SECONDS + TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! running_pid >/dev/null; then
      say "the registry exited during start-up; last lines of its log:"
      tail -n 30 "$LOG" >&2 || true
      exit 1
    fi
    if answers; then say "ready at $API"; return 0; fi
    sleep 0.5
  done
  say "the registry did not answer within ${TIMEOUT}s; last lines of its log:"
  tail -n 30 "$LOG" >&2 || true
  stop || true
  exit 1
}

stop() { stop_pid 30 "not running (none of ours)"; }

status() {
  if answers; then
    if running_pid >/dev/null; then say "running at $API (pid $(cat "$PIDFILE"))"; else say "answering at $API (not ours)"; fi
    return 0
  fi
  say "not running"; return 1
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
esac
