#!/usr/bin/env python3
"""Bulk seeding alone, for A/B runs of release builds (issue 20, item 3). For each binary in turn
(alternating, `--rounds` times): a fresh database (SQLite in a temporary directory, or a PostgreSQL
database of that name dropped and created again), `guildhall migrate`, one account whose argon2id
hash the document reuses, then `guildhall seed apply` of `run.py`'s bench document twice (the
first apply creates everything, the second finds nothing to change), each under `/usr/bin/time`.

    python3 bench/seeding.py --users 100000 /tmp/guildhall-before target/release/guildhall
    python3 bench/seeding.py --postgres gh_seed --users 100000 /tmp/guildhall-before target/release/guildhall

Copy a build aside (`cp target/release/guildhall /tmp/guildhall-before`) before rebuilding.
Only figures of one invocation compare: this machine's speed drifts from hour to hour.
"""
import argparse
import os
import subprocess
import sys
import tempfile

from harness import psql
from run import seed_document

POSTGRES = "postgres://postgres@127.0.0.1:5432"
PASSWORD = "correct-horse-battery-staple"


def database(binary, name, extra=None):
    """A fresh database and the environment that points guildhall at it (with `extra`); the
    stored hash."""
    data = tempfile.mkdtemp(prefix="guildhall-seeding-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTH_")}
    env.update({"AUTH_DATA_DIR": data, "RUST_LOG": "error", "AUTH_ISSUER": "http://127.0.0.1:18900", **(extra or {})})
    query = "SELECT password_hash FROM users WHERE email='hash@bench.test'"
    if name:
        for sql in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
            subprocess.run(["psql", f"{POSTGRES}/postgres", "-qc", sql], check=True, capture_output=True)
        env["AUTH_DATABASE_URL"] = f"{POSTGRES}/{name}"
    subprocess.run([binary, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([binary, "users", "create", "hash@bench.test", "--password", PASSWORD], env=env, check=True, capture_output=True)
    if name:
        hash_ = psql(env["AUTH_DATABASE_URL"], query)
    else:
        import sqlite3
        hash_ = sqlite3.connect(os.path.join(data, "guildhall.db")).execute(query).fetchone()[0]
    return data, env, hash_


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binaries", nargs="+")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgres", metavar="DATABASE", help="seed this PostgreSQL database (dropped first) instead of SQLite")
    args = parser.parse_args()
    for round_ in range(args.rounds):
        for binary in args.binaries:
            data, env, hash_ = database(binary, args.postgres)
            doc = os.path.join(data, "bench.yaml")
            with open(doc, "w") as f:
                f.write(seed_document(args.users, max(2, args.users // 500)).replace("{HASH}", hash_))
            for apply in ("first", "second"):
                run = subprocess.run(["/usr/bin/time", "-f", "%e s wall, %U s user, %S s sys, %M KB peak", binary, "seed", "apply", doc],
                                     env=env, capture_output=True, text=True)
                if run.returncode:
                    sys.exit(f"{binary}: seed apply failed:\n{run.stderr[-2000:]}")
                print(f"round {round_ + 1} {binary} {apply} apply: {run.stderr.strip().splitlines()[-1]}", flush=True)
            subprocess.run(["rm", "-rf", data], check=True)


if __name__ == "__main__":
    main()
