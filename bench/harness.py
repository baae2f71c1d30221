"""What every scenario of bench/run.py uses: JSON over HTTP, the guildhall server process, wrk
and its output, and the pinning of processes to cores (--pin)."""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LUA = os.path.join(ROOT, "bench", "lua")
ADMIN = ("root@bench.test", "benchmark admin password")

# Pinned mode (--pin): the server and what stands in for it (the bare ES256 handler, raw
# argon2id, the SQLite ceiling loop) on core 0; load generators (wrk, pgbench) on core 1.
# None: unpinned. Set by run.py for each mode.
PIN = {"server": None, "load": None}


def pinned(cmd, role):
    """`cmd` under `taskset -c <core>` when the current mode pins `role` ("server" or "load")."""
    core = PIN[role]
    return ["taskset", "-c", core, *cmd] if core is not None else list(cmd)


def check_pinning():
    if shutil.which("taskset") is None:
        raise SystemExit("bench: --pin needs taskset (Debian package util-linux)")
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("bench: --pin needs two cores (one for the server, one for the load)")


def http(method, url, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


class Server:
    def __init__(self, binary, data_dir, port, extra):
        self.base = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTH_")}
        env.update({
            "AUTH_DATA_DIR": data_dir, "AUTH_HOST": "127.0.0.1", "AUTH_PORT": str(port),
            "AUTH_ISSUER": self.base, "AUTH_ADMIN_EMAIL": ADMIN[0], "AUTH_ADMIN_PASSWORD": ADMIN[1],
            "AUTH_LOG_FORMAT": "json", "RUST_LOG": "error", "AUTH_ACCESS_TOKEN_TTL": "3600",
        })
        env.update(extra)
        self.env = env
        self.log = open(os.path.join(data_dir, f"server-{port}.log"), "a")
        self.proc = subprocess.Popen(pinned([binary, "serve"], "server"), env=env, stdout=self.log, stderr=self.log)
        for _ in range(300):
            try:
                http("GET", f"{self.base}/healthz")
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("guildhall did not start; see " + self.log.name)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def median_run(runs):
    """Several wrk runs of one scenario as one row: median req/s, p50 and p99; errors summed."""
    return {**{k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")}, "errors": sum(r["errors"] for r in runs)}


def mean_run(runs):
    """Runs of a ceiling right before and right after the figure it bounds, as one row: means."""
    return {**{k: statistics.mean(r[k] for r in runs) for k in ("rps", "p50", "p99")}, "errors": sum(r["errors"] for r in runs)}


def wrk_command(url, script=None, duration=8, connections=32, threads=2, latency=True):
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s"] + (["--latency"] if latency else [])
    if script:
        cmd += ["-s", os.path.join(LUA, script)]
    return pinned(cmd + [url], "load")


def wrk(url, script=None, env=None, duration=8, connections=32, threads=2):
    cmd = wrk_command(url, script, duration, connections, threads)
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {}), "THREADS": str(threads)}, timeout=duration + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        lat[pct] = float(m.group(1)) * UNITS[m.group(2)]
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    return {"rps": rps, "p50": lat["50"], "p99": lat["99"], "errors": errors}


def psql(url, sql):
    """What psql prints for `sql` on `url`: unaligned, without headers, columns separated by a
    space, surrounding whitespace stripped."""
    return subprocess.run(["psql", url, "-AtF", " ", "-c", sql], capture_output=True, text=True, check=True).stdout.strip()


def file_sizes(database_url, data):
    """The database's size on disk: guildhall.db and its WAL (SQLite), or the database (PostgreSQL)."""
    if database_url:
        return f"database {int(psql(database_url, 'SELECT pg_database_size(current_database())')) / 1e6:.1f} MB"
    sizes = []
    for name in ("guildhall.db", "guildhall.db-wal"):
        path = os.path.join(data, name)
        sizes.append(f"{name} {os.path.getsize(path) / 1e6 if os.path.exists(path) else 0:.1f} MB")
    return ", ".join(sizes)
