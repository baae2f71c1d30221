//! The statements of each write path `bench ceiling` runs, and the values each binds: the one
//! place to edit when guildhall's statements for a path change (bench/ceiling/refresh.pgbench.sql
//! holds PostgreSQL's copy of `REFRESH`).
/// A value a statement binds, taken from the state of the chain (one client) it runs for.
#[derive(Clone, Copy, Debug)]
pub(super) enum Arg {
    /// The digest of the token (or code) being presented.
    Hash,
    /// The digest of the refresh token issued now.
    NextHash,
    /// The id of the refresh-token row issued now.
    NextTokenId,
    /// The session of the chain (refresh) or the session started now (code exchange).
    SessionId,
    UserId,
    OrgId,
    ClientId,
    /// The time of the request.
    Now,
    /// When the issued refresh token expires.
    RefreshExpires,
    /// When a started session expires.
    SessionExpires,
    /// The id of an outbox event written now.
    EventId,
    /// The event's CloudEvent, about the size of guildhall's `SessionCreated`.
    EventPayload,
    /// `LIMIT ?` of sea-orm's `.one()`.
    One,
    Zero,
    Str(&'static str),
    /// The browser session a code came from (a fixed one: the column has no foreign key).
    BrowserSessionId,
    NullText,
    NullTime,
}

/// One statement: its SQL and the values bound to its placeholders, in order.
#[derive(Debug)]
pub(super) struct Step {
    pub sql: &'static str,
    pub args: &'static [Arg],
    /// A read whose row must exist, or a write that must change exactly one row.
    pub one_row: bool,
}

/// A write path: the statements before its transaction, then those inside
/// (`BEGIN IMMEDIATE` under the write lock … `COMMIT`).
pub struct Workload {
    pub(super) before: &'static [Step],
    pub(super) inside: &'static [Step],
}

/// `POST /auth/refresh` as guildhall issues one rotation (`Rotation::run` in
/// src/service/auth/refresh.rs, and src/store/sessions.rs): `spend_refresh` (by digest, with
/// `RETURNING`), `use_now` (the session marked used and read back), `insert_refresh`, in one
/// transaction. This is PostgreSQL's path. On SQLite guildhall groups the rotations that queue
/// meanwhile into one transaction (`Rotation::run_group`: five statements for the whole group),
/// so its ratio to this per-rotation ceiling can pass 1: the ceiling is what the database does
/// with the statements one refresh would issue alone.
pub const REFRESH: Workload = Workload {
    before: &[],
    inside: &[
        Step {
            sql: r#"UPDATE "refresh_tokens" SET "used_at" = ? WHERE "refresh_tokens"."token_hash" = ? AND "refresh_tokens"."used_at" IS NULL RETURNING "id", "session_id", "token_hash", "created_at", "expires_at", "used_at""#,
            args: &[Arg::Now, Arg::Hash],
            one_row: true,
        },
        Step {
            sql: r#"UPDATE "sessions" SET "last_used_at" = ? WHERE "sessions"."id" = ? RETURNING "id", "user_id", "org_id", "user_agent", "ip", "created_at", "last_used_at", "expires_at", "revoked_at", "revoked_reason", "client_id", "browser_session_id", "auth_time", "amr", "scope", "audience", "access_ttl", "refresh_ttl""#,
            args: &[Arg::Now, Arg::SessionId],
            one_row: true,
        },
        Step {
            sql: r#"INSERT INTO "refresh_tokens" ("id", "session_id", "token_hash", "created_at", "expires_at", "used_at") VALUES (?, ?, ?, ?, ?, ?)"#,
            args: &[
                Arg::NextTokenId,
                Arg::SessionId,
                Arg::NextHash,
                Arg::Now,
                Arg::RefreshExpires,
                Arg::NullTime,
            ],
            one_row: true,
        },
    ],
};

/// `POST /oauth2/token` with `grant_type=authorization_code` as guildhall issues it
/// (`OpenIdProvider::code_grant` in src/service/openid/grants.rs, `AuthService::start_session`
/// and `issue` in src/service/auth/sessions.rs, `Change::commit` in src/service/change/mod.rs):
/// the client's lookup (`store::apps`, client authentication in client_auth.rs) and
/// `provider::find_code` outside the transaction; then `sessions::count_live`,
/// `sessions::insert`, `users::record_login`, `sessions::insert_refresh`,
/// `provider::spend_code`, and the `SessionCreated` outbox event at commit.
pub const CODE_EXCHANGE: Workload = Workload {
    before: &[
        Step {
            sql: r#"SELECT "oauth_clients"."id", "oauth_clients"."org_id", "oauth_clients"."client_id", "oauth_clients"."name", "oauth_clients"."kind", "oauth_clients"."secret_hash", "oauth_clients"."auth_method", "oauth_clients"."jwks", "oauth_clients"."redirect_uris", "oauth_clients"."post_logout_redirect_uris", "oauth_clients"."grant_types", "oauth_clients"."scopes", "oauth_clients"."resources", "oauth_clients"."first_party", "oauth_clients"."multi_org", "oauth_clients"."access_token_ttl", "oauth_clients"."refresh_token_ttl", "oauth_clients"."backchannel_logout_uri", "oauth_clients"."id_token_alg", "oauth_clients"."active", "oauth_clients"."created_at", "oauth_clients"."updated_at" FROM "oauth_clients" WHERE "oauth_clients"."client_id" = ? LIMIT ?"#,
            args: &[Arg::ClientId, Arg::One],
            one_row: true,
        },
        Step {
            sql: r#"SELECT "authorization_codes"."code_hash", "authorization_codes"."client_id", "authorization_codes"."grant", "authorization_codes"."session_id", "authorization_codes"."created_at", "authorization_codes"."expires_at", "authorization_codes"."used_at" FROM "authorization_codes" WHERE "authorization_codes"."code_hash" = ? LIMIT ?"#,
            args: &[Arg::Hash, Arg::One],
            one_row: true,
        },
    ],
    inside: &[
        Step {
            sql: r#"SELECT COUNT(*) AS num_items FROM (SELECT "sessions"."id", "sessions"."user_id", "sessions"."org_id", "sessions"."user_agent", "sessions"."ip", "sessions"."created_at", "sessions"."last_used_at", "sessions"."expires_at", "sessions"."revoked_at", "sessions"."revoked_reason", "sessions"."client_id", "sessions"."browser_session_id", "sessions"."auth_time", "sessions"."amr", "sessions"."scope", "sessions"."audience", "sessions"."access_ttl", "sessions"."refresh_ttl" FROM "sessions" WHERE "sessions"."user_id" = ? AND "sessions"."revoked_at" IS NULL AND "sessions"."expires_at" > ?) AS "sub_query""#,
            args: &[Arg::UserId, Arg::Now],
            one_row: true,
        },
        Step {
            sql: r#"INSERT INTO "sessions" ("id", "user_id", "org_id", "user_agent", "ip", "created_at", "last_used_at", "expires_at", "revoked_at", "revoked_reason", "client_id", "browser_session_id", "auth_time", "amr", "scope", "audience", "access_ttl", "refresh_ttl") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING "id", "user_id", "org_id", "user_agent", "ip", "created_at", "last_used_at", "expires_at", "revoked_at", "revoked_reason", "client_id", "browser_session_id", "auth_time", "amr", "scope", "audience", "access_ttl", "refresh_ttl""#,
            args: &[
                Arg::SessionId,
                Arg::UserId,
                Arg::OrgId,
                Arg::NullText,
                Arg::Str("127.0.0.1"),
                Arg::Now,
                Arg::Now,
                Arg::SessionExpires,
                Arg::NullTime,
                Arg::NullText,
                Arg::ClientId,
                Arg::BrowserSessionId,
                Arg::Now,
                Arg::Str("pwd"),
                Arg::Str("openid email"),
                Arg::NullText,
                Arg::NullText,
                Arg::NullText,
            ],
            one_row: true,
        },
        Step {
            sql: r#"UPDATE "users" SET "last_login_at" = ?, "default_org_id" = ? WHERE "users"."id" = ?"#,
            args: &[Arg::Now, Arg::OrgId, Arg::UserId],
            one_row: true,
        },
        Step {
            sql: r#"INSERT INTO "refresh_tokens" ("id", "session_id", "token_hash", "created_at", "expires_at", "used_at") VALUES (?, ?, ?, ?, ?, ?) RETURNING "id", "session_id", "token_hash", "created_at", "expires_at", "used_at""#,
            args: &[
                Arg::NextTokenId,
                Arg::SessionId,
                Arg::NextHash,
                Arg::Now,
                Arg::RefreshExpires,
                Arg::NullTime,
            ],
            one_row: true,
        },
        Step {
            sql: r#"UPDATE "authorization_codes" SET "used_at" = ?, "session_id" = ? WHERE "authorization_codes"."code_hash" = ? AND "authorization_codes"."used_at" IS NULL"#,
            args: &[Arg::Now, Arg::SessionId, Arg::Hash],
            one_row: true,
        },
        Step {
            sql: r#"INSERT INTO "outbox_events" ("id", "org_id", "subject", "event_type", "payload", "created_at", "published_at", "attempts", "webhooks_at") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING "id", "org_id", "subject", "event_type", "payload", "created_at", "published_at", "attempts", "webhooks_at""#,
            args: &[
                Arg::EventId,
                Arg::OrgId,
                Arg::Str("auth.session.created"),
                Arg::Str("guildhall.session.created"),
                Arg::EventPayload,
                Arg::Now,
                Arg::NullTime,
                Arg::Zero,
                Arg::NullTime,
            ],
            one_row: true,
        },
    ],
};
