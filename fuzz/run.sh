#!/usr/bin/env bash
# Runs roomgate's fuzz targets one after another, each for a bounded time, and prints one summary
# line per target (executions, seconds, crashes). Exits non-zero if any target crashed.
#
#   fuzz/run.sh [SECONDS] [TARGET...]     default: 900 seconds, every target (config verify decide head json)
#
# Needs the nightly toolchain and cargo-fuzz (installed here if missing). New corpus entries go to
# fuzz/corpus/<target> (not committed); the committed seeds are fuzz/seeds/<target>. A crash leaves
# its input in fuzz/artifacts/<target>/ (reproduce: cargo +nightly fuzz run <target> <file>).
set -uo pipefail
cd "$(dirname "$0")"
seconds="${1:-900}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(config verify decide head json)

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo +nightly fuzz build >/dev/null || exit 1

failed=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" logs
    log="logs/$t.log"
    nice -n 19 cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1
    rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    crashes=$(ls "artifacts/$t" 2>/dev/null | grep -c -E '^(crash|oom|timeout|leak)-' || true)
    echo "fuzz $t: ${runs:-?} executions in ${seconds}s, exit $rc, ${crashes} crash/oom/timeout artifacts"
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        failed=1
        tail -30 "$log"
    fi
done
exit "$failed"
