//! The web console and the account page, driven like a browser (cookies kept, redirects read
//! one by one): the console logs in as guildhall's own first-party client (code + PKCE through
//! the hosted login), its forms carry the CSRF token, refused forms come back with the errors
//! beside the fields, and every page honours the API's authorisation (another organisation's
//! team is a 404 page, a plain member is not let into the organisation's pages). The same pages
//! in Chromium, with an accessibility check and screenshots, are in tests/rp/console.test.mjs.
use crate::helpers::{PASSWORD, TestApp, body, spawn_app_with};
use crate::op_support::{Browser, Page, spawn_provider};
use reqwest::StatusCode;
use serde_json::Value;

/// Follows redirects within guildhall from `path`, the way a browser would, until a page.
async fn visit(app: &TestApp, browser: &Browser, path: &str) -> Page {
    let mut page = browser.get(path).await;
    for _ in 0..10 {
        match (&page.status, page.location.clone()) {
            (s, Some(location)) if s.is_redirection() => {
                let next = if location.starts_with('/') {
                    format!("{}{location}", app.address)
                } else {
                    location
                };
                page = browser.get(&next).await;
            }
            _ => return page,
        }
    }
    panic!("too many redirects from {path}");
}

/// Logs `email` in to the console from `path`: the hosted login page, then back to `path`.
async fn console_login(app: &TestApp, browser: &Browser, email: &str, path: &str) -> Page {
    console_login_as(app, browser, email, PASSWORD, path).await
}

async fn console_login_as(app: &TestApp, browser: &Browser, email: &str, password: &str, path: &str) -> Page {
    let login = visit(app, browser, path).await;
    assert!(login.is("Log in to guildhall console"), "{}", login.html);
    let mut page = browser.log_in(&login, email, password).await;
    for _ in 0..10 {
        match (&page.status, page.location.clone()) {
            (s, Some(location)) if s.is_redirection() => {
                let next = if location.starts_with('/') {
                    format!("{}{location}", app.address)
                } else {
                    location
                };
                page = browser.get(&next).await;
            }
            _ => return page,
        }
    }
    panic!("the console login did not come back");
}

/// Posts a form of the console with the page's CSRF token; answers the page it leads to.
async fn submit(app: &TestApp, browser: &Browser, page: &Page, action: &str, fields: &[(&str, &str)]) -> Page {
    let csrf = page.field("csrf");
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    let answer = browser.post(action, &form).await;
    match (answer.status, answer.location.clone()) {
        (StatusCode::SEE_OTHER, Some(location)) => visit(app, browser, &location).await,
        _ => answer,
    }
}

