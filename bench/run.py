#!/usr/bin/env python3
"""guildhall's load benchmark (issues 8, 14 and 20). Builds release binaries, starts guildhall on
SQLite (or the database of --database-url), seeds --users users across organisations (20 teams
and 10 domains each), and drives load with wrk on 127.0.0.1 only. Prints a table (req/s, p50,
p99, errors, ratio to /healthz) and the targets' checks; with --write, records them in
bench/RESULTS.md. Write paths are reported beside their ceiling: the database running the same
statements itself (bench/ceilings.py), measured right before and right after them.

    bench/run.sh                       # the defaults: 1,000 users, 8 s per scenario
    bench/run.sh --users 100000        # also the deep admin listing at 100,000 users
    bench/run.sh --pin both            # every scenario unpinned, then pinned (server core 0, wrk core 1)
    bench/run.sh --only refresh,code   # some scenario groups only (see --help)
"""
import argparse
import base64
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error

import ceilings
import codes
from harness import ADMIN, PIN, ROOT, Server, check_pinning, file_sizes, http, mean_run, median_run, pinned, psql, wrk, wrk_command

PASSWORD = "benchmark password"
HS_SECRET = "bench-secret-bench-secret-bench-secret!"
GROUPS = ("memory", "reads", "lists", "refresh", "code", "login", "flood", "hs256")
# The connection count of the write paths and their ceilings (issue 20: p99 at 16 connections).
WRITERS = 16


