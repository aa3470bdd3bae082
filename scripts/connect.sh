#!/usr/bin/env bash
# Local Kafka Connect (standalone) with Debezium's JDBC sink: the resolved topic into PostgreSQL, without Docker.
#
#   scripts/connect.sh fetch             fetch Connect, the sink and the Avro converter from Maven Central (once)
#   scripts/connect.sh start             start the worker on 127.0.0.1 unless a Connect worker with the sink
#                                        plugin already answers there, then install the CRM sink connector
#   scripts/connect.sh start --no-sink   the worker only (the tests add connectors of their own)
#   scripts/connect.sh run               the worker in the foreground, the sink installed once it answers
#                                        (docker-compose's connect service)
#   scripts/connect.sh stop              stop the worker we started and wait until the process is gone
#   scripts/connect.sh status            exit 0 when a worker answers; shows the sink's state
#
# The worker is connect/worker.properties, the sink connect/irl-crm-sink.properties; both are
# rendered here (${NAME} -> value) into .cache/connect/run-$PORT. Standalone keeps no connector
# config across restarts: `start` installs the sink again through the REST API (PUT, idempotent),
# and the sink resumes from its consumer group's committed offsets.
# Settings: IRL_CONNECT_PORT (8083, the REST API), IRL_CONNECT_HOST (127.0.0.1, where it listens), IRL_CONNECT_HOME (.cache/connect),
# IRL_CONNECT_READY_TIMEOUT seconds (120), IRL_CONNECT_KAFKA (127.0.0.1:$IRL_KAFKA_PORT),
# IRL_CONNECT_REGISTRY_URL (http://127.0.0.1:$IRL_REGISTRY_PORT/apis/registry/v2),
# IRL_CONNECT_NAME (irl-crm-sink), IRL_CONNECT_TOPIC ($IRL_TOPIC_RESOLVED or irl.customers.resolved),
# IRL_CONNECT_DB_URL (postgresql://postgres@127.0.0.1:$IRL_PG_PORT/irl, scripts/postgres.sh's database; a
# libpq URL as for `irl crm-sync --db`, turned into the sink's JDBC URL, user and password),
# IRL_CONNECT_SCHEMA (public), IRL_CONNECT_TABLE (resolved_customers); versions:
# IRL_CONNECT_KAFKA_VERSION (4.1.1), IRL_CONNECT_DEBEZIUM_VERSION (3.6.0.Final),
# IRL_CONNECT_APICURIO_VERSION (2.6.13.Final).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_VERSION="${IRL_CONNECT_KAFKA_VERSION:-4.1.1}"
DEBEZIUM_VERSION="${IRL_CONNECT_DEBEZIUM_VERSION:-3.6.0.Final}"
APICURIO_VERSION="${IRL_CONNECT_APICURIO_VERSION:-2.6.13.Final}"
HOME_DIR="${IRL_CONNECT_HOME:-$ROOT/.cache/connect}"
LIBS="$HOME_DIR/libs-$KAFKA_VERSION"
PLUGINS="$HOME_DIR/plugins-$DEBEZIUM_VERSION-$APICURIO_VERSION"
PORT="${IRL_CONNECT_PORT:-8083}"
HOST="${IRL_CONNECT_HOST:-127.0.0.1}"
RUN="$HOME_DIR/run-$PORT"
PIDFILE="$RUN/connect.pid"
LOG="$RUN/logs/connect.log"
TIMEOUT="${IRL_CONNECT_READY_TIMEOUT:-120}"
API="http://127.0.0.1:$PORT"
SINK_CLASS=io.debezium.connector.jdbc.JdbcSinkConnector

NAME="${IRL_CONNECT_NAME:-irl-crm-sink}"
TOPIC="${IRL_CONNECT_TOPIC:-${IRL_TOPIC_RESOLVED:-irl.customers.resolved}}"
KAFKA="${IRL_CONNECT_KAFKA:-127.0.0.1:${IRL_KAFKA_PORT:-9092}}"
REGISTRY_V2="${IRL_CONNECT_REGISTRY_URL:-http://127.0.0.1:${IRL_REGISTRY_PORT:-8081}/apis/registry/v2}"
DB_URL="${IRL_CONNECT_DB_URL:-postgresql://postgres@127.0.0.1:${IRL_PG_PORT:-55432}/irl}"
SCHEMA="${IRL_CONNECT_SCHEMA:-public}"
TABLE="${IRL_CONNECT_TABLE:-resolved_customers}"

