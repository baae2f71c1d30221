//! The admin commands behind `guildhall users|orgs|keys|doctor|healthcheck` (`main.rs` parses
//! them). Each works on the configured database like `serve`, through the same services as the
//! API, acting as the system (`Caller::system("guildhall cli")`), so audit entries and events
//! are written as for any admin. Each answers the text to print; an error is one line.
pub mod doctor;

use crate::config::Config;
use crate::model::input::Parse;
use crate::model::input::{DisplayName, Email, Password, Slug, Username};
use crate::model::{PageRequest, UserId};
use crate::service::ServiceError;
use crate::service::authz::Caller;
use crate::service::users::{NewUser, UserPatch};
use crate::services::Services;
use crate::startup;
use crate::store;
use anyhow::{Context, anyhow};
use std::fmt::Write;

/// Who the audit log says acted.
pub const ACTOR: &str = "guildhall cli";

/// A one-line error of a refused input or a service's refusal.
fn refused(error: ServiceError) -> anyhow::Error {
    match error {
        ServiceError::Validation(problems) => {
            let lines: Vec<String> = problems.iter().map(|p| format!("{} {}", p.field, p.message)).collect();
            anyhow!("{}", lines.join("; "))
        }
        ServiceError::NotFound(what) | ServiceError::Forbidden(_, what) | ServiceError::Conflict(_, what) => {
            anyhow!("{what}")
        }
        other => anyhow::Error::new(other),
    }
}

/// The system caller in the organisation `slug` (the default organisation when `None`).
async fn system_in(services: &Services, slug: Option<&str>) -> anyhow::Result<Caller> {
    let slug = slug.unwrap_or(&services.config.default_org).trim().to_lowercase();
    let org = store::orgs::find_by_slug(&services.db, &slug)
        .await?
        .ok_or_else(|| anyhow!("no organisation \"{slug}\""))?;
    Ok(Caller::system(ACTOR, org.id))
}

/// Every page of a paginated list.
async fn all_pages<T, F, Fut>(mut page: F) -> anyhow::Result<Vec<T>>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = crate::service::Result<crate::model::Page<T>>>,
{
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let next = page(PageRequest { limit: 200, after }).await.map_err(refused)?;
        out.extend(next.items);
        match next.next_cursor.and_then(|c| c.parse().ok()) {
            Some(cursor) => after = Some(cursor),
            None => return Ok(out),
        }
    }
}

/// `guildhall users list`: id, email, username, active, superuser; tab-separated.
pub async fn users_list(config: Config) -> anyhow::Result<String> {
    let services = startup::command_services(config).await?;
    let caller = system_in(&services, None).await?;
    let users = all_pages(|page| services.users.list(&caller, page)).await?;
    let mut out = String::from("id\temail\tusername\tactive\tsuperuser\n");
    for u in users {
        let username = u.username.as_deref().unwrap_or("-");
        let _ = writeln!(out, "{}\t{}\t{username}\t{}\t{}", u.id, u.email, u.active, u.superuser);
    }
    Ok(out)
}

/// What `guildhall users create` is given.
pub struct CreateUser {
    pub email: String,
    pub password: Option<String>,
    pub name: Option<String>,
    pub username: Option<String>,
    pub org: Option<String>,
    pub roles: Vec<String>,
    pub superuser: bool,
}

fn parsed<T>(field: &str, result: Result<T, String>) -> anyhow::Result<T> {
    result.map_err(|message| anyhow!("{field} {message}"))
}

/// `guildhall users create`: the account, a member of `--org` (default organisation) with
/// `--role`s (default `member`); prints its id.
pub async fn users_create(config: Config, input: CreateUser) -> anyhow::Result<String> {
    let policy = config.password_policy;
    let email = parsed("email", Email::parse(&input.email))?;
    let password = match input.password {
        Some(p) => Some(parsed("password", Password::new(p, &policy))?),
        None => None,
    };
    let name = match input.name.as_deref() {
        Some(n) => Some(parsed("name", DisplayName::parse(n))?),
        None => None,
    };
    let username = match input.username.as_deref() {
        Some(u) => Some(parsed("username", Username::parse(u))?),
        None => None,
    };
    let services = startup::command_services(config).await?;
    let caller = system_in(&services, input.org.as_deref()).await?;
    let new = NewUser {
        email,
        password,
        name,
        username,
        roles: (!input.roles.is_empty()).then_some(input.roles),
        superuser: input.superuser.then_some(true),
    };
    let user = services.users.create(&caller, new).await.map_err(refused)?;
    Ok(format!("{}\n", user.id))
}

