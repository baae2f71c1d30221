use crate::helpers::*;
use reqwest::StatusCode;

/// Every route the router serves, and whether it takes a bearer token.
const ROUTES: &[(&str, &str, bool)] = &[
    ("get", "/", false),
    ("get", "/health", false),
    ("get", "/healthz", false),
    ("get", "/readyz", false),
    ("get", "/.well-known/jwks.json", false),
    ("get", "/.well-known/openid-configuration", false),
    ("get", "/auth/public-key", false),
    ("get", "/metrics", false),
    ("get", "/orgs/{id}/webhooks", true),
    ("post", "/orgs/{id}/webhooks", true),
    ("get", "/orgs/{id}/webhooks/{webhook_id}", true),
    ("patch", "/orgs/{id}/webhooks/{webhook_id}", true),
    ("delete", "/orgs/{id}/webhooks/{webhook_id}", true),
    ("get", "/orgs/{id}/webhooks/{webhook_id}/deliveries", true),
    ("post", "/auth/register", false),
    ("post", "/auth/login", false),
    ("post", "/auth/token", false),
    ("post", "/auth/refresh", false),
    ("post", "/auth/logout", true),
    ("post", "/auth/logout-all", true),
    ("get", "/auth/me", true),
    ("get", "/auth/sessions", true),
    ("delete", "/auth/sessions/{id}", true),
    ("get", "/auth/me/identities", true),
    ("delete", "/auth/me/identities/{id}", true),
    ("post", "/auth/validate", true),
    ("post", "/auth/introspect", false),
    ("get", "/teams", true),
    ("post", "/teams", true),
    ("get", "/teams/all", true),
    ("get", "/teams/{id}", true),
    ("patch", "/teams/{id}", true),
    ("delete", "/teams/{id}", true),
    ("get", "/teams/{id}/members", true),
    ("put", "/teams/{id}/members/{user_id}", true),
    ("delete", "/teams/{id}/members/{user_id}", true),
    ("get", "/domains", true),
    ("post", "/domains", true),
    ("get", "/domains/all", true),
    ("get", "/domains/{id}", true),
    ("patch", "/domains/{id}", true),
    ("delete", "/domains/{id}", true),
    ("put", "/domains/{id}/users/{user_id}", true),
    ("delete", "/domains/{id}/users/{user_id}", true),
    ("get", "/orgs", true),
    ("post", "/orgs", true),
    ("get", "/orgs/{id}", true),
    ("patch", "/orgs/{id}", true),
    ("delete", "/orgs/{id}", true),
    ("get", "/orgs/{id}/members", true),
    ("post", "/orgs/{id}/members", true),
    ("put", "/orgs/{id}/members/{user_id}", true),
    ("delete", "/orgs/{id}/members/{user_id}", true),
    ("get", "/orgs/{id}/roles", true),
    ("post", "/orgs/{id}/roles", true),
    ("patch", "/orgs/{id}/roles/{role_id}", true),
    ("delete", "/orgs/{id}/roles/{role_id}", true),
    ("get", "/orgs/{id}/service-accounts", true),
    ("post", "/orgs/{id}/service-accounts", true),
    ("delete", "/orgs/{id}/service-accounts/{account_id}", true),
    ("get", "/orgs/{id}/clients", true),
    ("post", "/orgs/{id}/clients", true),
    ("get", "/orgs/{id}/clients/{app_id}", true),
    ("put", "/orgs/{id}/clients/{app_id}", true),
    ("delete", "/orgs/{id}/clients/{app_id}", true),
    ("post", "/orgs/{id}/clients/{app_id}/secret", true),
    ("get", "/admin/users", true),
    ("post", "/admin/users", true),
    ("get", "/admin/users/{id}", true),
    ("patch", "/admin/users/{id}", true),
    ("delete", "/admin/users/{id}", true),
    ("get", "/admin/events", true),
    ("get", "/admin/audit", true),
    ("post", "/admin/seed", true),
    ("get", "/orgs/{id}/identity-providers", true),
    ("post", "/orgs/{id}/identity-providers", true),
    ("get", "/orgs/{id}/identity-providers/{provider_id}", true),
    ("put", "/orgs/{id}/identity-providers/{provider_id}", true),
    ("delete", "/orgs/{id}/identity-providers/{provider_id}", true),
    ("get", "/auth/oidc/{provider}/login", false),
    ("get", "/auth/oidc/{provider}/callback", false),
    ("post", "/auth/oidc/exchange", false),
    ("post", "/auth/oidc/discover", false),
    ("post", "/auth/password/forgot", false),
    ("post", "/auth/password/reset", false),
    ("post", "/auth/password/change", true),
    ("get", "/auth/mfa", true),
    ("post", "/auth/mfa/totp", true),
    ("delete", "/auth/mfa/totp", true),
    ("post", "/auth/mfa/totp/confirm", true),
    ("post", "/auth/mfa/recovery-codes", true),
    ("post", "/auth/mfa/verify", false),
    ("post", "/auth/mfa/enroll", false),
    ("post", "/auth/mfa/enroll/confirm", false),
    ("get", "/auth/mfa/webauthn", true),
    ("post", "/auth/mfa/webauthn/register/start", true),
    ("post", "/auth/mfa/webauthn/register/finish", true),
    ("patch", "/auth/mfa/webauthn/{id}", true),
    ("delete", "/auth/mfa/webauthn/{id}", true),
    ("post", "/auth/mfa/webauthn/authenticate/start", true),
    ("post", "/auth/mfa/webauthn/challenge", false),
    ("delete", "/orgs/{id}/members/{user_id}/mfa", true),
    ("post", "/auth/email/verify", false),
    ("post", "/auth/email/verify/resend", true),
    ("get", "/auth/organizations/joinable", true),
    ("post", "/auth/organizations/{slug}/join", true),
    ("post", "/auth/organizations/{slug}/leave", true),
    ("get", "/invitations/{token}", false),
    ("post", "/invitations/{token}/accept", true),
    ("get", "/orgs/{id}/invitations", true),
    ("post", "/orgs/{id}/invitations", true),
    ("get", "/orgs/{id}/invitations/{invitation_id}", true),
    ("delete", "/orgs/{id}/invitations/{invitation_id}", true),
    ("post", "/orgs/{id}/invitations/{invitation_id}/resend", true),
    ("get", "/orgs/{id}/email-domains", true),
    ("post", "/orgs/{id}/email-domains", true),
    ("patch", "/orgs/{id}/email-domains/{domain}", true),
    ("delete", "/orgs/{id}/email-domains/{domain}", true),
    ("post", "/orgs/{id}/email-domains/{domain}/verify", true),
    ("post", "/api/auth/register", false),
    ("post", "/api/auth/login", false),
    ("post", "/api/auth/refresh", false),
    ("post", "/api/auth/logout", true),
    ("get", "/api/auth/me", true),
    ("post", "/api/auth/introspect", true),
    ("post", "/login", false),
    ("post", "/logout", true),
    ("get", "/me", true),
    ("post", "/auth/token/refresh", true),
    ("get", "/users/me", true),
    ("get", "/users/", true),
    ("post", "/users/", true),
    ("get", "/users/{user_id}", true),
    ("put", "/users/{user_id}", true),
    ("delete", "/users/{user_id}", true),
];

