//! `guildhall doctor`: checks what a start needs, changing nothing — the configuration, the
//! database and its migrations, the signing keys and the master key that opens the stored
//! secrets, NATS and SMTP when configured — and says what is wrong in plain words. Problems
//! (`FAIL`) make the exit code non-zero; warnings (`warn`) do not.
use crate::config::{Config, Environment};
use crate::crypto::seal::Sealer;
use crate::store::{self, Db};
use crate::token::{Algorithm, Key};
use migration::MigratorTrait;
use std::fmt::Write;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Default)]
struct Report {
    lines: Vec<(Level, String)>,
}

impl Report {
    fn ok(&mut self, what: impl Into<String>) {
        self.lines.push((Level::Ok, what.into()));
    }
    fn warn(&mut self, what: impl Into<String>) {
        self.lines.push((Level::Warn, what.into()));
    }
    fn fail(&mut self, what: impl Into<String>) {
        self.lines.push((Level::Fail, what.into()));
    }
}

/// The report, and whether nothing failed.
pub async fn run(config: Config) -> (String, bool) {
    crate::token::install_crypto_provider();
    let mut report = Report::default();
    configuration(&config, &mut report);
    if let Some(db) = database(&config, &mut report).await {
        let sealer = Sealer::new(config.master_key.clone());
        keys(&db, &sealer, &config, &mut report).await;
        secrets(&db, &sealer, &mut report).await;
        db.close().await.ok();
    }
    nats(&config, &mut report).await;
    match crate::mail::reachable(&config).await {
        Ok(true) => report.ok("smtp: the server at AUTH_SMTP_URL answers"),
        Ok(false) => report.ok("smtp: not configured"),
        Err(error) => report.fail(format!("smtp: {error:#}")),
    }
    let mut out = String::new();
    let failures = report.lines.iter().filter(|(l, _)| *l == Level::Fail).count();
    for (level, line) in &report.lines {
        let tag = match level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        let _ = writeln!(out, "{tag}  {line}");
    }
    if failures == 0 {
        out.push_str("no problems found\n");
    } else {
        let _ = writeln!(out, "{failures} problem(s) found");
    }
    (out, failures == 0)
}

fn configuration(config: &Config, report: &mut Report) {
    let backend = if config.database_url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    report.ok(format!(
        "configuration: {} environment, {} tokens, {backend} database, issuer {}",
        if config.environment == Environment::Production {
            "production"
        } else {
            "development"
        },
        config.algorithm,
        config.issuer
    ));
    let production = config.environment == Environment::Production;
    if config.algorithm_from_secret {
        report.warn("configuration: HS256 is used because only a JWT secret is set (set AUTH_JWT_ALGORITHM to choose)");
    }
    if production && config.master_key.is_none() {
        report.warn("configuration: no AUTH_MASTER_KEY: signing keys and client secrets are stored unsealed");
    }
    if production && config.smtp.is_none() {
        report.warn("configuration: no AUTH_SMTP_URL: password-reset mail is dropped");
    }
    if production && config.issuer.starts_with("http://localhost") {
        report.warn(format!(
            "configuration: AUTH_ISSUER is the default {}; services verifying tokens elsewhere need the public URL",
            config.issuer
        ));
    }
    if production && config.webhooks.allow_private {
        report.warn("configuration: AUTH_WEBHOOK_ALLOW_PRIVATE=true lets webhooks reach private networks");
    }
}

/// The SQLite file a URL names, when it is a file.
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:")).then_some(path)
}