/// `guildhall users set-password NAME`: ends every session of the account, as an admin's
/// password change through the API does.
pub async fn users_set_password(config: Config, name: &str, password: String) -> anyhow::Result<String> {
    let password = parsed("password", Password::new(password, &config.password_policy))?;
    let services = startup::command_services(config).await?;
    let caller = system_in(&services, None).await?;
    let user = services.users.by_name(&caller, name).await.map_err(refused)?;
    let patch = UserPatch {
        password: Some(password),
        ..UserPatch::default()
    };
    services
        .users
        .update(&caller, UserId(user.id), patch)
        .await
        .map_err(refused)?;
    Ok(format!("password set for {}; its sessions are ended\n", user.email))
}

/// `guildhall users deactivate NAME`: the account can no longer log in; its sessions end.
pub async fn users_deactivate(config: Config, name: &str) -> anyhow::Result<String> {
    let services = startup::command_services(config).await?;
    let caller = system_in(&services, None).await?;
    let user = services.users.by_name(&caller, name).await.map_err(refused)?;
    let patch = UserPatch {
        active: Some(false),
        ..UserPatch::default()
    };
    services
        .users
        .update(&caller, UserId(user.id), patch)
        .await
        .map_err(refused)?;
    Ok(format!("deactivated {}\n", user.email))
}

/// `guildhall orgs list`: id, slug, name, active; tab-separated.
pub async fn orgs_list(config: Config) -> anyhow::Result<String> {
    let services = startup::command_services(config).await?;
    let caller = system_in(&services, None).await?;
    let orgs = all_pages(|page| services.orgs.list(&caller, page)).await?;
    let mut out = String::from("id\tslug\tname\tactive\n");
    for o in orgs {
        let _ = writeln!(out, "{}\t{}\t{}\t{}", o.id, o.slug, o.name, o.active);
    }
    Ok(out)
}

/// `guildhall orgs create SLUG [--name NAME]`; prints its id.
pub async fn orgs_create(config: Config, slug: &str, name: Option<&str>) -> anyhow::Result<String> {
    let slug = parsed("slug", Slug::parse(&slug.trim().to_lowercase()))?;
    let name = parsed("name", DisplayName::parse(name.unwrap_or(slug.as_str())))?;
    let services = startup::command_services(config).await?;
    let caller = system_in(&services, None).await?;
    let org = services.orgs.create(&caller, slug, name).await.map_err(refused)?;
    Ok(format!("{}\n", org.id))
}

/// `guildhall keys list`: every stored key, newest first, and what it signs (`access` tokens,
/// `id` tokens — RS256 — or `-`: retired, verifying until its tokens expire).
pub async fn keys_list(config: Config) -> anyhow::Result<String> {
    let services = startup::command_services(config).await?;
    let ring = services.keys.current();
    let (signing, id_tokens) = (ring.signing().kid.clone(), ring.id_token_key().kid.clone());
    let keys = store::keys::list(&services.db, &services.sealer)
        .await
        .context("cannot read the signing keys")?;
    let mut out = String::from("kid\talgorithm\tcreated\tretired\tsigns\n");
    for k in keys {
        let retired = k.retired_at.map_or_else(|| "-".to_owned(), |at| at.to_rfc3339());
        let signs = match (k.kid == signing, k.kid == id_tokens) {
            (true, true) => "access,id",
            (true, false) => "access",
            (false, true) => "id",
            (false, false) => "-",
        };
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{retired}\t{signs}",
            k.kid,
            k.algorithm,
            k.created_at.to_rfc3339()
        );
    }
    if services.config.algorithm == crate::token::Algorithm::HS256 {
        out.push_str("(HS256: tokens are signed with AUTH_JWT_SECRET, not a stored key)\n");
    }
    Ok(out)
}

/// `guildhall healthcheck`: GET /healthz of the server configured here (its port, on the
/// loopback when it listens on every interface); true when it answers 200.
pub async fn healthcheck(config: &Config) -> anyhow::Result<()> {
    let host = match config.host.as_str() {
        "0.0.0.0" | "" => "127.0.0.1".to_owned(),
        "::" | "[::]" => "[::1]".to_owned(),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_owned(),
    };
    let url = format!("http://{host}:{}/healthz", config.port);
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .no_proxy()
        .build()?;
    let response = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("{url} does not answer"))?;
    anyhow::ensure!(response.status().is_success(), "{url} answered {}", response.status());
    Ok(())
}