#[tokio::test]
async fn an_admin_logs_in_to_the_console_and_manages_members_invitations_and_teams() {
    let app = spawn_provider(|_| {}).await;
    let acme = app.create_org("acme").await;
    app.user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    let browser = Browser::new(&app);

    // No console session: the hosted login of the console's own client, then the members page.
    let members = console_login(&app, &browser, "admin@acme.test", "/console/members").await;
    assert_eq!(members.status, StatusCode::OK, "{}", members.html);
    assert!(
        members.is("ada@acme.test") && members.is("admin@acme.test"),
        "{}",
        members.html
    );
    let csp = members.csp.clone().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    // Search narrows the list.
    let found = browser.get("/console/members?q=ADA").await;
    assert!(
        found.is("ada@acme.test") && !found.is("admin@acme.test</td>"),
        "{}",
        found.html
    );

    // An invitation: a bad address comes back beside its field, with what was typed.
    let invitations = browser.get("/console/invitations").await;
    let refused = submit(
        &app,
        &browser,
        &invitations,
        "/console/invitations",
        &[("email", "not-an-address")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.html);
    assert!(
        refused.is("id=\"invite-email-error\"") && refused.is("value=\"not-an-address\""),
        "{}",
        refused.html
    );
    let sent = submit(
        &app,
        &browser,
        &invitations,
        "/console/invitations",
        &[("email", "grace@acme.test")],
    )
    .await;
    assert!(
        sent.is("The invitation was sent") && sent.is("grace@acme.test"),
        "{}",
        sent.html
    );
    // The API sees the same invitation: the console called the same service.
    let listed = app
        .expect(
            "GET",
            &format!("/orgs/{}/invitations", acme.id),
            &acme.admin_token,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(listed["items"][0]["email"], "grace@acme.test");
    // Inviting the same address again is refused beside the field.
    let again = submit(
        &app,
        &browser,
        &sent,
        "/console/invitations",
        &[("email", "grace@acme.test")],
    )
    .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", again.html);

    // A form without the browser's CSRF token changes nothing.
    let forged = browser
        .post(
            "/console/invitations",
            &[("csrf", "forged"), ("email", "eve@acme.test")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.is("This form has expired"), "{}", forged.html);

    // A team: created, renamed, a member added with a team role.
    let teams = browser.get("/console/teams").await;
    let bad = submit(
        &app,
        &browser,
        &teams,
        "/console/teams",
        &[("slug", "Not A Slug!"), ("name", "Platform")],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.is("id=\"team-slug-error\"") && bad.is("value=\"Platform\""),
        "{}",
        bad.html
    );
    let team = submit(
        &app,
        &browser,
        &teams,
        "/console/teams",
        &[("slug", "platform"), ("name", "Platform")],
    )
    .await;
    assert!(team.is("<h1>Platform</h1>"), "{}", team.html);
    let team_id = team
        .html
        .split("action=\"/console/teams/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let renamed = submit(
        &app,
        &browser,
        &team,
        &format!("/console/teams/{team_id}"),
        &[("name", "Platform team")],
    )
    .await;
    assert!(renamed.is("<h1>Platform team</h1>"), "{}", renamed.html);
    let stranger = submit(
        &app,
        &browser,
        &renamed,
        &format!("/console/teams/{team_id}/members"),
        &[("email", "nobody@else.test"), ("role", "member")],
    )
    .await;
    assert_eq!(stranger.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(stranger.is("is not a member of this organisation"), "{}", stranger.html);
    let added = submit(
        &app,
        &browser,
        &renamed,
        &format!("/console/teams/{team_id}/members"),
        &[("email", "ada@acme.test"), ("role", "maintainer")],
    )
    .await;
    assert!(added.is("ada@acme.test") && added.is("maintainer"), "{}", added.html);
    let ada = app.token_in("ada@acme.test", "acme").await;
    let validated = app.validate(&ada).await;
    assert_eq!(validated["user"]["teams"][0]["role"], "maintainer", "{validated}");

    // Another organisation's team is a 404 page, as the API answers.
    let other = app.create_org("globex").await;
    let theirs = app.create_team(&other.admin_token, "secret").await;
    let hidden = browser.get(&format!("/console/teams/{theirs}")).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert!(hidden.is("Not found"), "{}", hidden.html);
    let junk = browser.get("/console/teams/not-an-id").await;
    assert_eq!(junk.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_user_has_an_account_page_and_members_do_not_get_the_admin_pages() {
    let app = spawn_provider(|_| {}).await;
    let acme = app.create_org("acme").await;
    app.user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    // Another session of Ada's, through the API.
    let api_session = app.token_in("ada@acme.test", "acme").await;
    let browser = Browser::new(&app);
    let account = console_login(&app, &browser, "ada@acme.test", "/console").await;
    assert!(account.is("<h1>My account</h1>"), "{}", account.html);
    assert!(
        !account.is("href=\"/console/members\""),
        "no admin sections for a member"
    );
    // The organisation's pages answer as the API does for a member: not allowed.
    let members = browser.get("/console/members").await;
    assert_eq!(members.status, StatusCode::FORBIDDEN);

    // A wrong current password is refused beside its field.
    let wrong = submit(
        &app,
        &browser,
        &account,
        "/account/password",
        &[
            ("current_password", "not my password"),
            ("new_password", "another long passphrase"),
        ],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.is("id=\"current-password-error\""), "{}", wrong.html);

    // Sessions: the API's session is listed and signed out from here.
    let sessions = body(app.get_with("/auth/sessions", &api_session).await).await;
    let api_id = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .unwrap();
    assert!(
        account.is(&format!("/account/sessions/{api_id}/revoke")),
        "{}",
        account.html
    );
    let after = submit(
        &app,
        &browser,
        &account,
        &format!("/account/sessions/{api_id}/revoke"),
        &[],
    )
    .await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.html);
    assert!(!after.is(&api_id));
    assert_eq!(app.me_status(&api_session).await, StatusCode::UNAUTHORIZED);

    // An authenticator app, set up on the page: QR code, a wrong code, then the right one.
    let started = submit(&app, &browser, &after, "/account/totp", &[]).await;
    assert!(started.is("data:image/svg+xml;base64,"), "{}", started.html);
    let secret = started
        .html
        .split("class=\"secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_owned();
    let wrong = submit(&app, &browser, &started, "/account/totp/confirm", &[("code", "000000")]).await;
    let code = code_now(&app, &secret);
    if code != "000000" {
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(wrong.is("id=\"totp-code-error\""), "{}", wrong.html);
    }
    let done = submit(&app, &browser, &wrong, "/account/totp/confirm", &[("code", &code)]).await;
    assert!(done.is("The authenticator app is set up"), "{}", done.html);
    assert_eq!(done.html.matches("<li><code>").count(), 10, "ten recovery codes, once");
    // From now on a password login of Ada's takes the second step.
    let login = app.login("ada@acme.test", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::UNAUTHORIZED);
    let answer: Value = login.json().await.unwrap();
    assert_eq!(answer["error"], "mfa_required");

    // An expired console session goes back through the login (silently: the browser session
    // is alive), and comes back to the page.
    app.advance(chrono::Duration::hours(2));
    let again = browser.get("/account").await;
    assert_eq!(again.status, StatusCode::FOUND);
    assert!(
        again.location.as_deref().unwrap().starts_with("/console/login"),
        "{:?}",
        again.location
    );
}

fn code_now(app: &TestApp, secret: &str) -> String {
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    totp.generate(app.clock_now().timestamp() as u64).to_string()
}

/// The id in the first link to `/console/domains/<id>` after `marker` in a page.
fn domain_link_after(page: &Page, marker: &str) -> String {
    let after = page.html.split(marker).next().unwrap();
    after
        .rsplit("href=\"/console/domains/")
        .next()
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_domain_subtree_is_built_moved_and_assigned_and_tokens_show_it() {
    let app = spawn_provider(|_| {}).await;
    let acme = app.create_org("acme").await;
    app.user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    let browser = Browser::new(&app);
    let page = console_login(&app, &browser, "admin@acme.test", "/console/domains").await;
    assert!(page.is("<h1>Domains</h1>"), "{}", page.html);

    let sales = submit(
        &app,
        &browser,
        &page,
        "/console/domains",
        &[("key", "sales"), ("name", "Sales")],
    )
    .await;
    let sales_id = domain_link_after(&sales, ">Sales</a>");
    let emea = submit(
        &app,
        &browser,
        &sales,
        "/console/domains",
        &[("key", "emea"), ("name", "EMEA"), ("parent", &sales_id)],
    )
    .await;
    let emea_id = domain_link_after(&emea, ">EMEA</a>");
    assert!(emea.is("class=\"depth-1\""), "EMEA is shown under Sales: {}", emea.html);
    let support = submit(
        &app,
        &browser,
        &emea,
        "/console/domains",
        &[("key", "support"), ("name", "Support")],
    )
    .await;
    let support_id = domain_link_after(&support, ">Support</a>");
    // A duplicate key is refused beside its field, with what was typed.
    let dup = submit(
        &app,
        &browser,
        &support,
        "/console/domains",
        &[("key", "sales"), ("name", "Again")],
    )
    .await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        dup.is("id=\"domain-key-error\"") && dup.is("value=\"Again\""),
        "{}",
        dup.html
    );

    // Move EMEA under Support; Sales cannot move under its own descendant (not offered, and
    // refused when forged).
    let emea_page = browser.get(&format!("/console/domains/{emea_id}")).await;
    let moved = submit(
        &app,
        &browser,
        &emea_page,
        &format!("/console/domains/{emea_id}"),
        &[("op", "move"), ("parent", &support_id)],
    )
    .await;
    assert!(moved.is("support/emea"), "{}", moved.html);
    let sales_page = browser.get(&format!("/console/domains/{sales_id}")).await;
    let cycle = submit(
        &app,
        &browser,
        &sales_page,
        &format!("/console/domains/{support_id}"),
        &[("op", "move"), ("parent", &emea_id)],
    )
    .await;
    assert_eq!(cycle.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", cycle.html);

    // Assign Ada to Support: her token's domains are Support and EMEA under it.
    let assigned = submit(
        &app,
        &browser,
        &moved,
        &format!("/console/domains/{support_id}/users"),
        &[("email", "ada@acme.test")],
    )
    .await;
    assert!(assigned.is("The member was assigned"), "{}", assigned.html);
    let ada = app.token_in("ada@acme.test", "acme").await;
    let validated = app.validate(&ada).await;
    let keys: Vec<&str> = validated["user"]["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"support") && keys.contains(&"emea") && !keys.contains(&"sales"),
        "{validated}"
    );

    // Deactivated, EMEA leaves her context.
    let emea_page = browser.get(&format!("/console/domains/{emea_id}")).await;
    let off = submit(
        &app,
        &browser,
        &emea_page,
        &format!("/console/domains/{emea_id}"),
        &[("op", "active"), ("active", "false")],
    )
    .await;
    assert!(off.is("inactive"), "{}", off.html);
    let validated = app.validate(&ada).await;
    assert!(!validated.to_string().contains("\"emea\""), "{validated}");
}

#[tokio::test]
async fn an_invitation_sent_from_the_console_is_accepted_from_the_mails_link() {
    use crate::mail::{next_mail_about, smtp_sink};
    let (url, mut mail) = smtp_sink().await;
    let app = spawn_provider(move |s| s.outbound.smtp_url = Some(url)).await;
    let acme = app.create_org("acme").await;
    let admin = Browser::new(&app);
    let invitations = console_login(&app, &admin, "admin@acme.test", "/console/invitations").await;
    submit(
        &app,
        &admin,
        &invitations,
        "/console/invitations",
        &[("email", "grace@newco.test")],
    )
    .await;

    // The mail's link is guildhall's own acceptance page.
    let message = next_mail_about(&mut mail, "You are invited to join ACME").await;
    let data = message.data.replace("=\r\n", "").replace("=3D", "=");
    let link = data
        .lines()
        .find(|l| l.contains("/account/invitation?token="))
        .unwrap_or_else(|| panic!("no link in {data}"))
        .trim()
        .to_owned();
    let path = &link[link.find("/account/").unwrap()..];
    let grace = Browser::new(&app);
    let page = grace.get(path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.is("Join ACME") && page.is("grace@newco.test"), "{}", page.html);
    // A password too short is refused beside its field; nothing is spent.
    let token = page.field("token");
    let csrf = page.field("csrf");
    let short = grace
        .post(
            "/account/invitation",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("name", "Grace"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", short.html);
    assert!(
        short.is("id=\"password-error\"") && short.is("value=\"Grace\""),
        "{}",
        short.html
    );
    let joined = grace
        .post(
            "/account/invitation",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("name", "Grace"),
                ("password", "a long enough passphrase"),
            ],
        )
        .await;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.html);
    assert!(joined.is("Welcome"), "{}", joined.html);
    // She is a member now, and the link is spent.
    let login = app.login("grace@newco.test", "a long enough passphrase").await;
    assert_eq!(login.status(), StatusCode::OK);
    let members = app
        .expect(
            "GET",
            &format!("/orgs/{}/members", acme.id),
            &acme.admin_token,
            None,
            StatusCode::OK,
        )
        .await;
    assert!(members.to_string().contains("grace@newco.test"), "{members}");
    assert_eq!(grace.get(path).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_audit_log_is_filtered_by_actor_action_and_day() {
    let app = spawn_provider(|_| {}).await;
    let acme = app.create_org("acme").await;
    app.user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    app.token_in("ada@acme.test", "acme").await;
    let browser = Browser::new(&app);
    let all = console_login(&app, &browser, "admin@acme.test", "/console/audit").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.html);
    assert!(
        all.is("<code>org.member.add</code>") && all.is("<code>login</code>"),
        "{}",
        all.html
    );
    let members = browser.get("/console/audit?action=org.member").await;
    assert!(
        members.is("<code>org.member.add</code>") && !members.is("<code>login</code>"),
        "{}",
        members.html
    );
    let ada = browser.get("/console/audit?actor=ada%40").await;
    assert!(ada.is("ada@acme.test") && !ada.is("<td>root@"), "{}", ada.html);
    let today = app.clock_now().format("%Y-%m-%d").to_string();
    let dated = browser
        .get(&format!("/console/audit?since={today}&until={today}"))
        .await;
    assert!(dated.is("<code>login</code>"), "{}", dated.html);
    let later = browser.get("/console/audit?since=2999-01-01").await;
    assert!(later.is("Nothing recorded matches"), "{}", later.html);
    let bad = browser.get("/console/audit?since=yesterday").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.is("id=\"f-since-error\"") && bad.is("value=\"yesterday\""),
        "{}",
        bad.html
    );
    // Nothing of another organisation is in it.
    app.create_org("globex").await;
    let again = browser.get("/console/audit").await;
    assert!(!again.is("admin@globex.test"), "{}", again.html);
    // The events page lists the organisation's events.
    let events = browser.get("/console/events").await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.html);
    assert!(
        events.is("<code>auth.") && events.is("guildhall.org.membership.changed"),
        "{}",
        events.html
    );
}

fn secret_on(page: &Page) -> String {
    page.html
        .split("class=\"client-secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("no secret on the page: {}", page.html))
        .to_owned()
}

#[tokio::test]
async fn applications_and_service_accounts_show_their_secret_once() {
    let app = spawn_provider(|_| {}).await;
    let acme = app.create_org("acme").await;
    let browser = Browser::new(&app);
    let page = console_login(&app, &browser, "admin@acme.test", "/console/applications").await;
    assert!(page.is("No applications yet"), "{}", page.html);
    // A redirect URI that is not a URL is refused beside its field, with what was typed.
    let bad = submit(
        &app,
        &browser,
        &page,
        "/console/applications",
        &[
            ("name", "Wiki"),
            ("kind", "confidential"),
            ("redirect_uris", "not a url"),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
    assert!(
        bad.is("id=\"app-redirects-error\"") && bad.is("value=\"Wiki\""),
        "{}",
        bad.html
    );
    let made = submit(
        &app,
        &browser,
        &page,
        "/console/applications",
        &[
            ("name", "Wiki"),
            ("kind", "confidential"),
            ("redirect_uris", "https://wiki.acme.test/callback"),
        ],
    )
    .await;
    let first = secret_on(&made);
    // Never again: the list does not show it.
    let listed = browser.get("/console/applications").await;
    assert!(listed.is("Wiki") && !listed.is(&first), "{}", listed.html);
    let id = listed
        .html
        .split("action=\"/console/applications/")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_owned();
    let rotated = submit(
        &app,
        &browser,
        &listed,
        &format!("/console/applications/{id}/secret"),
        &[],
    )
    .await;
    let second = secret_on(&rotated);
    assert_ne!(first, second);
    // The API sees the same application.
    let apps = app
        .expect(
            "GET",
            &format!("/orgs/{}/clients", acme.id),
            &acme.admin_token,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(apps[0]["name"], "Wiki", "{apps}");

    let account = submit(
        &app,
        &browser,
        &listed,
        "/console/service-accounts",
        &[("name", "Reports"), ("permissions", "read:reports, write:reports")],
    )
    .await;
    let secret = secret_on(&account);
    assert!(account.is("read:reports, write:reports"), "{}", account.html);
    let client_id = account
        .html
        .split("<dt>Client id</dt><dd><code>")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap()
        .to_owned();
    let token = app
        .post_form(
            "/auth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client_id),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert_eq!(token.status(), StatusCode::OK, "the service account's secret works");
    let empty = submit(&app, &browser, &listed, "/console/service-accounts", &[("name", " ")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.is("id=\"account-name-error\""), "{}", empty.html);
}

#[tokio::test]
async fn roles_and_their_permissions_are_managed_and_tokens_follow() {
    let app = spawn_provider(|_| {}).await;
    let acme = app.create_org("acme").await;
    app.user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    let browser = Browser::new(&app);
    let page = console_login(&app, &browser, "admin@acme.test", "/console/roles").await;
    assert!(page.is("Roles and permissions") && page.is("built-in"), "{}", page.html);
    let made = submit(
        &app,
        &browser,
        &page,
        "/console/roles",
        &[
            ("key", "auditor"),
            ("name", "Auditor"),
            ("permissions", "read:audit, read:reports"),
        ],
    )
    .await;
    assert!(
        made.is("Save auditor") && made.is("read:audit, read:reports"),
        "{}",
        made.html
    );
    let dup = submit(&app, &browser, &made, "/console/roles", &[("key", "auditor")]).await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(dup.is("id=\"role-key-error\""), "{}", dup.html);
    // Built-in roles are shown, not edited.
    assert!(made.is("built-in"), "{}", made.html);
    let auditor_id = made
        .html
        .split("Save auditor")
        .next()
        .unwrap()
        .rsplit("action=\"/console/roles/")
        .next()
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let bad = submit(
        &app,
        &browser,
        &made,
        &format!("/console/roles/{auditor_id}"),
        &[("permissions", "read:wiki\u{7}")],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
    // Ada gets the role on the members page, then the role a permission: her context has it.
    let ada_id = app
        .expect(
            "GET",
            "/auth/me",
            &app.token_in("ada@acme.test", "acme").await,
            None,
            StatusCode::OK,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let members = browser.get("/console/members").await;
    let given = submit(
        &app,
        &browser,
        &members,
        &format!("/console/members/{ada_id}/roles"),
        &[("roles", "member, auditor")],
    )
    .await;
    assert!(given.is("value=\"auditor, member\""), "{}", given.html);
    let saved = submit(
        &app,
        &browser,
        &made,
        &format!("/console/roles/{auditor_id}"),
        &[("permissions", "read:wiki")],
    )
    .await;
    assert!(saved.is("value=\"read:wiki\""), "{}", saved.html);
    let ada = app.token_in("ada@acme.test", "acme").await;
    let validated = app.validate(&ada).await;
    assert!(validated.to_string().contains("read:wiki"), "{validated}");
}

#[tokio::test]
async fn an_email_domain_is_claimed_and_verified_against_a_real_dns_server() {
    let dns = crate::dns::DnsServer::start().await;
    let resolver = dns.addr.to_string();
    let app = spawn_provider(move |s| s.consent.dns_resolver = Some(resolver)).await;
    app.create_org("acme").await;
    let browser = Browser::new(&app);
    let page = console_login(&app, &browser, "admin@acme.test", "/console/email-domains").await;
    let bad = submit(
        &app,
        &browser,
        &page,
        "/console/email-domains",
        &[("domain", "not a domain")],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.is("id=\"claim-domain-error\"") && bad.is("value=\"not a domain\""),
        "{}",
        bad.html
    );
    let claimed = submit(
        &app,
        &browser,
        &page,
        "/console/email-domains",
        &[("domain", "acme.example")],
    )
    .await;
    assert!(claimed.is("_guildhall-challenge.acme.example"), "{}", claimed.html);
    let value = claimed
        .html
        .split("class=\"secret\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap()
        .to_owned();
    // Not published yet: the page says so beside the domain.
    let early = submit(
        &app,
        &browser,
        &claimed,
        "/console/email-domains/acme.example/verify",
        &[],
    )
    .await;
    assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", early.html);
    assert!(early.is("role=\"alert\""), "{}", early.html);
    dns.set_txt("_guildhall-challenge.acme.example", &[&value]);
    let verified = submit(
        &app,
        &browser,
        &claimed,
        "/console/email-domains/acme.example/verify",
        &[],
    )
    .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.html);
    assert!(
        verified.is("<span class=\"badge\">verified</span>"),
        "{}",
        verified.html
    );
}

#[tokio::test]
async fn superusers_list_and_create_organisations_and_admins_cannot() {
    use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD};
    let app = spawn_provider(|_| {}).await;
    let acme = app.create_org("acme").await;
    let root = Browser::new(&app);
    // The superuser belongs to the default organisation alone: no picker, straight in.
    let page = console_login_as(&app, &root, ADMIN_EMAIL, ADMIN_PASSWORD, "/console/organisations").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.is("<td>acme</td>"), "{}", page.html);
    let made = submit(
        &app,
        &root,
        &page,
        "/console/organisations",
        &[("slug", "globex"), ("name", "Globex")],
    )
    .await;
    assert!(made.is("<td>globex</td>"), "{}", made.html);
    let dup = submit(
        &app,
        &root,
        &made,
        "/console/organisations",
        &[("slug", "globex"), ("name", "Again")],
    )
    .await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        dup.is("id=\"org-slug-error\"") && dup.is("value=\"Again\""),
        "{}",
        dup.html
    );
    // An organisation's admin does not see the page, nor create one.
    let admin = Browser::new(&app);
    let members = console_login(&app, &admin, "admin@acme.test", "/console/members").await;
    assert!(!members.is("/console/organisations"), "no link for an admin");
    assert_eq!(admin.get("/console/organisations").await.status, StatusCode::FORBIDDEN);
    let refused = submit(
        &app,
        &admin,
        &members,
        "/console/organisations",
        &[("slug", "mine"), ("name", "Mine")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let acme_id = acme.id.clone();
    let off = admin
        .post(
            &format!("/console/organisations/{acme_id}/active"),
            &[("csrf", members.field("csrf").as_str()), ("active", "false")],
        )
        .await;
    assert_eq!(off.status, StatusCode::FORBIDDEN, "an admin cannot deactivate");

    // The superuser deactivates acme: its members can no longer log in to it; then activates it.
    let page = visit(&app, &root, "/console/organisations").await;
    let acme_row = page.html.split("<td>acme</td>").nth(1).unwrap().to_owned();
    assert!(acme_row.contains("Deactivate"), "{acme_row}");
    let bad = submit(
        &app,
        &root,
        &page,
        &format!("/console/organisations/{acme_id}/active"),
        &[("active", "maybe")],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
    let default_id = app.default_org_id().await;
    let own = submit(
        &app,
        &root,
        &page,
        &format!("/console/organisations/{default_id}/active"),
        &[("active", "false")],
    )
    .await;
    assert_eq!(own.status, StatusCode::CONFLICT, "not the session's own organisation");
    let off = submit(
        &app,
        &root,
        &page,
        &format!("/console/organisations/{acme_id}/active"),
        &[("active", "false")],
    )
    .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.html);
    let acme_row = off.html.split("<td>acme</td>").nth(1).unwrap().to_owned();
    assert!(
        acme_row.contains("inactive") && acme_row.contains("Activate"),
        "{acme_row}"
    );
    assert!(!app.login("admin@acme.test", PASSWORD).await.status().is_success());
    let on = submit(
        &app,
        &root,
        &off,
        &format!("/console/organisations/{acme_id}/active"),
        &[("active", "true")],
    )
    .await;
    assert!(on.html.split("<td>acme</td>").nth(1).unwrap().contains("Deactivate"));
    assert!(app.login("admin@acme.test", PASSWORD).await.status().is_success());
    let unknown = submit(
        &app,
        &root,
        &on,
        &format!("/console/organisations/{}/active", uuid::Uuid::now_v7()),
        &[("active", "false")],
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_identity_provider_is_added_edited_and_its_connection_tested() {
    let idp = crate::fake_idp::FakeIdp::start().await;
    let app = spawn_provider(|_| {}).await;
    let acme = app.create_org("acme").await;
    app.create_team(&acme.admin_token, "ops").await;
    let browser = Browser::new(&app);
    let page = console_login(&app, &browser, "admin@acme.test", "/console/providers").await;
    assert!(page.is("No identity providers yet"), "{}", page.html);
    // An issuer that is not https (nor on this machine) is refused beside its field.
    let bad = submit(
        &app,
        &browser,
        &page,
        "/console/providers",
        &[
            ("slug", "corp"),
            ("name", "Corp SSO"),
            ("issuer", "http://sso.example.com"),
            ("client_id", "guildhall"),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
    assert!(
        bad.is("id=\"p-issuer-error\"") && bad.is("value=\"Corp SSO\""),
        "{}",
        bad.html
    );
    let made = submit(
        &app,
        &browser,
        &page,
        "/console/providers",
        &[
            ("slug", "corp"),
            ("name", "Corp SSO"),
            ("issuer", idp.issuer()),
            ("client_id", "guildhall"),
            ("client_secret", "s3cret-value"),
        ],
    )
    .await;
    assert!(
        made.is("<h1>Corp SSO</h1>") && made.is("a client secret is stored"),
        "{}",
        made.html
    );
    assert!(!made.is("s3cret-value"), "the secret is never shown");
    let id = made
        .html
        .split("action=\"/console/providers/")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_owned();
    let tested = submit(&app, &browser, &made, &format!("/console/providers/{id}/test"), &[]).await;
    assert_eq!(tested.status, StatusCode::OK, "{}", tested.html);
    assert!(
        tested.is("The provider answered") && tested.is("Authorization endpoint"),
        "{}",
        tested.html
    );
    // Edited: a new name, the secret kept (left empty).
    let edited = submit(
        &app,
        &browser,
        &tested,
        &format!("/console/providers/{id}"),
        &[
            ("slug", "corp"),
            ("name", "Corp login"),
            ("issuer", idp.issuer()),
            ("client_id", "guildhall"),
            // Only a verified domain of the organisation may be served.
            ("email_domains", "corp.test"),
        ],
    )
    .await;
    assert_eq!(edited.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        edited.is("id=\"p-domains-error\"") && edited.is("value=\"Corp login\""),
        "{}",
        edited.html
    );
    let edited = submit(
        &app,
        &browser,
        &tested,
        &format!("/console/providers/{id}"),
        &[
            ("slug", "corp"),
            ("name", "Corp login"),
            ("issuer", idp.issuer()),
            ("client_id", "guildhall"),
        ],
    )
    .await;
    assert!(
        edited.is("<h1>Corp login</h1>") && edited.is("a client secret is stored"),
        "{}",
        edited.html
    );
    // Scopes without openid are refused beside their field; the groups claim and scopes save.
    let fields = [
        ("slug", "corp"),
        ("name", "Corp login"),
        ("issuer", idp.issuer()),
        ("client_id", "guildhall"),
        ("active", "1"),
        ("groups_claim", "roles"),
    ];
    let no_openid = submit(
        &app,
        &browser,
        &edited,
        &format!("/console/providers/{id}"),
        &[fields.as_slice(), &[("scopes", "email profile")]].concat(),
    )
    .await;
    assert_eq!(no_openid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_openid.is("id=\"p-scopes-error\""), "{}", no_openid.html);
    let scoped = submit(
        &app,
        &browser,
        &edited,
        &format!("/console/providers/{id}"),
        &[fields.as_slice(), &[("scopes", "openid email groups")]].concat(),
    )
    .await;
    assert!(
        scoped.is("value=\"openid email groups\"")
            && scoped.is("value=\"roles\"")
            && scoped.is("<code>roles</code> claim"),
        "{}",
        scoped.html
    );
    let title = scoped
        .html
        .split("<title>")
        .nth(1)
        .unwrap()
        .split("</title>")
        .next()
        .unwrap();
    assert!(title.starts_with("Corp login") && !title.contains('<'), "{title}");
    // Claim mappings: an unknown role and a team without its role are refused beside their
    // fields, with what was typed kept; a good one is listed, and removed.
    let mapping = format!("/console/providers/{id}/mappings");
    let unknown = submit(
        &app,
        &browser,
        &scoped,
        &mapping,
        &[("value", "eng"), ("roles", "wizard"), ("teams", "ops=maintainer")],
    )
    .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", unknown.html);
    assert!(
        unknown.is("id=\"m-roles-error\"") && unknown.is("unknown role") && unknown.is("value=\"ops=maintainer\""),
        "{}",
        unknown.html
    );
    let no_role = submit(&app, &browser, &scoped, &mapping, &[("value", "eng"), ("teams", "ops")]).await;
    assert_eq!(no_role.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_role.is("id=\"m-teams-error\""), "{}", no_role.html);
    let mapped = submit(
        &app,
        &browser,
        &scoped,
        &mapping,
        &[("value", "eng"), ("roles", "member"), ("teams", "ops=maintainer")],
    )
    .await;
    assert_eq!(mapped.status, StatusCode::OK, "{}", mapped.html);
    assert!(
        mapped.is("<td>eng</td><td>member</td><td>ops=maintainer</td>"),
        "{}",
        mapped.html
    );
    let stored = app
        .expect(
            "GET",
            &format!("/orgs/{}/identity-providers/{id}", acme.id),
            &acme.admin_token,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(stored["mappings"][0]["teams"]["ops"], "maintainer", "{stored}");
    assert_eq!(stored["groups_claim"], "roles", "{stored}");
    let stale = submit(
        &app,
        &browser,
        &mapped,
        &format!("{mapping}/remove"),
        &[("at", "0"), ("value", "other")],
    )
    .await;
    assert_eq!(stale.status, StatusCode::NOT_FOUND);
    let removed = submit(
        &app,
        &browser,
        &mapped,
        &format!("{mapping}/remove"),
        &[("at", "0"), ("value", "eng")],
    )
    .await;
    assert!(removed.is("No claim mappings yet"), "{}", removed.html);
    // An issuer nobody answers at: the test says why, beside the button.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = submit(
        &app,
        &browser,
        &edited,
        &format!("/console/providers/{id}"),
        &[
            ("slug", "corp"),
            ("name", "Corp login"),
            ("issuer", &format!("http://127.0.0.1:{port}")),
            ("client_id", "guildhall"),
        ],
    )
    .await;
    let failed = submit(&app, &browser, &gone, &format!("/console/providers/{id}/test"), &[]).await;
    assert_eq!(failed.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", failed.html);
    assert!(failed.is("could not be reached"), "{}", failed.html);
}

#[tokio::test]
async fn the_account_page_changes_the_name_and_the_email_with_the_password() {
    use crate::mail::{VERIFY_SUBJECT, next_mail_about, smtp_sink};
    let (url, mut mail) = smtp_sink().await;
    let app = spawn_provider(move |s| s.outbound.smtp_url = Some(url)).await;
    let acme = app.create_org("acme").await;
    app.user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    let browser = Browser::new(&app);
    let page = console_login(&app, &browser, "ada@acme.test", "/account").await;
    assert!(page.is("value=\"ada@acme.test\""), "{}", page.html);
    // A blank name is refused beside its field, with what was typed.
    let blank = submit(
        &app,
        &browser,
        &page,
        "/account/profile",
        &[("name", " "), ("email", "ada@acme.test")],
    )
    .await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(blank.is("id=\"profile-name-error\""), "{}", blank.html);
    let renamed = submit(
        &app,
        &browser,
        &page,
        "/account/profile",
        &[("name", "Ada Lovelace"), ("email", "ada@acme.test")],
    )
    .await;
    assert!(
        renamed.is("value=\"Ada Lovelace\"") && renamed.is("Saved."),
        "{}",
        renamed.html
    );
    // A new address needs the current password; a wrong one changes nothing.
    let wrong = submit(
        &app,
        &browser,
        &renamed,
        "/account/profile",
        &[
            ("name", "Ada Lovelace"),
            ("email", "ada@new.test"),
            ("current_password", "not it"),
        ],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong.is("id=\"profile-password-error\"") && wrong.is("value=\"ada@new.test\""),
        "{}",
        wrong.html
    );
    assert_eq!(app.login("ada@acme.test", PASSWORD).await.status(), StatusCode::OK);
    let moved = submit(
        &app,
        &browser,
        &renamed,
        "/account/profile",
        &[
            ("name", "Ada Lovelace"),
            ("email", "ada@new.test"),
            ("current_password", PASSWORD),
        ],
    )
    .await;
    assert!(
        moved.is("A mail went to the new address") && moved.is("not verified"),
        "{}",
        moved.html
    );
    let message = next_mail_about(&mut mail, VERIFY_SUBJECT).await;
    assert!(
        message.recipients.iter().any(|r| r.contains("ada@new.test")),
        "{:?}",
        message.recipients
    );
    assert_eq!(app.login("ada@new.test", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_account_page_removes_a_passkey_with_a_recovery_code() {
    use crate::passkeys::{authenticator, register};
    let app = spawn_app_with(|s| s.issuer = Some("https://guildhall.test".into())).await;
    let acme = app.create_org("acme").await;
    app.user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    let ada = app.token_in("ada@acme.test", "acme").await;
    let registered = register(&app, &ada, &mut authenticator(), "Old phone").await;
    let codes: Vec<String> = registered["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let id = registered["passkey"]["id"].as_str().unwrap().to_owned();
    // The console session, started here by hand: an access token of the account in the cookie
    // (the hosted login is tested above; this app's public URL is not where the test runs).
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookies = format!("guildhall_console={ada}; guildhall_csrf={}", "c".repeat(43));
    let page = client
        .get(app.url("/account"))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Old phone"));
    let csrf = "c".repeat(43);
    let post = |code: String| {
        let (client, cookies, url, id, csrf) = (
            client.clone(),
            cookies.clone(),
            app.url("/account/passkeys/remove"),
            id.clone(),
            csrf.clone(),
        );
        async move {
            client
                .post(url)
                .header("cookie", cookies)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("passkey", id.as_str()),
                    ("code", code.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let wrong = post("abcd-efgh-ijkl-mnop".into()).await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.text().await.unwrap().contains("id=\"remove-code-error\""));
    let removed = post(codes[0].clone()).await;
    assert_eq!(removed.status(), StatusCode::OK);
    assert!(removed.text().await.unwrap().contains("The passkey was removed."));
    let listed = app
        .expect("GET", "/auth/mfa/webauthn", &ada, None, StatusCode::OK)
        .await;
    assert_eq!(listed["passkeys"], serde_json::json!([]));
}

#[tokio::test]
async fn an_admin_sets_the_organisations_name_logo_and_mfa_policy() {
    let app = spawn_provider(|_| {}).await;
    let acme = app.create_org("acme").await;
    app.user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    let browser = Browser::new(&app);
    let page = console_login(&app, &browser, "admin@acme.test", "/console/settings").await;
    assert!(page.is("value=\"ACME\""), "{}", page.html);
    let bad = submit(
        &app,
        &browser,
        &page,
        "/console/settings",
        &[("name", "Acme Corp"), ("logo_url", "javascript:alert(1)")],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.is("id=\"org-logo-error\"") && bad.is("value=\"Acme Corp\""),
        "{}",
        bad.html
    );
    let saved = submit(
        &app,
        &browser,
        &page,
        "/console/settings",
        &[("name", "Acme Corp"), ("logo_url", ""), ("require_mfa", "1")],
    )
    .await;
    assert!(saved.is("Saved.") && saved.is("checked"), "{}", saved.html);
    // Ada has no second factor: her next login is sent to enrolment.
    let login = app.login("ada@acme.test", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::FORBIDDEN);
    let answer: Value = login.json().await.unwrap();
    assert_eq!(answer["error"], "mfa_enrollment_required");
    // A member does not get the page.
    let member = Browser::new(&app);
    app.expect(
        "PATCH",
        &format!("/orgs/{}", acme.id),
        &acme.admin_token,
        Some(serde_json::json!({"require_mfa": false})),
        StatusCode::OK,
    )
    .await;
    console_login(&app, &member, "ada@acme.test", "/account").await;
    assert_eq!(member.get("/console/settings").await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_user_leaves_an_organisation_but_not_the_last_one_nor_as_its_last_owner() {
    let app = spawn_provider(|_| {}).await;
    let acme = app.create_org("acme").await;
    let beta = app.create_org("beta").await;
    app.user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    app.user_in(&beta.admin_token, &beta.id, "ada@acme.test", &["member"])
        .await;
    app.user_in(&beta.admin_token, &beta.id, "admin@acme.test", &["member"])
        .await;
    // Ada's console session, in acme (the hosted login's picker is tested elsewhere).
    let session = |token: String| {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let cookies = format!("guildhall_console={token}; guildhall_csrf={}", "c".repeat(43));
        (client, cookies)
    };
    let leave = |(client, cookies): (reqwest::Client, String), org: String| {
        let url = app.url("/account/leave");
        async move {
            let csrf = "c".repeat(43);
            let response = client
                .post(url)
                .header("cookie", cookies)
                .form(&[("csrf", csrf.as_str()), ("organization", org.as_str())])
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.text().await.unwrap())
        }
    };
    let ada = app.token_in("ada@acme.test", "acme").await;
    let (status, page) = leave(session(ada.clone()), beta.id.clone()).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("You left the organisation."), "{page}");
    let beta_members = app
        .expect(
            "GET",
            &format!("/orgs/{}/members", beta.id),
            &beta.admin_token,
            None,
            StatusCode::OK,
        )
        .await;
    assert!(!beta_members.to_string().contains("ada@acme.test"), "{beta_members}");
    // Acme is her last organisation now.
    let (status, page) = leave(session(ada), acme.id.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("id=\"leave-error\""), "{page}");
    // Acme's only owner cannot leave it, though he is in beta too.
    let owner = app.token_in("admin@acme.test", "acme").await;
    let (status, page) = leave(session(owner), acme.id.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("id=\"leave-error\""), "{page}");
    // Another organisation's id: not found.
    let stranger = app.token_in("ada@acme.test", "acme").await;
    let (status, _) = leave(session(stranger), uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The API twin of the account page's "Leave".
#[tokio::test]
async fn leaving_an_organisation_through_the_api() {
    use crate::helpers::expect_error;
    let app = spawn_provider(|_| {}).await;
    let acme = app.create_org("acme").await;
    let beta = app.create_org("beta").await;
    app.user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    app.user_in(&beta.admin_token, &beta.id, "ada@acme.test", &["member"])
        .await;
    let in_beta = app.token_in("ada@acme.test", "beta").await;
    let in_acme = app.token_in("ada@acme.test", "acme").await;
    app.expect(
        "POST",
        "/auth/organizations/beta/leave",
        &in_acme,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    // Her session in beta ended with the membership; the one in acme goes on.
    assert_eq!(app.me_status(&in_beta).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_status(&in_acme).await, StatusCode::OK);
    expect_error(
        app.send("POST", "/auth/organizations/beta/leave", &in_acme, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.send("POST", "/auth/organizations/acme/leave", &in_acme, None).await,
        StatusCode::CONFLICT,
        "last_organization",
    )
    .await;
    expect_error(
        app.send("POST", "/auth/organizations/nowhere/leave", &in_acme, None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

/// The console's forms that name an id, given another organisation's (or a made-up) one: a 404
/// page, as the API answers, and nothing changes; an unknown role key is refused.
#[tokio::test]
async fn console_forms_with_another_organisations_ids_find_nothing_and_change_nothing() {
    let app = spawn_provider(|_| {}).await;
    let acme = app.create_org("acme").await;
    let globex = app.create_org("globex").await;
    let theirs = app
        .user_in(&globex.admin_token, &globex.id, "gus@globex.test", &["member"])
        .await;
    let team = app.create_team(&globex.admin_token, "secret").await;
    let domain = app.create_domain(&globex.admin_token, "hq", None).await;
    let browser = Browser::new(&app);
    let page = console_login(&app, &browser, "admin@acme.test", "/console/members").await;
    let made_up = uuid::Uuid::new_v4().to_string();
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (format!("/console/members/{theirs}/remove"), vec![]),
        (format!("/console/members/{theirs}/roles"), vec![("roles", "admin")]),
        (format!("/console/invitations/{made_up}/revoke"), vec![]),
        (format!("/console/invitations/{made_up}/resend"), vec![]),
        (format!("/console/teams/{team}"), vec![("name", "owned")]),
        (format!("/console/teams/{team}/members/{theirs}/remove"), vec![]),
        (
            format!("/console/domains/{domain}"),
            vec![("op", "rename"), ("name", "owned")],
        ),
        (
            format!("/console/domains/{domain}/users"),
            vec![("email", "admin@acme.test")],
        ),
        (format!("/console/applications/{made_up}/secret"), vec![]),
        (format!("/console/service-accounts/{made_up}/remove"), vec![]),
        (format!("/console/roles/{made_up}"), vec![("permissions", "read:x")]),
        (format!("/console/providers/{made_up}/mappings"), vec![("value", "eng")]),
        (
            format!("/console/providers/{made_up}/mappings/remove"),
            vec![("at", "0"), ("value", "eng")],
        ),
        (format!("/account/identities/{made_up}/unlink"), vec![]),
        ("/account/identities/not-an-id/unlink".to_owned(), vec![]),
    ];
    for (action, fields) in &forms {
        let answer = submit(&app, &browser, &page, action, fields).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{action}: {}", answer.html);
    }
    // Globex is as it was.
    let members = app
        .expect(
            "GET",
            &format!("/orgs/{}/members", globex.id),
            &globex.admin_token,
            None,
            StatusCode::OK,
        )
        .await;
    assert!(members.to_string().contains("gus@globex.test"), "{members}");
    let t = app
        .expect(
            "GET",
            &format!("/teams/{team}"),
            &globex.admin_token,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(t["name"], "secret");
    // An unknown role key for one of acme's own members is refused, and changes nothing.
    let ada = app
        .user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    let refused = submit(
        &app,
        &browser,
        &page,
        &format!("/console/members/{ada}/roles"),
        &[("roles", "emperor")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.html);
    let token = app.token_in("ada@acme.test", "acme").await;
    assert_eq!(
        app.validate(&token).await["user"]["roles"],
        serde_json::json!(["member"])
    );
}

#[tokio::test]
async fn a_lost_database_gets_a_clear_page_and_no_cause() {
    let app = spawn_provider(|_| {}).await;
    app.create_org("acme").await;
    let browser = Browser::new(&app);
    let members = console_login(&app, &browser, "admin@acme.test", "/console/members").await;
    assert_eq!(members.status, StatusCode::OK, "{}", members.html);
    app.handle.close_database().await.unwrap();
    let read = visit(&app, &browser, "/console/teams").await;
    assert_eq!(read.status, StatusCode::SERVICE_UNAVAILABLE, "{}", read.html);
    let write = submit(
        &app,
        &browser,
        &members,
        "/console/teams",
        &[("slug", "ops"), ("name", "Ops")],
    )
    .await;
    assert_eq!(write.status, StatusCode::SERVICE_UNAVAILABLE, "{}", write.html);
    for page in [&read, &write] {
        assert!(page.is("cannot reach its database"), "{}", page.html);
        for cause in ["sqlx", "database is closed", "PoolClosed", "pool", "panicked"] {
            assert!(!page.html.contains(cause), "{cause} leaked: {}", page.html);
        }
    }
}
