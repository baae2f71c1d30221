-- PostgreSQL ceiling for POST /auth/refresh: pgbench runs this (bench/run.py: `pgbench -n
-- -M prepared -c <refresh connections> -f bench/ceiling/refresh.pgbench.sql`) against the seeded
-- guildhall database, one refresh chain per client, prepared by refresh.prepare.sql.
--
-- The statements guildhall issues for one refresh, as sea-orm spells them (PostgreSQL's
-- log_statement = all showed them so; timestamps and new ids are computed here, guildhall binds
-- them, and LIMIT 1 is a literal where guildhall binds it). The same SQL as
-- the SQLite list `REFRESH` in bench/src/ceiling/statements.rs; keep the two in step):
--   store::sessions::find_refresh   (AuthService::refresh_for, outside the transaction)
--   BEGIN                           (store::begin)
--   store::sessions::spend_refresh
--   store::sessions::find           (the session)
--   store::sessions::touch
--   store::sessions::insert_refresh (AuthService::issue)
--   COMMIT
-- `\gset` carries the chain: the first lookup's row gives the id and session, the insert's
-- RETURNING gives the token the client presents next (pgbench keeps a client's variables from
-- one transaction to the next; run it with `-D started=0`).
\if :started = 0
SELECT "token_hash" AS h FROM "refresh_tokens" WHERE "token_hash" = lpad('bench-ceiling-' || :client_id, 64, '0') \gset
\set started 1
\endif
SELECT "refresh_tokens"."id" AS tid, "refresh_tokens"."session_id" AS sid, "refresh_tokens"."token_hash", "refresh_tokens"."created_at", "refresh_tokens"."expires_at", "refresh_tokens"."used_at" FROM "refresh_tokens" WHERE "refresh_tokens"."token_hash" = :h LIMIT 1 \gset
BEGIN;
UPDATE "refresh_tokens" SET "used_at" = now() WHERE "refresh_tokens"."id" = :tid AND "refresh_tokens"."used_at" IS NULL;
SELECT "sessions"."id", "sessions"."user_id", "sessions"."org_id" AS oid, "sessions"."user_agent", "sessions"."ip", "sessions"."created_at", "sessions"."last_used_at", "sessions"."expires_at", "sessions"."revoked_at", "sessions"."revoked_reason", "sessions"."client_id", "sessions"."browser_session_id", "sessions"."auth_time", "sessions"."amr", "sessions"."scope", "sessions"."audience", "sessions"."access_ttl", "sessions"."refresh_ttl" FROM "sessions" WHERE "sessions"."id" = :sid LIMIT 1 \gset s_
UPDATE "sessions" SET "last_used_at" = now(), "org_id" = :s_oid WHERE "sessions"."id" = :sid;
INSERT INTO "refresh_tokens" ("id", "session_id", "token_hash", "created_at", "expires_at", "used_at") VALUES (gen_random_uuid(), :sid, md5(random()::text) || md5(random()::text), now(), now() + interval '7 days', NULL) RETURNING "id", "session_id", "token_hash" AS h, "created_at", "expires_at", "used_at" \gset
COMMIT;
