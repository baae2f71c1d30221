//! docker-compose.yml and .env.example agree with the configuration (no Docker engine runs here,
//! so this is what can be checked).
use guildhall::config::environment_variables;
use std::collections::BTreeSet;

fn root(file: &str) -> String {
    std::fs::read_to_string(format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn compose_uses_only_known_variables_and_wires_postgres_and_nats() {
    let (names, aliases) = environment_variables();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&root("docker-compose.yml")).unwrap();
    let services = doc["services"].as_mapping().unwrap();
    for name in ["guildhall", "postgres", "nats"] {
        assert!(services.contains_key(name), "service {name}");
    }
    let env = doc["services"]["guildhall"]["environment"].as_mapping().unwrap();
    for key in env.keys() {
        let key = key.as_str().unwrap();
        assert!(
            names.iter().any(|n| n == key) || aliases.contains(&key),
            "{key} is not a guildhall setting"
        );
    }
    let database = env["AUTH_DATABASE_URL"].as_str().unwrap();
    assert!(
        database.starts_with("postgres://") && database.contains("@postgres:5432/"),
        "{database}"
    );
    assert!(env["AUTH_NATS_URL"].as_str().unwrap().contains("nats:4222"));
    let ports = doc["services"]["guildhall"]["ports"][0].as_str().unwrap();
    assert!(ports.ends_with(":8001"), "{ports}");
    assert!(root("Dockerfile").contains("ENTRYPOINT [\"guildhall\"]"));
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
