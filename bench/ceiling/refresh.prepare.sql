-- Prepares the PostgreSQL refresh ceiling (refresh.pgbench.sql): for each of :connections
-- pgbench clients, an unspent refresh token 'bench-ceiling-<client>' (padded to a digest's 64
-- characters) on one of the newest live sessions of guildhall's own API (the bench's logins).
-- Run before every pgbench run: `psql -v connections=16 -f refresh.prepare.sql <url>`.
DELETE FROM "refresh_tokens" WHERE "token_hash" IN (SELECT lpad('bench-ceiling-' || k, 64, '0') FROM generate_series(0, :connections - 1) k);
WITH live AS (
    SELECT "id", row_number() OVER (ORDER BY "created_at" DESC) - 1 AS n, count(*) OVER () AS total
    FROM "sessions" WHERE "revoked_at" IS NULL AND "client_id" IS NULL
)
INSERT INTO "refresh_tokens" ("id", "session_id", "token_hash", "created_at", "expires_at", "used_at")
SELECT gen_random_uuid(), live."id", lpad('bench-ceiling-' || k, 64, '0'), now(), now() + interval '30 days', NULL
FROM generate_series(0, :connections - 1) k JOIN live ON live.n = k % live.total;
