#!/usr/bin/env python3
"""`make bench`: roomgate side by side with what users would otherwise run.

Six Envoy 1.40 instances (each `--concurrency 1`, pinned to CPU 0) proxy to the same minimal
upstream; wrk, the upstream and the auth service run pinned to CPU 1:

  A  Envoy, no auth filter                       the limit
  N  Envoy + a no-op proxy-wasm filter (V8)      the floor any wasm filter pays
  B  Envoy + roomgate.wasm (V8)                  JWT allowed, static token allowed, 401, 403, public
  M  Envoy + libroomgate.so (native module)      JWT allowed, public
  C  Envoy + native jwt_authn (HS256, JWKS oct)  the best local verifier Envoy has
  D  Envoy + ext_authz (HTTP) -> authsvc         the auth-service architecture (auth_request -> service)

Measurements are interleaved: every round measures every case once, each round in an order of its
own, so a noisy, shared machine slows every configuration alike and a drift within a round favours
none; each one is warmed up, then measured for a fixed time. Ratios are medians of per-round ratios. Envoy's CPU time per
request comes from /proc/<pid>/stat over the measured window. Results go to bench/RESULTS.md.

Only the Python standard library is used. Tokens are minted here with hmac/hashlib, independently
of roomgate's own code.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import platform
import re
import shutil
import socket
import random
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
SECRET = "bench-secret-0123456789abcdefghijklmnopqrstuv"  # >= 32 bytes, as roomgate requires
OTHER_SECRET = "not-the-bench-secret-0123456789abcdefghijkl"
STANDUP_TOKEN = "standup-room-token-0123456789abcdef0123456"  # a static per-room token
ISSUER = "roomgate-demo"
TICK = os.sysconf("SC_CLK_TCK")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(claims, secret=SECRET):
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    sig = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(sig)}"


def jitsi_claims(room, now):
    """A token as Jitsi deployments mint them (context.user, aud, iss, sub, room)."""
    return {
        "aud": "jitsi",
        "iss": ISSUER,
        "sub": "meet.example.com",
        "room": room,
        "iat": now,
        "nbf": now - 10,
        "exp": now + 3 * 3600,
        "context": {"user": {"name": "Alice Example", "email": "alice@example.com",
                             "moderator": True, "id": "alice"}},
    }


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Envoy configurations
# ---------------------------------------------------------------------------------------------

def cluster(name, port):
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
                "socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}],
        },
    }


def wasm_filter(name, wasm_path, configuration, env):
    return {
        "name": name,
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": name,
                "root_id": name,
                "fail_open": False,
                "vm_config": {
                    "vm_id": name,
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": {"local": {"filename": wasm_path}},
                    "environment_variables": {"key_values": env},
                },
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": configuration,
                },
            },
        },
    }


def module_filter(configuration):
    """roomgate as the native dynamic module (found on ENVOY_DYNAMIC_MODULES_SEARCH_PATH)."""
    return {
        "name": "roomgate",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter",
            "dynamic_module_config": {"name": "roomgate"},
            "filter_name": "roomgate",
            "filter_config": {
                "@type": "type.googleapis.com/google.protobuf.StringValue",
                "value": configuration,
            },
        },
    }


def jwt_authn_filter():
    jwks = {"keys": [{"kty": "oct", "alg": "HS256", "k": b64url(SECRET.encode())}]}
    return {
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": {
                "rooms": {
                    "issuer": ISSUER,
                    "local_jwks": {"inline_string": json.dumps(jwks)},
                    "from_headers": [{"name": "Authorization", "value_prefix": "Bearer "}],
                    "forward": False,
                    "require_expiration": True,
                    "clock_skew_seconds": 30,
                    "claim_to_headers": [
                        {"header_name": "x-roomgate-room", "claim_name": "room"},
                        {"header_name": "x-roomgate-subject", "claim_name": "sub"},
                    ],
                }
            },
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "rooms"}}],
        },
    }


def ext_authz_filter(port):
    return {
        "name": "envoy.filters.http.ext_authz",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
            "transport_api_version": "V3",
            "failure_mode_allow": False,
            "http_service": {
                "server_uri": {"uri": f"http://127.0.0.1:{port}", "cluster": "authsvc",
                               "timeout": "1s"},
                "path_prefix": "/auth",
                "authorization_response": {"allowed_upstream_headers": {"patterns": [
                    {"exact": "x-roomgate-room"}, {"exact": "x-roomgate-subject"}]}},
            },
        },
    }


def envoy_config(listen, admin, upstream, filters, extra_clusters=()):
    router = {"name": "envoy.filters.http.router", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "rooms",
        "normalize_path": False,
        "merge_slashes": False,
        "route_config": {"name": "rooms", "virtual_hosts": [{
            "name": "meet", "domains": ["*"],
            "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}]}]},
        "http_filters": list(filters) + [router],
    }
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "static_resources": {
            "listeners": [{
                "name": "rooms",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": listen}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": hcm}]}],
            }],
            "clusters": [cluster("upstream", upstream)] + list(extra_clusters),
        },
    }


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------

class Proc:
    def __init__(self, name, argv, cpu, env=None, log=None):
        self.name = name
        out = open(log, "wb") if log else subprocess.DEVNULL
        self.p = subprocess.Popen(["taskset", "-c", str(cpu)] + argv, stdin=subprocess.DEVNULL,
                                  stdout=out, stderr=subprocess.STDOUT,
                                  env={**os.environ, **(env or {})})

    def cpu_seconds(self):
        """User + system CPU of the process (all threads) so far."""
        with open(f"/proc/{self.p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        if self.alive():
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def get(port, path, headers=None, timeout=5):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


def wait_ready(admin_port, proc, log, deadline=60):
    end = time.time() + deadline
    while time.time() < end:
        if not proc.alive():
            sys.exit(f"{proc.name} exited at start; log:\n{open(log).read()[-3000:]}")
        try:
            if get(admin_port, "/ready", timeout=1) == (200, "LIVE\n"):
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"{proc.name} not ready after {deadline}s; log:\n{open(log).read()[-3000:]}")


def wait_port(port, proc, deadline=10):
    end = time.time() + deadline
    while time.time() < end:
        if not proc.alive():
            sys.exit(f"{proc.name} exited at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{proc.name} not listening on {port}")


# ---------------------------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------------------------

UNITS = {"us": 1.0, "ms": 1000.0, "s": 1_000_000.0}


def parse_latency(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")


def wrk(args, port, path, headers, seconds):
    argv = ["taskset", "-c", str(args.load_cpu), args.wrk, "-t1", f"-c{args.connections}",
            f"-d{seconds}s", "--latency", "--timeout", "2s"]
    for h in headers:
        argv += ["-H", h]
    argv.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s)", out)
    if not m:
        sys.exit(f"cannot read wrk's output:\n{out}")
    requests = int(m.group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": parse_latency(lat.get("50", "")),
        "p99": parse_latency(lat.get("99", "")),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
        "argv": argv,
    }


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seconds", type=int, default=3, help="measured time per case and round")
    ap.add_argument("--warmup", type=int, default=1, help="warm-up time before each measurement")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--envoy", default=os.path.join(ROOT, ".venv/bin/envoy"))
    ap.add_argument("--wasm", default=os.path.join(ROOT, "dist/roomgate.wasm"))
    ap.add_argument("--module", default=os.path.join(ROOT, "dist/libroomgate.so"))
    ap.add_argument("--noop", default=os.path.join(ROOT, "target/bench/wasm32-wasip1/release/roomgate_bench_noop.wasm"))
    ap.add_argument("--tools", default=os.path.join(ROOT, "target/bench/release"))
    ap.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    ap.add_argument("--out", default=os.path.join(BENCH, "RESULTS.md"))
    ap.add_argument("--only", default="", help="comma-separated case names (for quick runs)")
    ap.add_argument("--compare", action="append", default=[], metavar="NAME=WASM",
                    help="also measure the JWT case on another roomgate build (profiling)")
    ap.add_argument("--envoy-cpu", type=int, default=0)
    ap.add_argument("--load-cpu", type=int, default=1)
    args = ap.parse_args()

    for path in (args.envoy, args.wasm, args.module, args.noop, os.path.join(args.tools, "authsvc"),
                 os.path.join(args.tools, "bench-upstream")):
        if not os.path.exists(path):
            sys.exit(f"missing {path} (run `make bench`, which builds it)")
    if not shutil.which(args.wrk):
        sys.exit("wrk not found (`apt-get install -y wrk`)")

    now = int(time.time())
    jwt_ok = mint(jitsi_claims("standup", now))
    jwt_forged = mint(jitsi_claims("standup", now), OTHER_SECRET)
    bearer = f"Authorization: Bearer {jwt_ok}"

    tmp = tempfile.mkdtemp(prefix="roomgate-bench-")
    procs = []
    try:
        upstream_port, authsvc_port = free_port(), free_port()
        up = Proc("upstream", [os.path.join(args.tools, "bench-upstream"), str(upstream_port)],
                  args.load_cpu)
        procs.append(up)
        authsvc = Proc("authsvc", [os.path.join(args.tools, "authsvc"), str(authsvc_port)],
                       args.load_cpu, env={"JWT_APP_SECRET": SECRET, "AUTHSVC_ISSUERS": ISSUER})
        procs.append(authsvc)
        wait_port(upstream_port, up)
        wait_port(authsvc_port, authsvc)

        with open(os.path.join(BENCH, "roomgate.json")) as f:
            roomgate_config = f.read()
        filters = {
            "A": [],
            "N": [wasm_filter("noop", args.noop, "{}", {})],
            "B": [wasm_filter("roomgate", args.wasm, roomgate_config,
                              {"JWT_APP_SECRET": SECRET, "STANDUP_TOKEN": STANDUP_TOKEN})],
            **{f"B:{n}": [wasm_filter("roomgate", os.path.abspath(w), roomgate_config,
                                      {"JWT_APP_SECRET": SECRET, "STANDUP_TOKEN": STANDUP_TOKEN})]
               for n, w in (c.split("=", 1) for c in args.compare)},
            "M": [module_filter(roomgate_config)],
            "C": [jwt_authn_filter()],
            "D": [ext_authz_filter(authsvc_port)],
        }
        # The module reads its secrets from Envoy's own environment.
        module_env = {"JWT_APP_SECRET": SECRET, "STANDUP_TOKEN": STANDUP_TOKEN,
                      "ENVOY_DYNAMIC_MODULES_SEARCH_PATH": os.path.dirname(os.path.abspath(args.module))}
        envoys = {}
        for i, (name, chain) in enumerate(filters.items()):
            listen, admin = free_port(), free_port()
            extra = [cluster("authsvc", authsvc_port)] if name == "D" else []
            cfg_path = os.path.join(tmp, f"envoy-{name}.json")
            with open(cfg_path, "w") as f:
                json.dump(envoy_config(listen, admin, upstream_port, chain, extra), f, indent=1)
            log = os.path.join(tmp, f"envoy-{name}.log")
            argv = [args.envoy, "-c", cfg_path, "--concurrency", "1", "--disable-hot-restart",
                    "--base-id", str(os.getpid() % 10000 * 10 + i), "-l", "info",
                    "--log-path", log]
            proc = Proc(f"envoy {name}", argv, args.envoy_cpu, env=module_env if name == "M" else None,
                        log=os.path.join(tmp, f"stdout-{name}.log"))
            procs.append(proc)
            envoys[name] = (proc, listen, admin, log, cfg_path)
        for proc, _, admin, log, _ in envoys.values():
            wait_ready(admin, proc, log)

        # Cases: (name, config, path, headers, expected status, what it shows)
        cases = [
            ("A", "A", "/standup", [bearer], 200, "Envoy, no auth filter (the limit)"),
            ("A public", "A", "/health", [], 200, "Envoy, no auth filter, the public route's request"),
            ("N", "N", "/standup", [bearer], 200, "Envoy + no-op wasm filter (V8 floor)"),
            ("B jwt", "B", "/standup", [bearer], 200, "roomgate: JWT allowed"),
            ("B static", "B", "/standup", [f"Authorization: Bearer {STANDUP_TOKEN}"], 200,
             "roomgate: static room token allowed"),
            ("B 401", "B", "/standup", [f"Authorization: Bearer {jwt_forged}"], 401,
             "roomgate: forged JWT, 401 bad_signature"),
            ("B 403", "B", "/retro", [bearer], 403, "roomgate: valid JWT, other room, 403"),
            ("B public", "B", "/health", [], 200, "roomgate: public route"),
            ("M jwt", "M", "/standup", [bearer], 200, "roomgate native module: JWT allowed"),
            ("M public", "M", "/health", [], 200, "roomgate native module: public route"),
            *[(f"B jwt {n}", f"B:{n}", "/standup", [bearer], 200, f"roomgate build {n}: JWT allowed")
              for n in (c.split("=", 1)[0] for c in args.compare)],
            ("C", "C", "/standup", [bearer], 200, "Envoy jwt_authn (HS256), same token"),
            ("D", "D", "/standup", [bearer], 200, "Envoy ext_authz -> authsvc, same token"),
        ]
        if args.only:
            keep = {c.strip() for c in args.only.split(",")}
            cases = [c for c in cases if c[0] in keep]

        # Sanity: every case answers as expected, and the verifiers refuse the forged token.
        for name, cfg, path, headers, want, _ in cases:
            h = dict(x.split(": ", 1) for x in headers)
            status, body = get(envoys[cfg][1], path, h)
            if status != want or (want == 200 and body != "ok"):
                sys.exit(f"{name}: expected {want}, got {status}: {body[:300]}\n"
                         f"{open(envoys[cfg][3]).read()[-3000:]}")
        for cfg in ("B", "M", "C", "D"):
            if cfg in envoys:
                status, _ = get(envoys[cfg][1], "/standup", {"Authorization": f"Bearer {jwt_forged}"})
                if status != 401:
                    sys.exit(f"config {cfg} did not refuse a forged token ({status})")

        load_before = os.getloadavg()
        results = {c[0]: [] for c in cases}
        started = time.time()
        for rnd in range(args.rounds):
            # Each round measures every case, in its own order (fixed per round, so runs repeat): a
            # machine that speeds up or slows down during a round then favours no case.
            order = cases[:]
            random.Random(rnd).shuffle(order)
            for name, cfg, path, headers, want, _ in order:
                proc, port = envoys[cfg][0], envoys[cfg][1]
                wrk(args, port, path, headers, args.warmup)
                cpu0, helper0 = proc.cpu_seconds(), authsvc.cpu_seconds()
                r = wrk(args, port, path, headers, args.seconds)
                cpu1, helper1 = proc.cpu_seconds(), authsvc.cpu_seconds()
                r["cpu_us"] = (cpu1 - cpu0) * 1e6 / max(r["requests"], 1)
                r["helper_us"] = (helper1 - helper0) * 1e6 / max(r["requests"], 1)
                r["bad"] = r["non2xx"] if want == 200 else r["requests"] - r["non2xx"]
                results[name].append(r)
                print(f"round {rnd + 1}/{args.rounds}  {name:9s} {r['rps']:9.0f} req/s  "
                      f"p50 {r['p50']:7.0f} µs  p99 {r['p99']:7.0f} µs  "
                      f"envoy {r['cpu_us']:6.1f} µs/req  unexpected status {r['bad']}",
                      flush=True)
        elapsed = time.time() - started
        load_after = os.getloadavg()
        for proc, *_ in envoys.values():
            if not proc.alive():
                sys.exit(f"{proc.name} died during the run")
        write_results(args, cases, results, load_before, load_after, elapsed, jwt_ok, envoys)
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def med(rows, key):
    return statistics.median(r[key] for r in rows)


def cmd_output(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "?"


def write_results(args, cases, results, load_before, load_after, elapsed, token, envoys):
    summary = {name: {k: med(rows, k) for k in ("rps", "p50", "p99", "cpu_us", "helper_us")}
               for name, rows in results.items()}
    for name, rows in results.items():
        summary[name]["bad"] = sum(r["bad"] for r in rows)
        summary[name]["requests"] = sum(r["requests"] for r in rows)

    def ratio(name, base, key="rps"):
        if base not in summary or name not in summary:
            return float("nan")
        if key == "rps":
            return summary[name]["rps"] / summary[base]["rps"]
        # capacity ratio from CPU cost: base cost / our cost
        return summary[base]["cpu_us"] / summary[name]["cpu_us"]

    # Per-round ratios: each round's B against the same round's reference, then the median.
    def round_ratios(name, base):
        return [a["rps"] / b["rps"] for a, b in zip(results[name], results[base])]

    def round_ratio(name, base):
        if base not in results or name not in results:
            return float("nan")
        return statistics.median(round_ratios(name, base))

    lines = []
    w = lines.append
    w("# roomgate benchmark")
    w("")
    w(f"Generated by `make bench` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}.")
    w("")
    w("| case | what | requests/s | p50 µs | p99 µs | Envoy CPU µs/req | ×A | ×N | ×C | ×D | unexpected status |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, cfg, path, headers, want, what in cases:
        s = summary[name]
        cells = [f"{round_ratio(name, b):.2f}" if b in summary and b != name else "" for b in "ANCD"]
        cpu = f"{s['cpu_us']:.1f}"
        if cfg == "D":
            cpu += f" (+{s['helper_us']:.1f} authsvc)"
        w(f"| {name} | {what} (`GET {path}` → {want}) | {s['rps']:.0f} | {s['p50']:.0f} | "
          f"{s['p99']:.0f} | {cpu} | " + " | ".join(cells) + f" | {s['bad']} |")
    w("")
    w("Ratios are requests/s, the median of per-round ratios (each round measures every case back to")
    w("back, in an order of its own). Envoy CPU is user+system time of the Envoy process over the")
    w("measured window divided by the requests served (the median over rounds); its inverse is the")
    w("capacity of one core.")
    w("")
    if all(k in summary for k in ("B jwt", "N", "C", "D")):
        cost = {k: summary[k]["cpu_us"] for k in summary}
        w("## Targets")
        w("")
        w("| target | requests/s ratio | CPU-capacity ratio | per-round range | rounds at goal | |")
        w("|---|---:|---:|---:|---:|---|")
        for label, name, base, goal in (
            ("B(JWT) ≥ 0.85 × N", "B jwt", "N", 0.85),
            ("B(JWT) ≥ 1.10 × C", "B jwt", "C", 1.10),
            ("B(JWT) ≥ 1.4 × D", "B jwt", "D", 1.4),
            *((label, name, base, goal) for label, name, base, goal in (
                ("M(JWT) ≥ 0.90 × A", "M jwt", "A", 0.90),
                ("M(JWT) ≥ 1.35 × C", "M jwt", "C", 1.35),
                ("M(public) ≥ 0.95 × A (same request)", "M public", "A public", 0.95),
            ) if name in summary and base in summary),
        ):
            rr = round_ratio(name, base)
            cr = cost[base] / cost[name]
            if base == "D":
                cr = (cost["D"] + summary["D"]["helper_us"]) / cost[name]
            ok = "met" if rr >= goal else "missed"
            each = round_ratios(name, base)
            at_goal = sum(r >= goal for r in each)
            w(f"| {label} | {rr:.3f} | {cr:.3f} | {min(each):.2f}–{max(each):.2f} | "
              f"{at_goal}/{len(each)} | {ok} |")
        w("")
        w(f"roomgate's own work on the JWT path: {cost['B jwt'] - cost['N']:.1f} µs of Envoy CPU per request "
          f"above the no-op filter; the V8 floor (N − A): {cost['N'] - cost['A']:.1f} µs. For D the CPU-capacity "
          "ratio counts the auth service's CPU too.")
        if "M jwt" in cost and "A" in cost:
            w("")
            w(f"The native module's whole JWT path: {cost['M jwt'] - cost['A']:.1f} µs of Envoy CPU per request "
              f"above no filter (A); its public route: "
              f"{cost.get('M public', float('nan')) - cost.get('A public', float('nan')):.1f} µs above "
              "no filter on the same request (A public: no token).")
        w("")
    w("## Run")
    w("")
    size = os.path.getsize(args.wasm)
    w(f"- roomgate.wasm: {size} bytes ({size / 1024:.0f} KiB); no-op filter: {os.path.getsize(args.noop)} bytes; "
      f"libroomgate.so: {os.path.getsize(args.module)} bytes")
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    w(f"- machine: {platform.machine()}, {os.cpu_count()} CPUs ({model}), Linux {platform.release()}")
    w(f"- load average before / after: {load_before[0]:.2f} / {load_after[0]:.2f} "
      "(other work was running on the same machine: ratios come from interleaved rounds)")
    w(f"- Envoy: `{cmd_output([args.envoy, '--version']).split('version:')[-1].strip()}`, "
      f"`--concurrency 1`, pinned to CPU {args.envoy_cpu}; wrk, upstream and authsvc pinned to CPU {args.load_cpu}")
    w(f"- wrk: {cmd_output([args.wrk, '-v']).splitlines()[0] if cmd_output([args.wrk, '-v']) else '?'}; "
      f"{args.rounds} rounds × {len(cases)} cases × ({args.warmup} s warm-up + {args.seconds} s measured), "
      f"{elapsed:.0f} s in all")
    w(f"- git: {cmd_output(['git', '-C', ROOT, 'describe', '--always', '--dirty'])}")
    w(f"- token: {len(token)} bytes, HS256, Jitsi claims (`context.user`, `room`, `iss`, `aud`, `exp`, `nbf`, `iat`)")
    w("")
    w("Commands (per case; `$TOKEN` is the JWT above, `$PORT` the case's Envoy listener):")
    w("")
    w("```")
    w("make bench                      # = python3 bench/run.py " + " ".join(sys.argv[1:]))
    w(f"taskset -c {args.envoy_cpu} envoy -c envoy-X.json --concurrency 1 --disable-hot-restart -l info")
    w(f"taskset -c {args.load_cpu} wrk -t1 -c{args.connections} -d{args.seconds}s --latency --timeout 2s "
      "-H 'Authorization: Bearer $TOKEN' http://127.0.0.1:$PORT/standup")
    w("```")
    w("")
    w("Configurations: `bench/run.py` writes the six Envoy configurations (A: router only; N: the")
    w("no-op filter `bench/noop`; B: `dist/roomgate.wasm` with `bench/roomgate.json`; M: the native")
    w("module `dist/libroomgate.so` with the same JSON, secrets in Envoy's environment; C: `jwt_authn`")
    w("with a local JWKS `oct` key, issuer and `exp` required, `room`/`sub` copied to headers; D:")
    w("`ext_authz` HTTP to `bench/authsvc`, which verifies the same token and room).")
    w("")
    w("## Every round")
    w("")
    w("| round | " + " | ".join(c[0] for c in cases) + " |")
    w("|---|" + "---:|" * len(cases))
    for i in range(args.rounds):
        w(f"| {i + 1} | " + " | ".join(
            f"{results[c[0]][i]['rps']:.0f} ({results[c[0]][i]['cpu_us']:.1f} µs)" for c in cases) + " |")
    w("")
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines[:20]))
    print(f"\nwritten to {os.path.relpath(args.out, os.getcwd())}")


if __name__ == "__main__":
    main()
