#!/usr/bin/env python3
"""Fan-out (issue 20, item 5): the permissions of a role held by every member of a 100,000-member
organisation change while two replicas on one PostgreSQL database answer `/auth/validate`.

A fresh database (dropped and created again), `guildhall migrate`, and one organisation,
`fanout`, whose --users members all hold the custom role `reader` (20 teams and 10 domains, as in
run.py's document), seeded with a pre-hashed password. Two replicas, A and B, share the database
(and one issuer). Each gets a wrk (one thread, 16 connections) cycling through the tokens of
--tokens members (`bench/lua/pool.lua` with CYCLE set), so after the first pass every validation is warm.

Then --rounds rounds, each of two phases of --duration seconds under the same load:
- idle: nothing changes;
- change: at a third of the phase, `PATCH /orgs/{fanout}/roles/{reader}` on A adds (or, the next
  round, removes) `write:docs`, and a poller asks B's `/auth/validate` about one holder's token in
  a loop until the answer has the new permissions.
Before the first phase the bench waits for the seed's events to be fanned out (the outbox's
webhook queue empty), so the replicas' background work does not count against the phases.
Reported: the PATCH's answer time (its commit included), the time until B answers with the new permissions (from the PATCH's sending and from its
answer), each replica's validate p99 idle and during the change, and the invalidation messages
PostgreSQL carried (their count and bytes: they must not grow with the member count).

    bench/run.sh fanout --users 100000
    python3 bench/fanout.py --users 1000 --duration 6 --rounds 2     # a quick look

Needs wrk and psql (bench/run.sh installs them) and release builds (`cargo build --release -p
guildhall -p bench`, or --no-build with them in place). Only figures of one run compare.
"""
import argparse
from http.client import HTTPConnection
import json
import os
import statistics
import subprocess
import sys
import threading
import time

from harness import ADMIN, ROOT, Server, http, psql, wrk
from seeding import PASSWORD, POSTGRES, database

PORTS = (18910, 18911)
CHANNEL = "guildhall_invalidations"


def document(users):
    lines = ["orgs:", "  - slug: fanout", "    name: Fan-out", "    roles:",
             "      - {key: reader, name: Reader, permissions: [read:docs]}", "    teams:"]
    lines += [f"      - {{slug: team-{t}, name: Team {t}}}" for t in range(20)]
    lines += ["    domains:"]
    lines += [f"      - {{key: d{d}, name: D{d}}}" for d in range(10)]
    lines += ["    users:"]
    for u in range(users):
        lines.append(f"      - {{email: user{u}@bench.test, password_hash: '{{HASH}}', roles: [member, reader],"
                     f" teams: {{team-{u % 20}: member, team-{(u + 7) % 20}: maintainer}}, domains: [d{u % 10}]}}")
    return "\n".join(lines) + "\n"


