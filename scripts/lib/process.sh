# Shared by the service scripts (source it; it defines functions only).
# Each script sets PIDFILE and defines say() before calling these.

# port_open PORT: true when something accepts TCP on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# running_pid: print the pid in $PIDFILE when that process is alive; false otherwise.
running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid; pid="$(cat "$PIDFILE")"
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# stop_pid GRACE_S [NOT_RUNNING_MESSAGE]: SIGTERM our process, SIGKILL it after GRACE_S seconds,
# wait until it is gone and remove $PIDFILE.
stop_pid() {
  local grace="$1" missing="${2:-not running}" pid
  if ! pid="$(running_pid)"; then rm -f "$PIDFILE"; say "$missing"; return 0; fi
  kill -TERM "$pid"
  local deadline=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then say "pid $pid ignored SIGTERM for ${grace}s; killing"; kill -KILL "$pid" || true; fi
    sleep 0.2
  done
  rm -f "$PIDFILE"
  say "stopped"
}
