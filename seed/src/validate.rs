//! Checks a parsed document before anything is written, reporting every problem with its path.
use crate::rules;
use crate::{Document, Domain, Problem, User};
use std::collections::{HashMap, HashSet};

/// Built-in roles of every organisation (they cannot be redefined).
pub const BUILTIN_ROLES: &[&str] = &["owner", "admin", "member"];
/// Roles a user can hold in a team.
pub const TEAM_ROLES: &[&str] = &["member", "maintainer", "owner"];

struct Report(Vec<Problem>);

impl Report {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    fn rule(&mut self, path: String, result: Result<String, String>) {
        if let Err(message) = result {
            self.add(path, message);
        }
    }

    /// Records `value` at `path`; a second time is a duplicate.
    fn unique<'a>(&mut self, seen: &mut HashSet<&'a str>, value: &'a str, path: String) {
        if !seen.insert(value) {
            self.add(path, format!("duplicate \"{value}\""));
        }
    }
}

pub fn validate(document: &Document, weak_password: &dyn Fn(&str) -> Option<String>) -> Vec<Problem> {
    let mut report = Report(Vec::new());
    let mut org_slugs = HashSet::new();
    let mut client_ids = HashSet::new();
    let mut provider_slugs = HashSet::new();
    let mut email_domains = HashMap::new();
    let mut users_seen: HashMap<String, (String, &User)> = HashMap::new();
    for (i, org) in document.orgs.iter().enumerate() {
        let base = format!("orgs[{i}]");
        report.rule(format!("{base}.slug"), rules::slug(&org.slug));
        report.unique(&mut org_slugs, &org.slug, format!("{base}.slug"));
        report.rule(format!("{base}.name"), rules::display_name(&org.name));

        let mut role_keys: HashSet<&str> = BUILTIN_ROLES.iter().copied().collect();
        for (j, role) in org.roles.iter().enumerate() {
            let path = format!("{base}.roles[{j}]");
            report.rule(format!("{path}.key"), rules::key(&role.key));
            if BUILTIN_ROLES.contains(&role.key.as_str()) {
                report.add(format!("{path}.key"), format!("\"{}\" is a built-in role", role.key));
            } else {
                report.unique(&mut role_keys, &role.key, format!("{path}.key"));
            }
            if let Err(message) = rules::permissions(&role.permissions) {
                report.add(format!("{path}.permissions"), message);
            }
        }

        let mut team_slugs = HashSet::new();
        for (j, team) in org.teams.iter().enumerate() {
            let path = format!("{base}.teams[{j}]");
            report.rule(format!("{path}.slug"), rules::slug(&team.slug));
            report.unique(&mut team_slugs, &team.slug, format!("{path}.slug"));
            report.rule(format!("{path}.name"), rules::display_name(&team.name));
        }

        let mut flat = Vec::new();
        Domain::flatten(&org.domains, &format!("{base}.domains"), None, &mut flat);
        let mut domain_keys = HashSet::new();
        for (path, domain, _) in &flat {
            report.rule(format!("{path}.key"), rules::key(&domain.key));
            report.unique(&mut domain_keys, &domain.key, format!("{path}.key"));
            report.rule(format!("{path}.name"), rules::display_name(&domain.name));
        }
        let parents: HashMap<&str, Option<&str>> = flat.iter().map(|(_, d, p)| (d.key.as_str(), *p)).collect();
        for (path, domain, parent) in &flat {
            if let Some(parent) = parent {
                if !domain_keys.contains(parent) {
                    report.add(format!("{path}.parent"), format!("unknown parent domain \"{parent}\""));
                    continue;
                }
                let mut seen = HashSet::from([domain.key.as_str()]);
                let mut current = Some(*parent);
                while let Some(key) = current {
                    if !seen.insert(key) {
                        report.add(
                            format!("{path}.parent"),
                            format!("domain cycle through \"{}\"", domain.key),
                        );
                        break;
                    }
                    current = parents.get(key).copied().flatten();
                }
            }
        }

        let mut emails = HashSet::new();
        for (j, user) in org.users.iter().enumerate() {
            let path = format!("{base}.users[{j}]");
            let email = match rules::email(&user.email) {
                Ok(email) => email,
                Err(message) => {
                    report.add(format!("{path}.email"), message);
                    continue;
                }
            };
            if !emails.insert(email.clone()) {
                report.add(format!("{path}.email"), format!("duplicate \"{email}\""));
            }
            if let Some(username) = &user.username {
                report.rule(format!("{path}.username"), rules::username(username));
            }
            if let Some(name) = &user.name {
                report.rule(format!("{path}.name"), rules::display_name(name));
            }
            match (&user.password, &user.password_hash) {
                (Some(_), Some(_)) => report.add(
                    format!("{path}.password"),
                    "give a password or a password_hash, not both",
                ),
                (Some(password), None) => {
                    if let Some(why) = weak_password(password) {
                        report.add(format!("{path}.password"), format!("weak password: {why}"));
                    }
                }
                (None, Some(hash)) if !hash.starts_with("$argon2") => report.add(
                    format!("{path}.password_hash"),
                    "must be an argon2 PHC string ($argon2id$...)",
                ),
                _ => {}
            }
            for (k, role) in user.roles.iter().flatten().enumerate() {
                if !role_keys.contains(role.as_str()) {
                    report.add(format!("{path}.roles[{k}]"), format!("unknown role \"{role}\""));
                }
            }
            for (team, role) in &user.teams {
                if !team_slugs.contains(team.as_str()) {
                    report.add(format!("{path}.teams.{team}"), format!("unknown team \"{team}\""));
                }
                if !TEAM_ROLES.contains(&role.as_str()) {
                    report.add(format!("{path}.teams.{team}"), format!("unknown team role \"{role}\""));
                }
            }
            for (k, domain) in user.domains.iter().enumerate() {
                if !domain_keys.contains(domain.as_str()) {
                    report.add(format!("{path}.domains[{k}]"), format!("unknown domain \"{domain}\""));
                }
            }
            match users_seen.get(&email) {
                Some((first, other)) if !same_account(other, user) => report.add(
                    path.clone(),
                    format!("\"{email}\" is also at {first} with different account fields"),
                ),
                Some(_) => {}
                None => {
                    users_seen.insert(email, (path, user));
                }
            }
        }

        for (j, account) in org.service_accounts.iter().enumerate() {
            let path = format!("{base}.service_accounts[{j}]");
            if !rules::is_client_id(&account.client_id) {
                report.add(
                    format!("{path}.client_id"),
                    "must be 1 to 64 of letters, digits, '_', '-' or '.'",
                );
            }
            report.unique(&mut client_ids, &account.client_id, format!("{path}.client_id"));
            report.rule(format!("{path}.name"), rules::display_name(&account.name));
            if account.secret.chars().count() < 32 {
                report.add(format!("{path}.secret"), "must be at least 32 characters");
            }
            if let Err(message) = rules::permissions(&account.permissions) {
                report.add(format!("{path}.permissions"), message);
            }
        }

        if let Some(logo) = &org.logo_url {
            report.rule(format!("{base}.logo_url"), rules::logo_url(logo));
        }
        for (j, app) in org.applications.iter().enumerate() {
            let path = format!("{base}.applications[{j}]");
            if !rules::is_client_id(&app.client_id) {
                report.add(
                    format!("{path}.client_id"),
                    "must be 1 to 64 of letters, digits, '_', '-' or '.'",
                );
            }
            report.unique(&mut client_ids, &app.client_id, format!("{path}.client_id"));
            if app.client_secret.as_ref().is_some_and(|s| s.chars().count() < 32) {
                report.add(format!("{path}.client_secret"), "must be at least 32 characters");
            }
            if !app.settings.contains_key("name") {
                report.add(format!("{path}.name"), "is required");
            }
        }

        for (j, claim) in org.email_domains.iter().enumerate() {
            let path = format!("{base}.email_domains[{j}]");
            match rules::email_domain(&claim.domain) {
                Ok(domain) => match email_domains.get(&domain) {
                    Some(first) => report.add(
                        format!("{path}.domain"),
                        format!("duplicate \"{domain}\" (also at {first}): one organisation per verified domain"),
                    ),
                    None => {
                        email_domains.insert(domain, path.clone());
                    }
                },
                Err(message) => report.add(format!("{path}.domain"), message),
            }
            let auto_join = match claim.join_policy.as_deref() {
                None | Some("invite_only") => false,
                Some("auto_join") => true,
                Some(other) => {
                    report.add(
                        format!("{path}.join_policy"),
                        format!("unknown join policy \"{other}\""),
                    );
                    false
                }
            };
            if claim.roles.is_some() && !auto_join {
                report.add(format!("{path}.roles"), "only with join_policy auto_join");
            }
            for (k, role) in claim.roles.iter().flatten().enumerate() {
                if role == "owner" {
                    report.add(format!("{path}.roles[{k}]"), "auto_join cannot grant owner");
                } else if !role_keys.contains(role.as_str()) {
                    report.add(format!("{path}.roles[{k}]"), format!("unknown role \"{role}\""));
                }
            }
        }

        for (j, provider) in org.identity_providers.iter().enumerate() {
            let path = format!("{base}.identity_providers[{j}]");
            report.rule(format!("{path}.slug"), rules::slug(&provider.slug));
            report.unique(&mut provider_slugs, &provider.slug, format!("{path}.slug"));
            report.rule(format!("{path}.name"), rules::display_name(&provider.name));
            report.rule(format!("{path}.issuer"), rules::issuer(&provider.issuer));
            if provider.client_id.trim().is_empty() {
                report.add(format!("{path}.client_id"), "is required");
            }
            if let Some(scopes) = &provider.scopes
                && let Err(message) = rules::scopes(scopes)
            {
                report.add(format!("{path}.scopes"), message);
            }
            for (k, domain) in provider.email_domains.iter().enumerate() {
                report.rule(format!("{path}.email_domains[{k}]"), rules::email_domain(domain));
            }
            for (k, mapping) in provider.mappings.iter().enumerate() {
                let at = format!("{path}.mappings[{k}]");
                for role in mapping.roles.iter().filter(|r| !role_keys.contains(r.as_str())) {
                    report.add(format!("{at}.roles"), format!("unknown role \"{role}\""));
                }
                for (team, role) in &mapping.teams {
                    if !team_slugs.contains(team.as_str()) {
                        report.add(format!("{at}.teams.{team}"), format!("unknown team \"{team}\""));
                    }
                    if !TEAM_ROLES.contains(&role.as_str()) {
                        report.add(format!("{at}.teams.{team}"), format!("unknown team role \"{role}\""));
                    }
                }
                for domain in mapping.domains.iter().filter(|d| !domain_keys.contains(d.as_str())) {
                    report.add(format!("{at}.domains"), format!("unknown domain \"{domain}\""));
                }
            }
        }
    }
    report.0
}

