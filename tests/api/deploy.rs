//! The container files agree with the configuration (no Docker engine runs here, so the files
//! are parsed): every variable docker-compose.yml sets is a real setting and the set starts, the
//! services it wires exist, and the Dockerfile builds a small image in stages, runs as a user
//! other than root and checks its health with the binary itself. `.env.example` documents
//! every variable.
use clap::{CommandFactory, FromArgMatches};
use guildhall::config::{Config, Settings, environment_variables};
use std::collections::BTreeSet;

fn root(file: &str) -> String {
    std::fs::read_to_string(format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Compose's `${NAME:-default}` with nothing set: the default.
fn interpolate(value: &str) -> String {
    let Some(start) = value.find("${") else {
        return value.to_owned();
    };
    let end = start + value[start..].find('}').unwrap();
    let inner = &value[start + 2..end];
    let default = inner.split_once(":-").map_or("", |(_, d)| d);
    format!("{}{default}{}", &value[..start], interpolate(&value[end + 1..]))
}

/// The settings an environment gives, as `guildhall serve` would read them (each `AUTH_*`
/// variable as its flag; legacy aliases as `with_aliases` applies them).
fn settings_of(env: &[(String, String)]) -> Settings {
    #[derive(clap::Parser)]
    struct Only {
        #[command(flatten)]
        settings: Settings,
    }
    let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let command = guildhall::config::with_aliases(Only::command().mut_args(|a| a.env(None)), lookup);
    let mut argv = vec!["guildhall".to_owned()];
    for arg in Only::command().get_arguments() {
        let Some(var) = arg.get_env().map(|e| e.to_string_lossy().into_owned()) else {
            continue;
        };
        if let (Some(value), Some(long)) = (lookup(&var), arg.get_long()) {
            argv.push(format!("--{long}={value}"));
        }
    }
    Only::from_arg_matches(&command.try_get_matches_from(argv).unwrap())
        .unwrap()
        .settings
}

#[test]
fn compose_sets_only_real_settings_and_they_start_with_postgres_nats_smtp_and_metrics() {
    let (names, aliases) = environment_variables();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&root("docker-compose.yml")).unwrap();
    let services = doc["services"].as_mapping().unwrap();
    for name in ["guildhall", "postgres", "nats", "mailpit", "prometheus"] {
        assert!(services.contains_key(name), "service {name}");
    }
    let guildhall = &doc["services"]["guildhall"];
    let mut env = Vec::new();
    for (key, value) in guildhall["environment"].as_mapping().unwrap() {
        let key = key.as_str().unwrap();
        assert!(
            names.iter().any(|n| n == key) || aliases.contains(&key),
            "{key} is not a guildhall setting"
        );
        env.push((key.to_owned(), interpolate(value.as_str().unwrap())));
    }
    let config = Config::try_from(settings_of(&env)).expect("compose's settings are a valid configuration");
    assert!(
        config.database_url.starts_with("postgres://") && config.database_url.contains("@postgres:5432/"),
        "{}",
        config.database_url
    );
    assert!(config.nats_url.as_deref().is_some_and(|u| u.contains("nats:4222")));
    assert!(config.smtp.is_some(), "mail goes to the SMTP catcher");
    let smtp = env.iter().find(|(k, _)| k == "AUTH_SMTP_URL").unwrap();
    assert!(smtp.1.contains("mailpit:1025"), "{smtp:?}");
    let (_, metrics_port) = config.metrics_addr.clone().expect("metrics on their own listener");
    let ports: Vec<&str> = guildhall["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(ports.iter().any(|p| p.ends_with(":8001")), "{ports:?}");
    assert!(
        ports
            .iter()
            .any(|p| p.starts_with("127.0.0.1:") && p.ends_with(&format!(":{metrics_port}"))),
        "metrics published on the loopback only: {ports:?}"
    );
    assert!(
        root("deploy/prometheus.yml").contains(&format!("guildhall:{metrics_port}")),
        "Prometheus scrapes the metrics listener"
    );
    let health: Vec<&str> = guildhall["healthcheck"]["test"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(health, ["CMD", "guildhall", "healthcheck"], "the image has no curl");
}

#[test]
fn the_dockerfile_builds_in_stages_runs_unprivileged_and_checks_its_health() {
    let text = root("Dockerfile");
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let stages: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].starts_with("FROM ")).collect();
    assert!(stages.len() >= 2, "multi-stage: {stages:?}");
    let last = &lines[*stages.last().unwrap()..];
    let base = last[0].split_whitespace().nth(1).unwrap();
    assert!(
        base.contains("distroless") || base.contains("slim") || base.contains("alpine") || base == "scratch",
        "a small runtime image: {base}"
    );
    assert!(
        lines[..stages[1]].iter().any(|l| l.contains("cargo build --release")),
        "built in the first stage"
    );
    assert!(
        last.iter().any(|l| l.starts_with("COPY --from=")),
        "the binary comes from the build stage"
    );
    let user = last
        .iter()
        .rev()
        .find(|l| l.starts_with("USER "))
        .expect("a USER in the final stage");
    let who = user.trim_start_matches("USER ").split(':').next().unwrap();
    assert!(who != "root" && who != "0", "{user}");
    let health = last
        .iter()
        .find(|l| l.starts_with("HEALTHCHECK "))
        .expect("a HEALTHCHECK in the final stage");
    assert!(health.contains(r#"CMD ["guildhall", "healthcheck"]"#), "{health}");
    assert!(last.contains(&r#"ENTRYPOINT ["guildhall"]"#));
    assert!(root(".dockerignore").lines().any(|l| l.trim() == "target"));
}

#[test]
fn env_example_documents_every_variable_and_nothing_else() {
    let (names, _) = environment_variables();
    let text = root(".env.example");
    let documented: BTreeSet<String> = text
        .lines()
        .map(|l| l.trim_start_matches('#').trim())
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .filter(|k| k.starts_with("AUTH_") && !k.contains(' '))
        .map(String::from)
        .collect();
    let known: BTreeSet<String> = names.into_iter().collect();
    assert_eq!(documented, known);
}