say() { echo "connect: $*" >&2; }
# shellcheck source=lib/process.sh
source "$ROOT/scripts/lib/process.sh"

# A Connect worker answers its REST root with its version (JSON), not just the port.
answers() { curl -fsS -m 3 "$API/" 2>/dev/null | grep -q '"version"'; }
has_sink_plugin() { curl -fsS -m 5 "$API/connector-plugins" 2>/dev/null | grep -q "\"$SINK_CLASS\""; }

fetch() {
  if [[ -f "$LIBS/.complete" && -f "$PLUGINS/.complete" ]]; then return 0; fi
  command -v mvn >/dev/null || { say "Maven (mvn) is required to fetch Kafka Connect"; exit 1; }
  command -v java >/dev/null || { say "Java 17+ is required to run Kafka Connect"; exit 1; }
  if [[ ! -f "$LIBS/.complete" ]]; then
    say "fetching Kafka Connect $KAFKA_VERSION jars from Maven Central into $LIBS"
    rm -rf "$LIBS"
    mvn -q -B -Dstyle.color=never -f "$ROOT/scripts/connect/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS"
    touch "$LIBS/.complete"
  fi
  if [[ ! -f "$PLUGINS/.complete" ]]; then
    say "fetching Debezium's JDBC sink $DEBEZIUM_VERSION and Apicurio's Avro converter $APICURIO_VERSION into $PLUGINS"
    rm -rf "$PLUGINS" "$HOME_DIR/download"
    mkdir -p "$PLUGINS" "$HOME_DIR/download"
    mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="io.debezium:debezium-connector-jdbc:$DEBEZIUM_VERSION:tar.gz:plugin" \
      -DoutputDirectory="$HOME_DIR/download"
    # The tarball holds one directory, debezium-connector-jdbc/, with the connector and its driver.
    tar -xzf "$HOME_DIR/download/debezium-connector-jdbc-$DEBEZIUM_VERSION-plugin.tar.gz" -C "$PLUGINS"
    rm -rf "$HOME_DIR/download"
    [[ -d "$PLUGINS/debezium-connector-jdbc" ]] || { say "the sink's tarball has no debezium-connector-jdbc/"; exit 1; }
    # Kafka's own jars come from the worker: a second copy in a plugin breaks class loading.
    mvn -q -B -Dstyle.color=never -f "$ROOT/scripts/connect/converter-pom.xml" -Dapicurio.version="$APICURIO_VERSION" \
      dependency:copy-dependencies -DincludeScope=runtime -DexcludeGroupIds=org.apache.kafka \
      -DoutputDirectory="$PLUGINS/apicurio-converter"
    touch "$PLUGINS/.complete"
  fi
}

# render TEMPLATE KEY=VALUE...: print TEMPLATE with each ${KEY} replaced; an unknown ${KEY} is an error.
render() {
  local template="$1"; shift
  python3 - "$template" "$@" <<'PY'
import re, sys
path, pairs = sys.argv[1], dict(a.split("=", 1) for a in sys.argv[2:])
def value(m):
    if m.group(1) not in pairs:
        sys.exit(f"connect: {path}: no value for ${{{m.group(1)}}}")
    return pairs[m.group(1)]
sys.stdout.write(re.sub(r"\$\{([A-Z][A-Z0-9_]*)\}", value, open(path).read()))
PY
}

# properties_json FILE: the connector config as the JSON object the REST API takes.
properties_json() {
  python3 - "$1" <<'PY'
import json, sys
config = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if line and not line.startswith("#"):
        key, _, value = line.partition("=")
        config[key.strip()] = value.strip()
print(json.dumps(config))
PY
}

