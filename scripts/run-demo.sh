#!/usr/bin/env bash
# Starts the roomgate demo: echo upstream on 127.0.0.1:8081, Envoy with roomgate.wasm on :8080
# (admin :9901), mints tokens with `issuer`, prints curl commands and runs them once.
#
#   scripts/run-demo.sh            serve until Ctrl-C
#   scripts/run-demo.sh --check    run the examples, verify their statuses, stop (used by the tests)
#   scripts/run-demo.sh --module   roomgate as the native module (envoy-module.yaml, dist/libroomgate.so)
#
# Expects `make build envoy` to have run (`make run` / `make run-module` do both).
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
config=envoy.yaml
filter=dist/roomgate.wasm
logs=wasm:info
for arg in "$@"; do
  case "$arg" in
    --check) check=1 ;;
    --module) config=envoy-module.yaml; filter=dist/libroomgate.so; logs=dynamic_modules:info ;;
    *) echo "usage: $0 [--check] [--module]" >&2; exit 2 ;;
  esac
done
# envoy-module.yaml names the module `roomgate`: Envoy loads libroomgate.so from this directory.
export ENVOY_DYNAMIC_MODULES_SEARCH_PATH="$PWD/dist"

ISSUER=target/release/issuer
UPSTREAM=target/release/echo-upstream
ENVOY=.venv/bin/envoy
for bin in "$ISSUER" "$UPSTREAM" "$ENVOY" "$filter"; do
  [[ -e "$bin" ]] || { echo "missing $bin: run 'make run' (or 'make build envoy')" >&2; exit 2; }
done
mkdir -p .run

# The secret: yours if JWT_APP_SECRET is set, else one generated once and kept in .run/secret.
if [[ -z "${JWT_APP_SECRET:-}" ]]; then
  [[ -s .run/secret ]] || "$ISSUER" secret > .run/secret
  JWT_APP_SECRET="$(cat .run/secret)"
fi
export JWT_APP_SECRET

pids=()
stop() {
  for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

# setsid: a process group of their own, so they survive the shell's job control and stop together.
setsid "$UPSTREAM" --port 8081 2> .run/upstream.log &
pids+=($!)
setsid "$ENVOY" -c "$config" --concurrency 1 --base-id 8080 --disable-hot-restart \
  -l warning --component-log-level "$logs" --log-path .run/envoy.log &
pids+=($!)

for _ in $(seq 1 300); do
  if [[ "$(curl -s http://127.0.0.1:9901/ready 2>/dev/null)" == LIVE* ]]; then break; fi
  if ! kill -0 "${pids[1]}" 2>/dev/null; then
    echo "envoy exited; see .run/envoy.log:" >&2; tail -n 20 .run/envoy.log >&2; exit 1
  fi
  sleep 0.1
done
[[ "$(curl -s http://127.0.0.1:9901/ready)" == LIVE* ]] || { echo "envoy did not become ready" >&2; exit 1; }

JITSI=$("$ISSUER" mint jitsi standup --iss roomgate-demo --name Alice)
LOBBY=$("$ISSUER" mint videocall standup-2024 --email alice@example.com --name Alice --host --secret-env JWT_APP_SECRET)

status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
declare -a names=() want=() got=()
example() { # name expected-status curl-args...
  local name=$1 expected=$2; shift 2
  names+=("$name"); want+=("$expected"); got+=("$(status "$@")")
}
example "jitsi link, its room"        200 "http://127.0.0.1:8080/standup?jwt=$JITSI"
example "no token"                    401 "http://127.0.0.1:8080/standup"
example "jitsi token, another room"   403 "http://127.0.0.1:8080/retro?jwt=$JITSI"
example "bearer header"               200 -H "Authorization: Bearer $JITSI" "http://127.0.0.1:8080/standup"
example "videocall.rs lobby"          200 "http://127.0.0.1:8080/lobby?token=$LOBBY"
example "retired lobby path"          410 "http://127.0.0.1:8080/lobby/alice@example.com/standup-2024"
example "public asset"                200 "http://127.0.0.1:8080/libs/app.js"

cat <<TXT

roomgate demo is up: Envoy + $filter on http://127.0.0.1:8080 (admin http://127.0.0.1:9901),
echo upstream on 127.0.0.1:8081. The secret is in JWT_APP_SECRET (kept in .run/secret).

Try it (tokens minted just now by target/release/issuer, valid 10 minutes):

  JITSI=$JITSI
  LOBBY=$LOBBY

  curl -i "http://127.0.0.1:8080/standup?jwt=\$JITSI"        # 200: the upstream echoes x-roomgate-* identity
  curl -i  http://127.0.0.1:8080/standup                      # 401 missing_token
  curl -i "http://127.0.0.1:8080/retro?jwt=\$JITSI"          # 403 room_mismatch
  curl -i "http://127.0.0.1:8080/lobby?token=\$LOBBY"        # 200: room taken from the token
  curl -i  http://127.0.0.1:8080/lobby/alice@example.com/standup-2024   # 410 gone

Mint more:  JWT_APP_SECRET=\$(cat .run/secret) target/release/issuer mint jitsi ROOM --iss roomgate-demo --url http://127.0.0.1:8080
Metrics:    curl -s http://127.0.0.1:9901/stats | grep roomgate
Logs:       .run/envoy.log

Checked just now:
TXT
fail=0
for i in "${!names[@]}"; do
  mark=ok; [[ "${got[$i]}" == "${want[$i]}" ]] || { mark=FAIL; fail=1; }
  printf '  %-28s expected %s, got %s  %s\n' "${names[$i]}" "${want[$i]}" "${got[$i]}" "$mark"
done
if (( check )); then exit "$fail"; fi
(( fail == 0 )) || echo "some examples did not answer as expected; see .run/envoy.log" >&2
echo; echo "Serving; Ctrl-C stops Envoy and the upstream."
wait "${pids[1]}"
