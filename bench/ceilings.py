"""The database's own ceiling for a write path's statements (issue 20, item 1), measured on the
seeded guildhall database at the path's connection count:
- PostgreSQL: pgbench with bench/ceiling/refresh.pgbench.sql (prepared by refresh.prepare.sql);
- SQLite: `bench ceiling` (bench/src/ceiling/statements.rs), in guildhall's transaction mode.
The statements themselves live in those two files only."""
import glob
import json
import os
import re
import statistics
import subprocess
import tempfile

from harness import ROOT, pinned

CEILING = os.path.join(ROOT, "bench", "ceiling")


def sqlite(helper, data, path, connections, duration, client_id=None):
    """`bench ceiling` on the server's guildhall.db (the server idle meanwhile)."""
    cmd = [helper, "ceiling", "--database", os.path.join(data, "guildhall.db"), "--path", path,
           "--connections", str(connections), "--seconds", str(duration)]
    if client_id:
        cmd += ["--client-id", client_id]
    out = subprocess.run(pinned(cmd, "server"), capture_output=True, text=True, timeout=duration + 120)
    if out.returncode != 0:
        raise SystemExit(f"bench ceiling failed: {out.stderr}")
    result = json.loads(out.stdout)
    if result["exhausted"]:
        print(f"ceiling ({path}): its prepared rows ran out after {result['seconds']:.1f} s", flush=True)
    return result


def pgbench_refresh(database_url, connections, duration):
    """pgbench running refresh's statements, one chain per client, `-M prepared` (sqlx prepares
    and caches every statement, as pgbench does in this mode); p50 and p99 from its per-transaction log."""
    subprocess.run(["psql", database_url, "-q", "-v", "ON_ERROR_STOP=1", "-v", f"connections={connections}",
                    "-f", os.path.join(CEILING, "refresh.prepare.sql")], check=True, capture_output=True)
    logs = tempfile.mkdtemp(prefix="guildhall-pgbench-")
    cmd = ["pgbench", "-n", "-M", "prepared", "-c", str(connections), "-j", "2", "-T", str(duration),
           "-D", "started=0", "-l", "--log-prefix", os.path.join(logs, "tx"),
           "-f", os.path.join(CEILING, "refresh.pgbench.sql"), database_url]
    out = subprocess.run(pinned(cmd, "load"), capture_output=True, text=True, timeout=duration + 120)
    text = out.stdout + out.stderr
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", text)
    if not m:
        raise SystemExit(f"pgbench failed:\n{text}")
    latencies = []
    for name in glob.glob(os.path.join(logs, "tx*")):
        with open(name) as f:
            latencies += [int(line.split()[2]) / 1000 for line in f if line.strip()]
        os.remove(name)
    os.rmdir(logs)
    latencies.sort()
    failed = re.search(r"number of failed transactions: (\d+)", text)
    aborted = len(re.findall(r"client \d+ .*aborted", text))
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    return {"rps": float(m.group(1)), "p50": q[49], "p99": q[98],
            "errors": (int(failed.group(1)) if failed else 0) + aborted}