# sink_state: the connector's and its task's state, e.g. "RUNNING RUNNING" (empty while unknown).
sink_state() {
  curl -fsS -m 5 "$API/connectors/$NAME/status" 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(s["connector"]["state"], *[t["state"] for t in s.get("tasks", [])])' 2>/dev/null || true
}

# jdbc_parts URL: the JDBC URL, user and password (one a line) of a libpq URL postgresql://user:pw@host:port/db?k=v.
jdbc_parts() {
  python3 - "$1" <<'PY'
import sys
from urllib.parse import unquote, urlsplit
u = urlsplit(sys.argv[1])
if u.scheme not in ("postgresql", "postgres") or not u.hostname or not u.path.strip("/"):
    sys.exit("connect: IRL_CONNECT_DB_URL: expected postgresql://user[:password]@host[:port]/database")
host = f"[{u.hostname}]" if ":" in u.hostname else u.hostname
query = f"?{u.query}" if u.query else ""
print(f"jdbc:postgresql://{host}:{u.port or 5432}/{u.path.strip('/')}{query}")
print(unquote(u.username or ""))
print(unquote(u.password or ""))
PY
}

# The table and its version guard (connect/resolved_customers.sql), before the sink writes to it.
create_table() {
  command -v psql >/dev/null || {
    say "psql is needed to create $SCHEMA.$TABLE (Debian: postgresql-client); or run connect/resolved_customers.sql yourself"
    exit 1
  }
  render "$ROOT/connect/resolved_customers.sql" SCHEMA="$SCHEMA" TABLE="$TABLE" >"$RUN/$TABLE.sql"
  # From /: psql goes back to the working directory, which may be closed to it.
  (cd / && PGOPTIONS="-c client_min_messages=warning" psql -q -X -v ON_ERROR_STOP=1 -d "$DB_URL" -f "$RUN/$TABLE.sql") >/dev/null \
    || { say "creating $SCHEMA.$TABLE failed (database $(masked_url))"; exit 1; }
}

# The database URL without its password, for messages.
masked_url() { sed -E 's#(://[^:/@]*:)[^@]*@#\1***@#' <<<"$DB_URL"; }

install_sink() {
  local config="$RUN/$NAME.properties" parts
  parts="$(jdbc_parts "$DB_URL")"
  local jdbc_url user password
  { read -r jdbc_url; read -r user; read -r password || true; } <<<"$parts"
  mkdir -p "$RUN"
  create_table
  # The rendered config holds the database password: readable by us only.
  (umask 077 && render "$ROOT/connect/irl-crm-sink.properties" NAME="$NAME" TOPIC="$TOPIC" JDBC_URL="$jdbc_url" \
    DB_USER="$user" DB_PASSWORD="$password" SCHEMA="$SCHEMA" TABLE="$TABLE" REGISTRY_V2_URL="$REGISTRY_V2" >"$config")
  local answer
  answer="$(properties_json "$config" | curl -sS -m 30 -X PUT -H 'Content-Type: application/json' \
    --data-binary @- -w '\n%{http_code}' "$API/connectors/$NAME/config")"
  if [[ "${answer##*$'\n'}" != 2* ]]; then say "the worker refused the sink's config: ${answer%$'\n'*}"; exit 1; fi
  say "sink $NAME: $TOPIC -> table $SCHEMA.$TABLE in $(masked_url); waiting until its task runs"
  local deadline=$((SECONDS + 60)) state=""
  while ((SECONDS < deadline)); do
    state="$(sink_state)"
    case "$state" in
      "RUNNING RUNNING") say "sink $NAME running"; return 0 ;;
      *FAILED*)
        say "sink $NAME failed: $state; its trace:"
        curl -fsS -m 5 "$API/connectors/$NAME/status" >&2 || true
        exit 1 ;;
    esac
    sleep 0.5
  done
  say "sink $NAME is not running after 60s (state: ${state:-unknown})"; exit 1
}

