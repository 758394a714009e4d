# tests/cli/lib-serve.sh - sourced by the tests that run `loco serve`: one
# server on a free port at a time. Needs $LOCO, $work (the test's temporary
# folder) and fail(); source it after lib-skip.sh.
#   start_server ARGS...  `loco serve --port 0 --threads 2 ARGS`, stderr in
#                         $work/serve.err; sets $server (its pid) and $base
#                         (http://127.0.0.1:PORT) once it listens
#   stop_server           SIGTERM; the server must exit 0 (a sanitizer report
#                         or a leak at exit would not)
#   kill_server           SIGTERM if one runs, whatever it exits with (traps)
server=
base=

start_server() {
  : > "$work/serve.err" # before the server starts: the loop below reads it at once
  "$LOCO" serve --port 0 --threads 2 "$@" 2> "$work/serve.err" &
  server=$!
  local port=
  for _ in $(seq 1 600); do
    port=$(sed -n 's|.*loco serve: listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' \
           "$work/serve.err" | sed -n 1p)
    [ -n "$port" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$work/serve.err"; fail "loco serve exited"; }
    sleep 0.1
  done
  [ -n "$port" ] || fail "loco serve did not start: $(cat "$work/serve.err")"
  base=http://127.0.0.1:$port
}

stop_server() {
  local rc=0
  kill -TERM "$server"
  wait "$server" || rc=$?
  server=
  [ "$rc" = 0 ] || fail "loco serve exited $rc: $(tail -n 30 "$work/serve.err")"
}

kill_server() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=
  fi
}