#[tokio::test]
async fn every_route_is_described_with_its_security() {
    let app = spawn_app().await;
    let doc = body(app.get("/openapi.json").await).await;
    let described: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(
        described,
        ROUTES.len(),
        "every described operation is in this table, and no more"
    );

    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    for (method, path, secured) in ROUTES {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is missing from /openapi.json");
        let names_bearer = op["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
        assert_eq!(names_bearer, *secured, "{method} {path} security");
    }
}

#[tokio::test]
async fn docs_are_served_with_bundled_assets() {
    let app = spawn_app().await;
    let page = app.get("/docs/").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(!html.contains("https://"), "the page loads nothing from the internet");
    let css = app.get("/docs/swagger-ui.css").await;
    assert_eq!(css.status(), StatusCode::OK);
    let init = app.get("/docs/swagger-initializer.js").await.text().await.unwrap();
    assert!(init.contains("/openapi.json"), "{init}");
}

/// utoipa names a schema after its type and keeps the last of two types with one name, so a
/// second `VerifyRequest` silently gave `/auth/email/verify` another body's description (found
/// by schemathesis twice). Every type deriving `ToSchema` has a name of its own (`#[schema(as =
/// ...)]` renames one).
#[test]
fn schema_names_are_unique() {
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    files(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut paths,
    );
    let mut seen: std::collections::BTreeMap<String, String> = Default::default();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !(line.contains("#[derive(") && line.contains("ToSchema")) {
                continue;
            }
            // The attributes up to the item, then the item's name.
            let mut renamed = None;
            for next in &lines[i + 1..] {
                let next = next.trim();
                if let Some(rest) = next.strip_prefix("#[schema(as = ") {
                    renamed = rest.split([')', ',']).next().map(str::to_owned);
                }
                let item = next
                    .strip_prefix("pub struct ")
                    .or_else(|| next.strip_prefix("pub enum "))
                    .or_else(|| next.strip_prefix("struct "))
                    .or_else(|| next.strip_prefix("enum "));
                if let Some(item) = item {
                    let name: String = item.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    let name = renamed.take().unwrap_or(name);
                    let place = format!("{}:{}", path.display(), i + 1);
                    if let Some(first) = seen.insert(name.clone(), place.clone()) {
                        panic!(
                            "two schemas are named {name}: {first} and {place}; rename one with #[schema(as = ...)]"
                        );
                    }
                    break;
                }
            }
        }
    }
    assert!(
        seen.contains_key("ErrorBody") && seen.contains_key("MfaVerifyRequest"),
        "{seen:?}"
    );
}

/// A parameter described as `in: path` is in its path's template, and a path's every `{name}`
/// is described (a query struct without `parameter_in = Query` once put `status` in the path).
#[tokio::test]
async fn path_parameters_are_the_paths_own() {
    let app = spawn_app().await;
    let doc = body(app.get("/openapi.json").await).await;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let described: Vec<&str> = operation["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| p["name"].as_str().unwrap())
                        .collect()
                })
                .unwrap_or_default();
            for name in &described {
                assert!(
                    path.contains(&format!("{{{name}}}")),
                    "{method} {path}: path parameter {name} is not in the path"
                );
            }
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                let name = segment.trim_matches(|c| c == '{' || c == '}');
                assert!(
                    described.contains(&name),
                    "{method} {path}: {{{name}}} is not described"
                );
            }
        }
    }
}
