#!/usr/bin/env bash
# Local Apache Kafka (KRaft, one node acting as broker and controller), without Docker.
#
#   scripts/kafka.sh fetch    fetch the jars from Maven Central into .cache/kafka (once)
#   scripts/kafka.sh start    format storage if needed, start on 127.0.0.1, wait until ready
#   scripts/kafka.sh stop     stop it and wait until the process is gone
#   scripts/kafka.sh status   exit 0 when our broker answers
#
# Settings: IRL_KAFKA_PORT (9092), IRL_KAFKA_CONTROLLER_PORT (9093), IRL_KAFKA_VERSION,
# IRL_KAFKA_HOME (.cache/kafka), IRL_KAFKA_READY_TIMEOUT seconds (90), IRL_KAFKA_EXTRA_CONFIG (a file
# appended to server.properties: its keys win, e.g. another listener with TLS and SASL; readiness is
# still checked on the PLAINTEXT port).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${IRL_KAFKA_VERSION:-4.1.1}"
HOME_DIR="${IRL_KAFKA_HOME:-$ROOT/.cache/kafka}"
LIBS="$HOME_DIR/libs-$VERSION"
PORT="${IRL_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${IRL_KAFKA_CONTROLLER_PORT:-9093}"
RUN="$HOME_DIR/run-$PORT"
DATA="$RUN/data"
CONFIG="$RUN/server.properties"
PIDFILE="$RUN/kafka.pid"
LOG="$RUN/logs/server.log"
TIMEOUT="${IRL_KAFKA_READY_TIMEOUT:-90}"

say() { echo "kafka: $*" >&2; }
# shellcheck source=lib/process.sh
source "$ROOT/scripts/lib/process.sh"

fetch() {
  if [[ -f "$LIBS/.complete" ]]; then return 0; fi
  command -v mvn >/dev/null || { say "Maven (mvn) is required to fetch Kafka's jars"; exit 1; }
  command -v java >/dev/null || { say "Java 17+ is required to run Kafka"; exit 1; }
  say "fetching Apache Kafka $VERSION jars from Maven Central into $LIBS"
  rm -rf "$LIBS"
  mvn -q -B -f "$ROOT/scripts/kafka/pom.xml" -Dkafka.version="$VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS"
  touch "$LIBS/.complete"
}

write_config() {
  mkdir -p "$RUN/logs" "$DATA"
  cat >"$CONFIG" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$DATA
# Topics are created by the project (irl topics create), never on first use.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# A development broker: a week of data, 1 GiB per partition at most.
log.retention.hours=168
log.retention.bytes=1073741824
log.segment.bytes=268435456
EOF
  if [[ -n "${IRL_KAFKA_EXTRA_CONFIG:-}" ]]; then
    [[ -f "$IRL_KAFKA_EXTRA_CONFIG" ]] || { say "IRL_KAFKA_EXTRA_CONFIG=$IRL_KAFKA_EXTRA_CONFIG: no such file"; exit 1; }
    { echo "# from $IRL_KAFKA_EXTRA_CONFIG"; cat "$IRL_KAFKA_EXTRA_CONFIG"; } >>"$CONFIG"
  fi
}

start() {
  if running_pid >/dev/null; then say "already running (pid $(cat "$PIDFILE")) on 127.0.0.1:$PORT"; return 0; fi
  if port_open "$PORT"; then say "port $PORT is taken by another process: stop it or set IRL_KAFKA_PORT"; exit 1; fi
  fetch
  write_config
  if [[ ! -f "$DATA/meta.properties" ]]; then
    local cluster_id
    # Never starting with "-": kafka-storage would read it as an option (1 start in 64 failed so).
    cluster_id="$(python3 -c '
import base64, uuid
while (cid := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"):
    pass
print(cid)')"
    java -cp "$LIBS/*" -Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2.properties" \
      -Dkafka.logs.dir="$RUN/logs" kafka.tools.StorageTool format -t "$cluster_id" -c "$CONFIG" >"$RUN/logs/format.log" 2>&1 \
      || { say "formatting storage failed:"; tail -n 20 "$RUN/logs/format.log" >&2; exit 1; }
  fi
  : >"$LOG"
  nohup java -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2.properties" -Dkafka.logs.dir="$RUN/logs" \
    -cp "$LIBS/*" kafka.Kafka "$CONFIG" >"$RUN/logs/stdout.log" 2>&1 &
  echo $! >"$PIDFILE"
  say "started pid $! on 127.0.0.1:$PORT; waiting up to ${TIMEOUT}s"
  local deadline=$((SECONDS + TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! running_pid >/dev/null; then
      say "the broker exited during start-up; last lines of its log:"
      tail -n 30 "$LOG" "$RUN/logs/stdout.log" >&2 || true
      exit 1
    fi
    if port_open "$PORT" && grep -q "Kafka Server started" "$LOG" 2>/dev/null; then
      say "ready on 127.0.0.1:$PORT"; return 0
    fi
    sleep 0.5
  done
  say "the broker did not come up within ${TIMEOUT}s; last lines of its log:"
  tail -n 30 "$LOG" "$RUN/logs/stdout.log" >&2 || true
  stop || true
  exit 1
}

stop() { stop_pid 60; }

status() {
  if running_pid >/dev/null && port_open "$PORT"; then say "running on 127.0.0.1:$PORT"; return 0; fi
  say "not running"; return 1
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  clean) stop; rm -rf "$RUN" ;;
  *) echo "usage: $0 fetch|start|stop|status|clean" >&2; exit 2 ;;
esac