/// Whether two mentions of one email describe the same account.
fn same_account(a: &User, b: &User) -> bool {
    a.name == b.name
        && a.username == b.username
        && a.password == b.password
        && a.password_hash == b.password_hash
        && a.superuser == b.superuser
        && a.active == b.active
        && (a.id.is_none() || b.id.is_none() || a.id == b.id)
}

#[cfg(test)]
mod tests {

    fn problems(yaml: &str) -> Vec<String> {
        let weak = |p: &str| (p.len() < 8).then(|| "too short".to_string());
        match crate::load(yaml, &weak) {
            Ok(_) => Vec::new(),
            Err(problems) => problems.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn lists_where_mappings_belong_are_problems() {
        // serde would read a struct from a list of its fields: `[]` is no empty document.
        assert_eq!(problems("[]"), vec!["document: must be a mapping with `orgs`"]);
        assert_eq!(problems("orgs: [[]]"), vec!["orgs[0]: must be a mapping"]);
        assert_eq!(
            problems("orgs:\n  - {slug: a, name: A, users: [[]]}"),
            vec!["orgs[0].users[0]: must be a mapping"]
        );
    }

    #[test]
    fn a_good_document_has_no_problems() {
        assert_eq!(problems(include_str!("../demo.yaml")), Vec::<String>::new());
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let yaml = r#"
orgs:
  - slug: acme
    name: Acme
    colour: red
    roles:
      - {key: owner}
      - {key: editor, permissions: ["has space"]}
    teams:
      - {slug: eng, name: Eng}
      - {slug: eng, name: Again}
      - {slug: ops, name: 7}
    domains:
      - key: a
        name: A
        parent: c
      - {key: b, name: B, parent: a}
      - {key: c, name: C, parent: b}
      - {key: d, name: D, parent: nowhere}
    users:
      - {email: ada@acme.test, password: short, roles: [ghost], teams: {eng: boss, nope: member}, domains: [zz]}
      - {email: ADA@acme.test}
      - {email: not-an-email}
    service_accounts:
      - {client_id: "bad id", name: svc, secret: short}
    email_domains:
      - {domain: nodot}
      - {domain: acme.test, join_policy: everyone}
      - {domain: ACME.test, join_policy: auto_join, roles: [owner, ghost]}
    identity_providers:
      - {slug: corp, name: Corp, issuer: "http://corp.example", client_id: x, mappings: [{value: g, teams: {ghosts: member}}]}
"#;
        let found = problems(yaml);
        let expected = ["orgs[0].colour: unknown field"];
        assert!(found.iter().any(|p| p.starts_with(expected[0])), "{found:#?}");
        assert!(
            found.iter().any(|p| p.starts_with("orgs[0].teams[2].name")),
            "{found:#?}"
        );
        let yaml = yaml
            .replace("    colour: red\n", "")
            .replace("name: 7}", "name: Seven}");
        let found = problems(&yaml);
        for expected in [
            "orgs[0].roles[0].key: \"owner\" is a built-in role",
            "orgs[0].roles[1].permissions: \"has space\" is not a valid permission",
            "orgs[0].teams[1].slug: duplicate \"eng\"",
            "orgs[0].domains[0].parent: domain cycle through \"a\"",
            "orgs[0].domains[3].parent: unknown parent domain \"nowhere\"",
            "orgs[0].users[0].password: weak password: too short",
            "orgs[0].users[0].roles[0]: unknown role \"ghost\"",
            "orgs[0].users[0].teams.eng: unknown team role \"boss\"",
            "orgs[0].users[0].teams.nope: unknown team \"nope\"",
            "orgs[0].users[0].domains[0]: unknown domain \"zz\"",
            "orgs[0].users[1].email: duplicate \"ada@acme.test\"",
            "orgs[0].users[2].email: is not a valid email address",
            "orgs[0].service_accounts[0].client_id: must be",
            "orgs[0].service_accounts[0].secret: must be at least 32 characters",
            "orgs[0].email_domains[0].domain: \"nodot\" is not a domain name",
            "orgs[0].email_domains[1].join_policy: unknown join policy \"everyone\"",
            "orgs[0].email_domains[2].domain: duplicate \"acme.test\" (also at orgs[0].email_domains[1])",
            "orgs[0].email_domains[2].roles[0]: auto_join cannot grant owner",
            "orgs[0].email_domains[2].roles[1]: unknown role \"ghost\"",
            "orgs[0].identity_providers[0].issuer: must be an https:// URL",
            "orgs[0].identity_providers[0].mappings[0].teams.ghosts: unknown team \"ghosts\"",
        ] {
            assert!(
                found.iter().any(|p| p.starts_with(expected)),
                "missing {expected:?} in {found:#?}"
            );
        }
    }

    #[test]
    fn one_account_in_two_organisations_must_agree() {
        let yaml = r#"
orgs:
  - {slug: a, name: A, users: [{email: x@y.test, name: X}]}
  - {slug: b, name: B, users: [{email: x@y.test, name: Y}]}
"#;
        assert!(
            problems(yaml)
                .iter()
                .any(|p| p.starts_with("orgs[1].users[0]: \"x@y.test\" is also at orgs[0].users[0]"))
        );
        assert!(problems(&yaml.replace("name: Y", "name: X")).is_empty());
    }
}