async fn database(config: &Config, report: &mut Report) -> Option<Db> {
    if let Some(path) = sqlite_file(&config.database_url)
        && !std::path::Path::new(path).exists()
    {
        report.fail(format!(
            "database: the SQLite file {path} does not exist yet (`guildhall migrate` or a first start makes it)"
        ));
        return None;
    }
    let db = match tokio::time::timeout(Duration::from_secs(10), store::connect(&config.database_url)).await {
        Ok(Ok(db)) => db,
        Ok(Err(error)) => {
            report.fail(format!("database: cannot connect: {error}"));
            return None;
        }
        Err(_) => {
            report.fail("database: no answer within 10 seconds");
            return None;
        }
    };
    if let Err(error) = db.ping().await {
        report.fail(format!("database: connected, but it does not answer: {error}"));
        return None;
    }
    report.ok("database: reachable");
    match migration::Migrator::get_pending_migrations(&db).await {
        Ok(pending) if pending.is_empty() => {
            report.ok("migrations: current");
            Some(db)
        }
        Ok(pending) => {
            let names: Vec<String> = pending.iter().map(|m| m.name().to_owned()).collect();
            report.fail(format!(
                "migrations: {} pending ({}): run `guildhall migrate` (a start applies them too)",
                names.len(),
                names.join(", ")
            ));
            None
        }
        Err(error) => {
            report.fail(format!("migrations: cannot read their state: {error}"));
            None
        }
    }
}

async fn keys(db: &Db, sealer: &Sealer, config: &Config, report: &mut Report) {
    let stored = match store::keys::list(db, sealer).await {
        Ok(stored) => stored,
        Err(error) => {
            report.fail(format!("signing keys: cannot be read: {error}"));
            return;
        }
    };
    let broken: Vec<String> = stored
        .iter()
        .filter_map(|k| Key::from_material(k).err().map(|e| format!("{} ({e})", k.kid)))
        .collect();
    if !broken.is_empty() {
        report.fail(format!("signing keys: cannot be loaded: {}", broken.join(", ")));
        return;
    }
    if config.algorithm == Algorithm::HS256 {
        report.ok("signing keys: HS256 signs with AUTH_JWT_SECRET");
        return;
    }
    match stored
        .iter()
        .find(|k| k.algorithm == config.algorithm && k.retired_at.is_none())
    {
        Some(key) => report.ok(format!(
            "signing keys: {} stored, {} signs ({})",
            stored.len(),
            key.kid,
            key.algorithm
        )),
        None => report.warn(format!(
            "signing keys: none of {} yet; the next start generates one",
            config.algorithm
        )),
    }
}

async fn secrets(db: &Db, sealer: &Sealer, report: &mut Report) {
    let stored = match store::secrets::all(db).await {
        Ok(stored) => stored,
        Err(error) => {
            report.fail(format!("master key: the stored secrets cannot be read: {error}"));
            return;
        }
    };
    let mut unsealed = 0;
    let mut refused = Vec::new();
    for secret in &stored {
        if let Err(error) = sealer.open(secret.at.purpose(), &secret.stored) {
            refused.push(format!("{}: {error}", secret.at));
        } else if !Sealer::is_sealed(&secret.stored) && sealer.master_key_id().is_some() {
            unsealed += 1;
        }
    }
    if let Some(first) = refused.first() {
        report.fail(format!(
            "master key: {} stored secret(s) do not open with the configured key; the first: {first}",
            refused.len()
        ));
        return;
    }
    match sealer.master_key_id() {
        Some(id) => report.ok(format!("master key: {id} opens all {} stored secret(s)", stored.len())),
        None => report.ok(format!("master key: none; {} secret(s) stored unsealed", stored.len())),
    }
    if unsealed > 0 {
        report.warn(format!(
            "master key: {unsealed} secret(s) stored before it was set; the next start seals them"
        ));
    }
}

async fn nats(config: &Config, report: &mut Report) {
    let Some(url) = &config.nats_url else {
        report.ok("nats: not configured (events stay in the outbox)");
        return;
    };
    match tokio::time::timeout(Duration::from_secs(5), async_nats::connect(url.as_str())).await {
        Ok(Ok(client)) => {
            report.ok(format!("nats: {url} answers"));
            drop(client);
        }
        Ok(Err(error)) => report.fail(format!("nats: cannot reach {url}: {error}")),
        Err(_) => report.fail(format!("nats: {url} did not answer within 5 seconds")),
    }
}

#[cfg(test)]
mod tests {
    use super::sqlite_file;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file("sqlite://./data/guildhall.db?mode=rwc"),
            Some("./data/guildhall.db")
        );
        assert_eq!(sqlite_file("sqlite:/tmp/x.db"), Some("/tmp/x.db"));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://localhost/x"), None);
    }
}
