-- PostgreSQL ceiling for POST /auth/refresh: pgbench runs this (bench/run.py: `pgbench -n
-- -M prepared -c <refresh connections> -f bench/ceiling/refresh.pgbench.sql`) against the seeded
-- guildhall database, one refresh chain per client, prepared by refresh.prepare.sql.
--
-- The statements guildhall issues for one rotation on PostgreSQL (`Rotation::run` in
-- src/service/auth/refresh.rs), as sea-orm spells them (timestamps and new ids are computed
-- here, guildhall binds them). The same SQL as the SQLite list `REFRESH` in
-- bench/src/ceiling/statements.rs; keep the two in step:
--   BEGIN                            (store::begin)
--   store::sessions::spend_refresh   (by digest, RETURNING the token's row)
--   store::sessions::use_now         (the session marked used, RETURNING its row)
--   store::sessions::insert_refresh  (the successor)
--   COMMIT
-- `\gset` carries the chain: the spend gives the session, and the client presents the digest
-- inserted here next (the insert's RETURNING, which guildhall's insert has not, hands it
-- over; pgbench keeps a client's variables from one transaction to the next; run it with
-- `-D started=0`).
\if :started = 0
SELECT "token_hash" AS h FROM "refresh_tokens" WHERE "token_hash" = lpad('bench-ceiling-' || :client_id, 64, '0') \gset
\set started 1
\endif
BEGIN;
UPDATE "refresh_tokens" SET "used_at" = now() WHERE "refresh_tokens"."token_hash" = :h AND "refresh_tokens"."used_at" IS NULL RETURNING "id", "session_id" AS sid, "token_hash", "created_at", "expires_at", "used_at" \gset
UPDATE "sessions" SET "last_used_at" = now() WHERE "sessions"."id" = :sid RETURNING "id", "user_id", "org_id", "user_agent", "ip", "created_at", "last_used_at", "expires_at", "revoked_at", "revoked_reason", "client_id", "browser_session_id", "auth_time", "amr", "scope", "audience", "access_ttl", "refresh_ttl" \gset s_
INSERT INTO "refresh_tokens" ("id", "session_id", "token_hash", "created_at", "expires_at", "used_at") VALUES (gen_random_uuid(), :sid, md5(random()::text) || md5(random()::text), now(), now() + interval '7 days', NULL) RETURNING "token_hash" AS h \gset
COMMIT;