class Listener:
    """`LISTEN` on guildhall's channel in a psql session for as long as a phase lasts; psql prints
    the notifications it received after its next command."""

    def __init__(self, url, seconds):
        script = f"LISTEN {CHANNEL};\nSELECT pg_sleep({seconds});\nSELECT 1;\n"
        self.proc = subprocess.Popen(["psql", url, "-At"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.proc.stdin.write(script)
        self.proc.stdin.close()

    def payloads(self):
        out = self.proc.stdout.read()
        self.proc.wait(timeout=60)
        marker = 'with payload "'
        return [line.split(marker, 1)[1].rsplit('" received', 1)[0] for line in out.splitlines() if marker in line]


def load(base, tokens, seconds, into, key, delay_ms):
    env = {"TOKENS": tokens, "CYCLE": "1", "DELAY_MS": str(delay_ms)}
    into[key] = wrk(f"{base}/auth/validate", "pool.lua", env, seconds, 16, threads=1)


def permissions_of(conn, token):
    conn.request("POST", "/auth/validate", json.dumps({"token": token}), {"content-type": "application/json"})
    answer = json.loads(conn.getresponse().read())
    if answer.get("valid") is not True:
        raise SystemExit(f"validate refused a holder's token: {answer}")
    return answer["user"]["permissions"]


def phase(ctx, change_to=None):
    """One phase under load on both replicas; with `change_to`, the role's new permissions."""
    (a, b), D = ctx["servers"], ctx["duration"]
    results, threads = {}, []
    for server, key in ((a, "A"), (b, "B")):
        threads.append(threading.Thread(target=load, args=(server.base, ctx["tokens"], D, results, key, ctx["delay_ms"])))
    listener = Listener(ctx["url"], D + 1)
    for t in threads:
        t.start()
    figures = {}
    if change_to is not None:
        time.sleep(D / 3)
        port = int(b.base.rsplit(":", 1)[1])
        conn = HTTPConnection("127.0.0.1", port, timeout=30)
        want = "write:docs" in change_to
        sent = time.monotonic()
        answered = {}

        def patch():
            http("PATCH", f"{a.base}/orgs/{ctx['org']}/roles/{ctx['role']}", {"permissions": change_to}, token=ctx["admin"])
            answered["at"] = time.monotonic()
        patcher = threading.Thread(target=patch)
        patcher.start()
        polls = 0
        while ("write:docs" in permissions_of(conn, ctx["probe"])) != want:
            polls += 1
            if time.monotonic() - sent > 30:
                raise SystemExit("replica B did not answer with the new permissions within 30 s")
        seen = time.monotonic()
        patcher.join()
        conn.close()
        figures = {"patch": answered["at"] - sent, "seen": seen - sent, "after_commit": seen - answered["at"], "polls": polls}
    for t in threads:
        t.join()
    payloads = listener.payloads()
    figures.update({"A": results["A"], "B": results["B"], "messages": len(payloads), "bytes": sum(len(p) for p in payloads)})
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--tokens", type=int, default=10_000, help="members whose tokens the load cycles through")
    parser.add_argument("--duration", type=int, default=9, help="seconds a phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default="gh_fanout", help="the PostgreSQL database to use (dropped first)")
    parser.add_argument("--delay-ms", type=int, default=0,
                        help="each connection waits this long before each request (paced load; default 0: as fast as the server answers)")
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "guildhall", "-p", "bench"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target", "release", "guildhall")
    helper = os.path.join(ROOT, "target", "release", "bench")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    # The benchmark's superuser exists from the start (the first start creates one only when none does).
    data, env, hash_ = database(binary, args.database, {"AUTH_ADMIN_EMAIL": ADMIN[0], "AUTH_ADMIN_PASSWORD": ADMIN[1]})
    url = env["AUTH_DATABASE_URL"]
    doc = os.path.join(data, "fanout.yaml")
    with open(doc, "w") as f:
        f.write(document(args.users).replace("{HASH}", hash_))
    started = time.monotonic()
    subprocess.run([binary, "seed", "apply", doc], env=env, check=True, capture_output=True)
    print(f"seeded {args.users} members of one organisation in {time.monotonic() - started:.1f} s", file=sys.stderr)

    extra = {"AUTH_DATABASE_URL": url, "AUTH_ISSUER": f"http://127.0.0.1:{PORTS[0]}"}
    servers = [Server(binary, data, PORTS[0], extra)]
    try:
        servers.append(Server(binary, data, PORTS[1], extra))
        a = servers[0]
        template = http("POST", f"{a.base}/auth/login", {"email": "user0@bench.test", "password": PASSWORD})["access_token"]
        admin = http("POST", f"{a.base}/auth/login", {"email": ADMIN[0], "password": ADMIN[1]})["access_token"]
        org = psql(url, "SELECT id FROM organisations WHERE slug = 'fanout'")
        role = psql(url, f"SELECT id FROM roles WHERE org_id = '{org}' AND key = 'reader'")
        holders = psql(url, f"SELECT count(*) FROM member_roles WHERE role_id = '{role}'")
        pairs = psql(url, f"SELECT m.user_id, m.org_id FROM org_members m WHERE m.org_id = '{org}' ORDER BY m.user_id LIMIT {args.tokens}")
        subjects = os.path.join(data, "subjects.txt")
        with open(subjects, "w") as f:
            f.write(pairs + "\n")
        kid, pkcs8 = psql(url, "SELECT kid, private_key FROM signing_keys WHERE retired_at IS NULL AND algorithm = 'ES256'"
                               " ORDER BY created_at DESC LIMIT 1").split(" ")
        tokens = os.path.join(data, "tokens.txt")
        count = len(pairs.splitlines())
        subprocess.run([helper, "mint", "--template", template, "--count", str(count), "--start", "0", "--kid", kid,
                        "--pkcs8", pkcs8, "--subjects", subjects, "--out", tokens], check=True)
        with open(tokens) as f:
            probe = f.readline().strip()
        ctx = {"servers": servers, "duration": args.duration, "tokens": tokens, "url": url, "org": org, "role": role,
               "admin": admin, "probe": probe, "delay_ms": args.delay_ms}
        waited = time.monotonic()
        while int(psql(url, "SELECT count(*) FROM outbox_events WHERE webhooks_at IS NULL")) > 0:
            if time.monotonic() - waited > 900:
                raise SystemExit("the seed's events were not fanned out within 15 minutes")
            time.sleep(2)
        print(f"the seed's events were fanned out {time.monotonic() - waited:.0f} s after the start", file=sys.stderr)
        # Warm-up: every context loaded on both replicas (a cold load is about 1,000 a second
        # here, so one short pass did not load 10,000), until a pass's p99 on both is that of
        # warm validations.
        for _ in range(10):
            warm = phase({**ctx, "duration": max(3, args.duration // 2)})
            if max(warm["A"]["p99"], warm["B"]["p99"]) < 10:
                break
        rounds = []
        for n in range(args.rounds):
            idle = phase(ctx)
            change = phase(ctx, ["read:docs", "write:docs"] if n % 2 == 0 else ["read:docs"])
            rounds.append((idle, change))
            print(f"round {n + 1}: PATCH {change['patch'] * 1000:.0f} ms, B new after {change['seen'] * 1000:.0f} ms"
                  f" ({change['after_commit'] * 1000:.0f} ms after the answer); p99 A {idle['A']['p99']:.2f} -> {change['A']['p99']:.2f},"
                  f" B {idle['B']['p99']:.2f} -> {change['B']['p99']:.2f} ms", file=sys.stderr)
    finally:
        for server in servers:
            server.stop()
    report(args, commit, holders, count, rounds)
    subprocess.run(["rm", "-rf", data], check=True)
    subprocess.run(["psql", f"{POSTGRES}/postgres", "-qc", f"DROP DATABASE IF EXISTS {args.database}"], capture_output=True)


def report(args, commit, holders, count, rounds):
    med = lambda xs: statistics.median(xs)
    print(f"\nFan-out at commit {commit}: a role held by {holders} members changes on replica A (PostgreSQL);"
          f" wrk -t1 -c16 on each replica cycling {count} members' tokens"
          + (f", each connection waiting {args.delay_ms} ms before each request" if args.delay_ms else ", unpaced")
          + f", {args.duration} s a phase, {args.rounds} rounds.\n")
    print("| round | PATCH answered ms | B answers new ms (after the PATCH's answer) | A p99 idle / change ms | B p99 idle / change ms | A req/s idle / change | B req/s idle / change | invalidations (messages, bytes) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n, (idle, change) in enumerate(rounds, 1):
        print(f"| {n} | {change['patch'] * 1000:.0f} | {change['seen'] * 1000:.0f} ({change['after_commit'] * 1000:.0f}) |"
              f" {idle['A']['p99']:.2f} / {change['A']['p99']:.2f} | {idle['B']['p99']:.2f} / {change['B']['p99']:.2f} |"
              f" {idle['A']['rps']:.0f} / {change['A']['rps']:.0f} | {idle['B']['rps']:.0f} / {change['B']['rps']:.0f} |"
              f" {change['messages']}, {change['bytes']} |")
    patch = med([c["patch"] for _, c in rounds])
    seen = med([c["seen"] for _, c in rounds])
    ratio = {k: med([c[k]["p99"] / i[k]["p99"] for i, c in rounds]) for k in ("A", "B")}
    idle_messages = sum(i["messages"] for i, _ in rounds)
    print(f"\n- the change answered in {patch * 1000:.0f} ms (median; target: commits in <= 1 s): {'met' if patch <= 1 else 'NOT met'}")
    print(f"- replica B answered with the new permissions {seen * 1000:.0f} ms after the PATCH was sent (median; target <= 1 s): {'met' if seen <= 1 else 'NOT met'}")
    for k in ("A", "B"):
        print(f"- validate p99 on {k} during the change / idle = {ratio[k]:.2f} (median of rounds; target <= 2): {'met' if ratio[k] <= 2 else 'NOT met'}")
    print(f"- invalidation messages: {med([c['messages'] for _, c in rounds]):.0f} a change, {med([c['bytes'] for _, c in rounds]):.0f} bytes"
          f" (idle phases: {idle_messages})")


if __name__ == "__main__":
    main()