def raw_argon2(helper, seconds=4):
    """Raw argon2id hashes/s at guildhall's hash concurrency and configured cost (bench helper)."""
    hashers = int(os.environ.get("AUTH_HASH_CONCURRENCY") or max(1, len(os.sched_getaffinity(0)) - 1))
    if PIN["server"] is not None:
        hashers = 1
    out = subprocess.run(pinned([helper, "argon2", "--seconds", str(seconds), "--threads", str(hashers)], "server"), capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def stored_key(database_url, data):
    """The signing key guildhall generated (kid, base64 PKCS#8), to mint a cold token pool."""
    sql = "SELECT kid, private_key FROM signing_keys WHERE retired_at IS NULL AND algorithm = 'ES256' ORDER BY created_at DESC LIMIT 1"
    if database_url:
        kid, key = psql(database_url, sql).split(" ")
        return kid, key
    import sqlite3
    return sqlite3.connect(os.path.join(data, "guildhall.db")).execute(sql).fetchone()


def seed_document(users, orgs):
    lines = ["orgs:"]
    for o in range(orgs):
        lines += [f"  - slug: bench-{o}", f"    name: Bench {o}", "    teams:"]
        lines += [f"      - {{slug: team-{t}, name: Team {t}}}" for t in range(20)]
        lines += ["    domains:"]
        lines += [f"      - {{key: d{d}, name: D{d}}}" for d in range(10)]
        lines += ["    users:"]
        for u in range(o, users, orgs):
            lines.append(f"      - {{email: user{u}@bench.test, password_hash: '{{HASH}}', teams: {{team-{u % 20}: member, team-{(u + 7) % 20}: maintainer}}, domains: [d{u % 10}]}}")
    return "\n".join(lines) + "\n"


def deep_cursor(base, path, token, size=50):
    """The cursor after the first 90% of a list, in steps that land on it exactly, so the deep
    page holds a full `size` items when the list has them (an overshoot left 2 at 1,000 users).
    Answers (cursor, the page's item count, the list's total)."""
    sep = "&" if "?" in path else "?"
    first = http("GET", f"{base}{path}{sep}limit=1", token=token)
    if not isinstance(first, dict) or "items" not in first:
        raise ValueError("not a paged list (no items and cursor)")
    total = first.get("total") or 0
    cursor, seen = None, 0
    step = max(1, min(200, total // 10))
    while seen < int(total * 0.9) and total > size:
        page = http("GET", f"{base}{path}{sep}limit={min(step, int(total * 0.9) - seen)}" + (f"&cursor={cursor}" if cursor else ""), token=token)
        seen += len(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    deep = http("GET", f"{base}{path}{sep}limit={size}" + (f"&cursor={cursor}" if cursor else ""), token=token)
    return cursor, len(deep["items"]), total


def login_flood(base, D):
    """A legitimate login (user0, one connection) alone, then during a flood of logins with random
    names (16 connections): the flood's names have no account, yet each costs a hash, so the
    flood fills the hashing queue; admission control answers 503 `overloaded` past
    AUTH_HASH_MAX_WAIT_MS instead of letting the queue grow. Three alternating rounds, medians."""
    import re
    rows = {}
    alone, during, floods = [], [], []
    for _ in range(3):
        alone.append(wrk(f"{base}/auth/login", "login.lua", {"USERS": "1"}, D, 1, threads=1))
        out = os.path.join(tempfile.gettempdir(), "guildhall-flood.txt")
        with open(out, "w") as f:
            flood = subprocess.Popen(wrk_command(f"{base}/auth/login", "login_random.lua", D + 2, 16, threads=1), stdout=f)
            time.sleep(1)
            during.append(wrk(f"{base}/auth/login", "login.lua", {"USERS": "1"}, D, 1, threads=1))
            flood.wait()
        text = open(out).read()
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
        total = re.search(r"(\d+) requests in", text)
        floods.append({"rps": rps, "answered": int(total.group(1)) if total else 0, "non2xx": int(non2xx.group(1)) if non2xx else 0})
    rows["POST /auth/login, a legitimate user, 1 conn, alone (median of 3)"] = median_run(alone)
    rows["POST /auth/login, a legitimate user, 1 conn, during a random-name flood (median of 3)"] = median_run(during)
    rows["flood: POST /auth/login with random names, 16 conns (all refused: 401, or 503 overloaded)"] = {
        "rps": statistics.median(f["rps"] for f in floods), "p50": float("nan"), "p99": float("nan"),
        "errors": sum(f["non2xx"] for f in floods)}
    return rows


def report_flood(args, rows, mode):
    table = ["| operation | req/s | p50 ms | p99 ms | non-2xx |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, r in rows.items():
        table.append(f"| {name} | {r['rps']:.1f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['errors']} |")
    alone = rows["POST /auth/login, a legitimate user, 1 conn, alone (median of 3)"]
    during = rows["POST /auth/login, a legitimate user, 1 conn, during a random-name flood (median of 3)"]
    checks = [f"- legitimate login p99 during the flood / alone = {during['p99'] / alone['p99']:.1f} "
              f"({during['p99']:.0f} ms against {alone['p99']:.0f} ms; bounded by the hashing queue's wait limit, AUTH_HASH_MAX_WAIT_MS); "
              f"its failures during the flood: {during['errors']} (503 overloaded, to retry)"]
    print(f"\n{mode}:")
    print("\n".join(table))
    print()
    print("\n".join(checks))
    if args.write:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        header = [
            f"## {datetime.date.today()} — commit {commit}: login flood (issue 14), {mode}",
            "",
            f"Machine: {os.cpu_count()} cores, {platform.platform()}. Backend: {'PostgreSQL' if args.database_url else 'SQLite'}, {args.users} users.",
            f"Command: `bench/run.sh --only-flood --users {args.users} --duration {args.duration} --pin {args.pin}` (127.0.0.1).",
            "",
        ]
        with open(os.path.join(ROOT, "bench", "RESULTS.md"), "a") as f:
            f.write("\n".join(header + table + [""] + checks) + "\n\n")


def refresh_ceiling(ctx, D):
    if ctx["database_url"]:
        return "PostgreSQL ceiling: refresh's statements by pgbench -M prepared (bench/ceiling/refresh.pgbench.sql)", \
            ceilings.pgbench_refresh(ctx["database_url"], WRITERS, D)
    return "SQLite ceiling: refresh's statements in guildhall's transaction mode (bench ceiling --path refresh)", \
        ceilings.sqlite(ctx["helper"], ctx["data"], "refresh", WRITERS, D)


def write_paths(ctx, rows, base, D, checks):
    """Refresh (and, with --only code or by default, the code exchange) beside their ceilings."""
    C = ctx["connections"]
    if "refresh" in ctx["only"]:
        # Chains from fresh logins: the previous mode's chains were spent.
        first = ctx["refresh_user"]
        ctx["refresh_user"] += WRITERS + 8
        chains = [http("POST", f"{base}/auth/login", {"email": f"user{first + i}@bench.test", "password": PASSWORD})["refresh_token"] for i in range(WRITERS + 8)]
        refresh_file = os.path.join(ctx["data"], "refresh.txt")
        with open(refresh_file, "w") as f:
            f.write("\n".join(chains) + "\n")
        name, before = refresh_ceiling(ctx, D)
        row = f"POST /auth/refresh ({WRITERS} conns)"
        rows[row] = wrk(f"{base}/auth/refresh", "refresh.lua", {"REFRESH": refresh_file}, D, WRITERS)
        after = refresh_ceiling(ctx, D)[1]
        ceiling = f"{name}, {WRITERS} conns, mean of before and after"
        rows[ceiling] = mean_run([before, after])
        ratio = rows[row]["rps"] / rows[ceiling]["rps"]
        r = rows[row]
        if ctx["database_url"]:
            checks.append(f"- refresh / its PostgreSQL ceiling (pgbench) = {ratio:.2f} (target >= 0.50): {'met' if ratio >= 0.5 else 'NOT met'}")
        else:
            checks.append(f"- refresh / its SQLite ceiling = {ratio:.2f}; refresh {r['rps']:.0f} req/s (target >= 5000): {'met' if r['rps'] >= 5000 else 'NOT met'}")
        checks.append(f"- refresh p99 at {WRITERS} conns = {r['p99']:.1f} ms (target <= 20): {'met' if r['p99'] <= 20 else 'NOT met'}")
    if "code" in ctx["only"]:
        # Codes live a minute: minted right before their exchange, both at most 20 s.
        Dc = min(D, 20)
        if ctx.get("client_id") is None:
            ctx["client_id"] = codes.register_app(base, ctx["admin"])
        members = list(range(0, ctx["users"], ctx["orgs"]))  # user<k * orgs> is in bench-0
        want = min(len(members) // len(ctx["modes"]), max(WRITERS, 40 * Dc))
        users = members[ctx["code_user"]:ctx["code_user"] + want]
        ctx["code_user"] += want
        started = time.time()
        cookies = codes.sign_in(base, ctx["client_id"], [f"user{u}@bench.test" for u in users], PASSWORD)
        print(f"signed {len(cookies)} users of bench-0 in through the hosted login in {time.time() - started:.1f} s", file=sys.stderr)
        before = None if ctx["database_url"] else ceilings.sqlite(ctx["helper"], ctx["data"], "code", WRITERS, Dc, ctx["client_id"])
        codes_file, minted = codes.mint(base, ctx["data"], ctx["client_id"], cookies, Dc, C)
        print(f"minted {minted} authorization codes ({codes.PER_USER} at most a user)", file=sys.stderr)
        row = f"POST /oauth2/token, authorization_code + PKCE ({WRITERS} conns; openid: an RS256 ID token each)"
        rows[row] = wrk(f"{base}/oauth2/token", "code_exchange.lua", codes.exchange_env(codes_file, ctx["client_id"]), Dc, WRITERS)
        r = rows[row]
        exhausted = r["rps"] * Dc > minted
        line = f"- code exchange {r['rps']:.0f} req/s (target >= 2000): {'met' if r['rps'] >= 2000 else 'NOT met'}"
        if before is not None:
            after = ceilings.sqlite(ctx["helper"], ctx["data"], "code", WRITERS, Dc, ctx["client_id"])
            ceiling = f"SQLite ceiling: the code exchange's statements (bench ceiling --path code), {WRITERS} conns, mean of before and after"
            rows[ceiling] = mean_run([before, after])
            line += f"; / its SQLite ceiling = {r['rps'] / rows[ceiling]['rps']:.2f}"
        checks.append(line + (f" (the pool of {minted} codes ran out: mint more)" if exhausted else ""))


def lists(ctx, rows, base, D, C):
    """Deep pages (cursor at 90 %) of the admin and organisation lists (issue 20, item 4)."""
    admin, user = ctx["admin"], ctx["token"]
    cases = [("GET /admin/users", "/admin/users", admin), ("GET /admin/audit", "/admin/audit", admin)]
    try:
        org = codes.org_id(base, admin, "bench-0")
        cases.append(("GET /orgs/{bench-0}/members", f"/orgs/{org}/members", admin))
        team = http("GET", f"{base}/teams/all?limit=1", token=user)["items"][0]["id"]
        cases.append(("GET /teams/{team-0}/members", f"/teams/{team}/members", user))
    except (urllib.error.HTTPError, KeyError, IndexError) as e:
        print(f"lists: skipped the organisation's lists ({e})", file=sys.stderr)
    for label, path, token in cases:
        try:
            cursor, size, total = deep_cursor(base, path, token)
        except (urllib.error.HTTPError, ValueError) as e:
            print(f"lists: {label}: {e}; skipped", file=sys.stderr)
            continue
        sep = "&" if "?" in path else "?"
        url = f"{base}{path}{sep}limit=50" + (f"&cursor={cursor}" if cursor else "")
        where = f"cursor at 90% of {total}" if cursor else f"first page of {total}"
        rows[f"{label} deep ({where}, {size} items; {ctx['users']} users)"] = wrk(url, "bearer.lua", {"TOKEN": token}, D, C)


def members(ctx, n):
    """`n` (user id, organisation id) pairs of bench members, as `bench mint --subjects` reads them."""
    query = "SELECT m.user_id, m.org_id FROM org_members m JOIN users u ON u.id = m.user_id WHERE u.email LIKE 'user%@bench.test' ORDER BY u.email LIMIT " + str(n)
    if ctx["database_url"]:
        return [tuple(line.split(" ")) for line in psql(ctx["database_url"], query).splitlines() if line]
    import sqlite3
    import uuid
    as_text = lambda v: str(uuid.UUID(bytes=v)) if isinstance(v, bytes) else str(uuid.UUID(v))
    rows = sqlite3.connect(os.path.join(ctx["data"], "guildhall.db")).execute(query).fetchall()
    return [(as_text(u), as_text(o)) for u, o in rows]


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))


def memory(ctx, server, token, checks):
    """What a cached user costs (issue 20, item 6), two ways. The allocator's count
    (target/release/footprint: guildhall's own context load, cache and rendering, live heap bytes
    per user); and the server's RSS before and after validating one token each of up to 5,000
    members on a server that has served nobody else yet (each loads and keeps a context, its
    rendered answer and the verified token). RSS also grows with what is not per user: SQLite's
    page caches, the verified-token table's pages as they are first touched, allocator arenas."""
    import http.client
    pairs = members(ctx, min(5000, ctx["users"]))
    subjects = os.path.join(ctx["data"], "subjects.txt")
    with open(subjects, "w") as f:
        f.write("".join(f"{u} {o}\n" for u, o in pairs))
    url = ctx["database_url"] or f"sqlite:{os.path.join(ctx['data'], 'guildhall.db')}"
    out = subprocess.run(pinned([os.path.join(ROOT, "target", "release", "footprint"), "--database-url", url, "--subjects", subjects], "server"),
                         capture_output=True, text=True, check=True).stdout
    heap = json.loads(out)
    checks.append(f"- memory, counted by the allocator over {heap['users']} users: {heap['total_bytes']:.0f} bytes a cached user"
                  f" (context {heap['context_bytes']:.0f} B in {heap['context_blocks']:.1f} blocks, rendered answer {heap['rendering_bytes']:.0f} B"
                  f" in {heap['rendering_blocks']:.1f}; target <= 2048): {'met' if heap['total_bytes'] <= 2048 else 'NOT met'}")
    kid, pkcs8 = stored_key(ctx["database_url"], ctx["data"])
    tokens_file = os.path.join(ctx["data"], "memory-tokens.txt")
    subprocess.run([ctx["helper"], "mint", "--template", token, "--count", str(len(pairs)), "--start", str(ctx["jti"]),
                    "--kid", kid, "--pkcs8", pkcs8, "--subjects", subjects, "--out", tokens_file], check=True)
    ctx["jti"] += len(pairs)
    with open(tokens_file) as f:
        tokens = f.read().split()
    conn = http.client.HTTPConnection("127.0.0.1", int(server.base.rsplit(":", 1)[1]), timeout=30)

    def validate_all():
        for t in tokens:
            conn.request("POST", "/auth/validate", json.dumps({"token": t}), {"content-type": "application/json"})
            answer = json.loads(conn.getresponse().read())
            assert answer["valid"] is True, answer
    time.sleep(1)
    before = rss_bytes(server.proc.pid)
    validate_all()
    time.sleep(1)
    after = rss_bytes(server.proc.pid)
    validate_all()  # all cached now
    again = rss_bytes(server.proc.pid)
    conn.close()
    checks.append(f"- memory, the server's RSS: {len(tokens)} users' first validation took it from {before / 2**20:.1f} to {after / 2**20:.1f} MiB"
                  f" ({(after - before) / len(tokens):.0f} bytes a user, fixed costs included); a second pass (all cached): {(again - after) / 2**20:+.1f} MiB")


def run_mode(ctx, mode):
    """Every scenario once, the server (and its stand-ins) pinned or not as `mode` says."""
    data, helper, binary, D, C = ctx["data"], ctx["helper"], ctx["binary"], ctx["duration"], ctx["connections"]
    rows, checks, only = {}, [], ctx["only"]
    server = Server(binary, data, 18900, ctx["extra"])
    base = server.base
    argon = solos = durings = None
    try:
        if ctx["only_flood"]:
            return login_flood(base, D), []
        user = http("POST", f"{base}/auth/login", {"email": "user0@bench.test", "password": PASSWORD})
        token = ctx["token"] = user["access_token"]
        ctx["admin"] = http("POST", f"{base}/auth/login", {"email": ADMIN[0], "password": ADMIN[1]})["access_token"]
        assert http("POST", f"{base}/auth/validate", {"token": token})["valid"] is True
        if "memory" in only:
            memory(ctx, server, token, checks)
        rows["GET /healthz"] = wrk(f"{base}/healthz", duration=D, connections=C)
        if "reads" in only:
            kid, pkcs8 = stored_key(ctx["database_url"], data)
            tokens_file = os.path.join(data, "tokens.txt")
            pool_size = 40_000 * D
            subprocess.run([helper, "mint", "--template", token, "--count", str(pool_size), "--start", str(ctx["jti"]), "--kid", kid, "--pkcs8", pkcs8, "--out", tokens_file], check=True)
            ctx["jti"] += pool_size
            with open(os.path.join(data, "jwks.json"), "w") as f:
                json.dump(http("GET", f"{base}/.well-known/jwks.json"), f)
            rows["POST /auth/validate, ES256, warm"] = wrk(f"{base}/auth/validate", "post.lua", {"BODY": json.dumps({"token": token})}, D, C)
            # The bare handler (a second process, idle otherwise) is measured right before and
            # right after cold validation and averaged, so the ratio compares the two at the same moment.
            verifier = subprocess.Popen(pinned([helper, "verify", "--port", "18901", "--jwks", os.path.join(data, "jwks.json"), "--issuer", base], "server"))
            try:
                time.sleep(1)
                bare = [wrk("http://127.0.0.1:18901/validate", "pool.lua", {"TOKENS": tokens_file}, D, C)]
                rows["POST /auth/validate, ES256, cold"] = wrk(f"{base}/auth/validate", "pool.lua", {"TOKENS": tokens_file}, D, C)
                bare.append(wrk("http://127.0.0.1:18901/validate", "pool.lua", {"TOKENS": tokens_file}, D, C))
            finally:
                verifier.terminate()
                verifier.wait()
            rows["bare ES256 verify handler (ceiling), cold, mean of before and after"] = mean_run(bare)
            rows["GET /auth/me"] = wrk(f"{base}/auth/me", "bearer.lua", {"TOKEN": token}, D, C)
            rows["GET /teams"] = wrk(f"{base}/teams", "bearer.lua", {"TOKEN": token}, D, C)
        if "lists" in only:
            lists(ctx, rows, base, D, C)
        write_paths(ctx, rows, base, D, checks)
        if "login" in only:
            # Login is bound by argon2 by design: more connections add queueing, not throughput.
            # Raw argon2id is measured right before and right after the login run, with the
            # server idle, and averaged (this machine's speed drifts by ±15 % over a run).
            before = raw_argon2(helper)
            rows["POST /auth/login (8 conns)"] = wrk(f"{base}/auth/login", "login.lua", {"USERS": str(ctx["users"])}, D, 8)
            after = raw_argon2(helper)
            argon = {**after, "hashes_per_second": (before["hashes_per_second"] + after["hashes_per_second"]) / 2}
        if "flood" in only:
            # Alone and during the flood with the same wrk (one thread, 16 connections); three
            # alternating rounds, medians: validation's p99 alone drifts from minute to minute.
            body = {"BODY": json.dumps({"token": token})}
            solos, durings = [], []
            for _ in range(3):
                solos.append(wrk(f"{base}/auth/validate", "post.lua", body, D, 16, threads=1))
                flood = subprocess.Popen(wrk_command(f"{base}/auth/login", "login.lua", D + 2, 16, threads=1, latency=False),
                                         env={**os.environ, "USERS": str(ctx["users"]), "THREADS": "1"}, stdout=subprocess.DEVNULL)
                time.sleep(1)
                durings.append(wrk(f"{base}/auth/validate", "post.lua", body, D, 16, threads=1))
                flood.wait()
            rows["POST /auth/validate warm, 16 conns, alone (median of 3)"] = median_run(solos)
            rows["POST /auth/validate warm, 16 conns, during a login flood (median of 3)"] = median_run(durings)
    finally:
        server.stop()

    if "hs256" in only:
        hs = Server(binary, data, 18902, {**ctx["extra"], "AUTH_JWT_ALGORITHM": "HS256", "AUTH_JWT_SECRET": HS_SECRET})
        try:
            u = http("POST", f"{hs.base}/auth/login", {"email": "user0@bench.test", "password": PASSWORD})
            htoken = u["access_token"]
            hkid = json.loads(base64.urlsafe_b64decode(htoken.split(".")[0] + "=="))["kid"]
            htokens = os.path.join(data, "hs-tokens.txt")
            subprocess.run([helper, "mint", "--template", htoken, "--count", str(60_000 * D), "--start", str(ctx["jti"]), "--kid", hkid, "--secret", HS_SECRET, "--out", htokens], check=True)
            ctx["jti"] += 60_000 * D
            rows["POST /auth/validate, HS256, warm"] = wrk(f"{hs.base}/auth/validate", "post.lua", {"BODY": json.dumps({"token": htoken})}, D, C)
            rows["POST /auth/validate, HS256, cold"] = wrk(f"{hs.base}/auth/validate", "pool.lua", {"TOKENS": htokens}, D, C)
        finally:
            hs.stop()

    healthz = rows["GET /healthz"]["rps"]
    if argon:
        rows[f"raw argon2id hashes/s ({argon['threads']} thread(s) = guildhall's hash concurrency, mean of before and after the login run, m={argon['memory_kib']} KiB, t={argon['iterations']})"] = argon
    if "reads" in only:
        warm = rows["POST /auth/validate, ES256, warm"]["rps"] / healthz
        cold = rows["POST /auth/validate, ES256, cold"]["rps"] / rows["bare ES256 verify handler (ceiling), cold, mean of before and after"]["rps"]
        checks.insert(0, f"- warm validate / healthz = {warm:.2f} (target >= 0.60): {'met' if warm >= 0.6 else 'NOT met'}")
        checks.insert(1, f"- cold validate / bare ES256 handler = {cold:.2f} (target >= 0.85): {'met' if cold >= 0.85 else 'NOT met'}")
    if argon:
        login = rows["POST /auth/login (8 conns)"]["rps"] / argon["hashes_per_second"]
        checks.append(f"- login / raw argon2id = {login:.2f} (target >= 0.90): {'met' if login >= 0.9 else 'NOT met'}")
    if solos:
        flood = rows["POST /auth/validate warm, 16 conns, during a login flood (median of 3)"]["p99"] / rows["POST /auth/validate warm, 16 conns, alone (median of 3)"]["p99"]
        checks.append(f"- validate p99 during a login flood / alone = {flood:.2f} (target <= 2): {'met' if flood <= 2 else 'NOT met'}"
                      f" (p99 ms by round, alone: {', '.join('%.2f' % r['p99'] for r in solos)}; during: {', '.join('%.2f' % r['p99'] for r in durings)})")
    return rows, checks


def table_of(rows):
    healthz = rows["GET /healthz"]["rps"]
    table = ["| operation | req/s | p50 ms | p99 ms | errors | ratio to /healthz |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in rows.items():
        if "hashes_per_second" in r:
            table.append(f"| {name} | {r['hashes_per_second']:.1f} | | | | |")
        else:
            table.append(f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} | {r['rps'] / healthz:.2f} |")
    return table


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32, help="wrk's connections for the read scenarios (write paths and their ceilings use 16)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--write", action="store_true", help="record the table in bench/RESULTS.md")
    parser.add_argument("--pin", choices=("off", "on", "both"), default="off",
                        help="on: the server (and the bare handler, raw argon2id, the SQLite ceiling) under taskset -c 0, wrk and pgbench under taskset -c 1; both: every scenario unpinned, then pinned")
    parser.add_argument("--only", default=",".join(GROUPS), help=f"scenario groups, comma-separated, of: {', '.join(GROUPS)} (GET /healthz always runs)")
    parser.add_argument("--only-flood", action="store_true",
                        help="only the login-flood scenario: a legitimate login's latency alone and during a flood of logins with random names")
    args = parser.parse_args()
    only = set(args.only.split(","))
    if only - set(GROUPS):
        parser.error(f"unknown scenario groups: {', '.join(sorted(only - set(GROUPS)))}")
    modes = {"off": ["unpinned"], "on": ["pinned"], "both": ["unpinned", "pinned"]}[args.pin]
    if "pinned" in modes:
        check_pinning()
    if args.database_url and "refresh" in only and shutil.which("pgbench") is None:
        raise SystemExit("bench: the PostgreSQL ceiling needs pgbench (Debian packages postgresql-client, postgresql-contrib); bench/run.sh installs them")
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "guildhall", "-p", "bench"], cwd=ROOT, check=True)
    data = tempfile.mkdtemp(prefix="guildhall-bench-")
    ctx = {"binary": os.path.join(ROOT, "target", "release", "guildhall"), "helper": os.path.join(ROOT, "target", "release", "bench"),
           "data": data, "extra": {"AUTH_DATABASE_URL": args.database_url} if args.database_url else {},
           "database_url": args.database_url, "duration": args.duration, "connections": args.connections,
           "users": args.users, "orgs": max(2, args.users // 500), "only": only, "only_flood": args.only_flood,
           "modes": modes, "jti": 0, "refresh_user": 1, "code_user": 0}

    server = Server(ctx["binary"], data, 18900, ctx["extra"])
    try:
        reg = http("POST", f"{server.base}/auth/register", {"email": "hash@bench.test", "password": PASSWORD})
        assert reg["access_token"]
        if args.database_url:
            hash_ = psql(args.database_url, "SELECT password_hash FROM users WHERE email='hash@bench.test'")
        else:
            import sqlite3
            hash_ = sqlite3.connect(os.path.join(data, "guildhall.db")).execute("SELECT password_hash FROM users WHERE email='hash@bench.test'").fetchone()[0]
        doc = os.path.join(data, "bench.yaml")
        with open(doc, "w") as f:
            f.write(seed_document(args.users, ctx["orgs"]).replace("{HASH}", hash_))
        started = time.time()
        subprocess.run([ctx["binary"], "seed", "apply", doc], env=server.env, check=True, capture_output=True)
        seeding = time.time() - started
        seeded = file_sizes(args.database_url, data)
        print(f"seeded {args.users} users in {ctx['orgs']} organisations in {seeding:.1f} s; {seeded}", file=sys.stderr)
        # Seeding leaves hundreds of MiB of dirty pages at 100,000 users; flushed by the kernel
        # during the first scenarios, they would compete with them for the two cores.
        os.sync()
        time.sleep(2)
    finally:
        server.stop()

    results = []
    for mode in modes:
        PIN.update({"server": "0", "load": "1"} if mode == "pinned" else {"server": None, "load": None})
        rows, checks = run_mode(ctx, mode)
        if args.only_flood:
            report_flood(args, rows, mode)
            continue
        results.append((mode, table_of(rows), checks))
    if args.only_flood:
        return
    ended = file_sizes(args.database_url, data)
    shutil.rmtree(data, ignore_errors=True)
    disk = f"- seeding {args.users} users: {seeding:.1f} s; on disk after seeding: {seeded}; at the end of the run: {ended}"
    for mode, table, checks in results:
        print(f"\n{mode}" + (" (guildhall, the bare handler, raw argon2id and the SQLite ceiling on core 0; wrk and pgbench on core 1):" if mode == "pinned" else ":"))
        print("\n".join(table))
        print()
        print("\n".join(checks + [disk]))
    if args.write:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        header = [
            f"## {datetime.date.today()} — commit {commit}",
            "",
            f"Machine: {os.cpu_count()} cores, {mem:.0f} GiB, {platform.platform()}. Backend: {'PostgreSQL' if args.database_url else 'SQLite'}, {args.users} users.",
            f"Command: `bench/run.sh --users {args.users} --duration {args.duration} --connections {args.connections} --pin {args.pin}"
            + (f" --only {args.only}" if only != set(GROUPS) else "") + f"` (wrk -t2 -c{args.connections}, write paths -c{WRITERS}, {args.duration} s a scenario, 127.0.0.1).",
            "",
        ]
        body = []
        for mode, table, checks in results:
            body += [f"{mode.capitalize()}:", ""] + table + [""] + checks + [""]
        with open(os.path.join(ROOT, "bench", "RESULTS.md"), "a") as f:
            f.write("\n".join(header + body + [disk]) + "\n\n")


if __name__ == "__main__":
    main()