write_worker_config() {
  mkdir -p "$RUN/logs"
  render "$ROOT/connect/worker.properties" KAFKA_BOOTSTRAP="$KAFKA" HOST="$HOST" PORT="$PORT" \
    PLUGIN_PATH="$PLUGINS" RUN="$RUN" >"$RUN/worker.properties"
}
JAVA_CMD=(java -Xms128m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$ROOT/scripts/connect/log4j2.properties" "-Dconnect.logs.dir=$RUN/logs"
  -cp "$LIBS/*" org.apache.kafka.connect.cli.ConnectStandalone "$RUN/worker.properties")

# In the foreground (a container's main process): the sink is installed from the background once the worker answers.
run() {
  fetch
  write_worker_config
  (
    deadline=$((SECONDS + TIMEOUT))
    until answers; do
      if ((SECONDS >= deadline)); then say "the worker did not answer within ${TIMEOUT}s; the sink is not installed"; exit 1; fi
      sleep 1
    done
    install_sink
  ) &
  exec "${JAVA_CMD[@]}"
}

start() {
  local with_sink=1
  [[ "${1:-}" == "--no-sink" ]] && with_sink=0
  if running_pid >/dev/null && answers; then
    say "already running (pid $(cat "$PIDFILE")) at $API"
  elif ! running_pid >/dev/null && answers; then
    has_sink_plugin || { say "a Connect worker at $API has no $SINK_CLASS plugin: stop it or set IRL_CONNECT_PORT"; exit 1; }
    say "a Connect worker already answers at $API; using it"
  else
    if ! running_pid >/dev/null && port_open "$PORT"; then
      say "port $PORT is taken by something that is not Kafka Connect: stop it or set IRL_CONNECT_PORT"; exit 1
    fi
    local khost="${KAFKA%%,*}"
    port_open_at "$khost" || { say "Kafka does not answer at $KAFKA: start it first (scripts/services.sh up)"; exit 1; }
    fetch
    mkdir -p "$RUN/logs"
    if ! running_pid >/dev/null; then
      write_worker_config
      : >"$LOG"
      nohup "${JAVA_CMD[@]}" >"$RUN/logs/stdout.log" 2>&1 &
      echo $! >"$PIDFILE"
      say "started pid $! on 127.0.0.1:$PORT; waiting up to ${TIMEOUT}s"
    fi
    local deadline=$((SECONDS + TIMEOUT))
    until answers; do
      if ! running_pid >/dev/null; then
        say "the worker exited during start-up; last lines of its log:"
        tail -n 30 "$LOG" "$RUN/logs/stdout.log" >&2 || true
        exit 1
      fi
      if ((SECONDS >= deadline)); then
        say "the worker did not answer within ${TIMEOUT}s; last lines of its log:"
        tail -n 30 "$LOG" "$RUN/logs/stdout.log" >&2 || true
        stop || true
        exit 1
      fi
      sleep 0.5
    done
    has_sink_plugin || { say "the worker did not load $SINK_CLASS from $PLUGINS; see $LOG"; exit 1; }
    say "ready at $API"
  fi
  if ((with_sink)); then install_sink; fi
}

# port_open_at HOST:PORT
port_open_at() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

stop() { stop_pid 30 "not running (none of ours)"; }

status() {
  if answers; then
    if running_pid >/dev/null; then say "running at $API (pid $(cat "$PIDFILE"))"; else say "answering at $API (not ours)"; fi
    local state; state="$(sink_state)"
    say "sink $NAME: ${state:-not installed}"
    if [[ "$state" == *FAILED* ]]; then
      say "its trace (GET $API/connectors/$NAME/status for all of it):"
      curl -fsS -m 5 "$API/connectors/$NAME/status" | python3 -c '
import json, sys
for part in [(s := json.load(sys.stdin))["connector"], *s.get("tasks", [])]:
    if part.get("trace"):
        print("  " + "\n  ".join(part["trace"].splitlines()[:3]))' >&2 || true
      return 1
    fi
    return 0
  fi
  say "not running"; return 1
}

case "${1:-}" in
  fetch) fetch ;;
  start) start "${2:-}" ;;
  run) run ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 fetch|start [--no-sink]|run|stop|status" >&2; exit 2 ;;
esac
