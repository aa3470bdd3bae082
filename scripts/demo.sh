#!/usr/bin/env bash
# make demo: the main job end to end on generated data.
#
#   services up (Kafka, registry, Redis) -> topics and contracts -> irl generate -> worker (short windows) -> irl produce
#   -> wait until every event is applied and every window published -> irl crm-sync (changelog and interactions)
#   -> before/after report (terminal + demo-out/report.html): one customer's timeline from the CRM, and a
#      check that the CRM holds as many customers as the worker counts (the demo fails when not)
#
# Each run uses its own topic prefix and app id, so it can be run again; `make down` stops
# the worker it leaves running (for the dashboard) and the services.
# Settings: DEMO_CUSTOMERS (20000), DEMO_SEED (42), DEMO_WINDOW_SECONDS (5), DEMO_OUT (demo-out).
# The worker's own settings pass through the environment: IRL_CUSTOMER_STAGE=off make demo runs it with the
# ordered stage building the records (the default, kafka, runs the per-customer stage over Kafka: the wait
# then also waits for the effects partitions to be applied).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
IRL="$VENV/bin/irl"
PY="$VENV/bin/python"
OUT="${DEMO_OUT:-$ROOT/demo-out}"
CUSTOMERS="${DEMO_CUSTOMERS:-20000}"
SEED="${DEMO_SEED:-42}"
t0=$SECONDS
step() { printf '\n\033[1m[%4ss] %s\033[0m\n' "$((SECONDS - t0))" "$*"; }

step "starting Kafka, the schema registry and Redis"
scripts/services.sh up >/dev/null

RUN_ID="demo$(date +%Y%m%d%H%M%S)"
export IRL_APP_ID="irl-$RUN_ID" IRL_TOPIC_PREFIX="irl-$RUN_ID"
export IRL_WINDOW_SECONDS="${DEMO_WINDOW_SECONDS:-5}" IRL_GRACE_SECONDS="${DEMO_GRACE_SECONDS:-2}" IRL_TICK_SECONDS=0.5
export IRL_WEB_PORT="${IRL_WEB_PORT:-6066}" IRL_WEB_TOKEN="${IRL_WEB_TOKEN:-demo-token}"
export IRL_WEB_ADMIN_TOKEN="${IRL_WEB_ADMIN_TOKEN:-demo-admin-token}"
export IRL_DATA_DIR="$OUT/worker-data"
# The secret key of the digests kept of erased identifiers: generated once for this clone.
IRL_DIGEST_KEY="${IRL_DIGEST_KEY:-$(scripts/local-secret.sh digest-key)}"
export IRL_DIGEST_KEY
# The local Redis requires a password (scripts/redis.sh): its URL carries it.
IRL_REDIS_URL="${IRL_REDIS_URL:-$(scripts/redis.sh url)}"
export IRL_REDIS_URL
mkdir -p "$OUT"
echo "run $RUN_ID: topics $IRL_TOPIC_PREFIX.*, windows of ${IRL_WINDOW_SECONDS}s, per-customer stage ${IRL_CUSTOMER_STAGE:-kafka}, output in $OUT"

# A worker left by an earlier demo holds the web port: stop it first.
if [[ -f "$OUT/worker.pid" ]] && kill -0 "$(cat "$OUT/worker.pid")" 2>/dev/null; then
  kill -TERM "$(cat "$OUT/worker.pid")" || true
  for _ in $(seq 1 100); do kill -0 "$(cat "$OUT/worker.pid")" 2>/dev/null || break; sleep 0.2; done
fi

step "creating topics"
"$IRL" topics create

step "generating $CUSTOMERS customers (seed $SEED)"
if [[ ! -f "$OUT/data-$CUSTOMERS-$SEED/events.jsonl" ]]; then
  "$IRL" generate --customers "$CUSTOMERS" --seed "$SEED" --out "$OUT/data-$CUSTOMERS-$SEED"
fi
DATA="$OUT/data-$CUSTOMERS-$SEED"
EVENTS=$(wc -l <"$DATA/events.jsonl")
echo "$EVENTS events in $DATA/events.jsonl"

step "starting the worker (log: $OUT/worker.log)"
if (exec 3<>"/dev/tcp/127.0.0.1/$IRL_WEB_PORT") 2>/dev/null; then
  echo "port $IRL_WEB_PORT is in use (an earlier worker?): stop it, or run with IRL_WEB_PORT=<free port> make demo" >&2
  exit 1
fi
nohup "$IRL" worker -l info >"$OUT/worker.log" 2>&1 &
echo $! >"$OUT/worker.pid"

step "publishing the events through the touchpoint producers"
"$IRL" produce "$DATA/events.jsonl" --rejects "$OUT/rejects.jsonl"

step "waiting until every event is applied and every window is published"
"$PY" -m streams.demo wait --events "$DATA/events.jsonl" --port "$IRL_WEB_PORT" --token "$IRL_WEB_TOKEN" \
  --pid "$(cat "$OUT/worker.pid")" --log "$OUT/worker.log" --timeout 1200

step "syncing the CRM (SQLite: $OUT/crm.db)"
rm -f "$OUT/crm.db" "$OUT/crm.db-wal" "$OUT/crm.db-shm"
"$IRL" crm-sync --db "sqlite:///$OUT/crm.db" --until-idle 5

step "report"
"$PY" -m streams.demo report --events "$DATA/events.jsonl" --truth "$DATA/truth.csv" \
  --crm "sqlite:///$OUT/crm.db" --html "$OUT/report.html" --json "$OUT/report.json" \
  --port "$IRL_WEB_PORT" --token "$IRL_WEB_TOKEN"
echo
echo "dashboard: http://127.0.0.1:$IRL_WEB_PORT/?token=$IRL_WEB_TOKEN   (worker left running; 'make down' stops it)"
echo "report:    $OUT/report.html"
echo "took $((SECONDS - t0))s"
