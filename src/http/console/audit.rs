//! The console's audit log: what happened in the organisation, newest last, narrowed by actor
//! (a part of the email or client id), action (its beginning: `login`, `org.member`, `mfa`) and
//! days (`YYYY-MM-DD`, from the start of `since` to the end of `until`, UTC). The same
//! `ActivityService` as `GET /admin/audit`, for the console session's organisation.
use super::{Console, FieldErrors, Nav};
use crate::http::state::AppState;
use crate::model::PageRequest;
use crate::store::audit::AuditFilter;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{NaiveDate, TimeZone, Utc};
use serde::Deserialize;

pub struct AuditRow {
    pub when: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage<'a> {
    nav: &'a Nav,
    q: &'a AuditQuery,
    rows: Vec<AuditRow>,
    next: Option<String>,
    errors: FieldErrors,
}

fn day(field: &str, raw: &str, end: bool, errors: &mut Vec<(String, String)>) -> Option<chrono::DateTime<Utc>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(date) => {
            let date = if end { date.succ_opt()? } else { date };
            Some(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?))
        }
        Err(_) => {
            errors.push((field.to_owned(), "is not a date (YYYY-MM-DD)".to_owned()));
            None
        }
    }
}

pub async fn audit(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<AuditQuery>) -> Response {
    let console = match Console::of(&state, &headers, "/console/audit", "audit").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let mut problems = Vec::new();
    let filter = AuditFilter {
        actor: Some(q.actor.trim().to_owned()).filter(|a| !a.is_empty()),
        action: Some(q.action.trim().to_owned()).filter(|a| !a.is_empty()),
        since: day("since", &q.since, false, &mut problems),
        until: day("until", &q.until, true, &mut problems),
    };
    let errors = FieldErrors::from_pairs(problems);
    if !errors.is_empty() {
        let view = AuditPage {
            nav: &console.nav,
            q: &q,
            rows: vec![],
            next: None,
            errors,
        };
        return console.render(StatusCode::UNPROCESSABLE_ENTITY, &view);
    }
    let page = PageRequest {
        limit: 50,
        after: q.cursor.as_deref().and_then(|c| c.parse().ok()),
    };
    let found = match state.activity.org_audit(&console.caller, &filter, page).await {
        Ok(found) => found,
        Err(e) => return console.failed(e),
    };
    let rows = found
        .items
        .into_iter()
        .map(|e| AuditRow {
            when: e.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            actor: e.actor.unwrap_or_default(),
            action: e.action,
            target: match (e.target_type, e.target_id) {
                (Some(t), Some(id)) => format!("{t} {id}"),
                (Some(t), None) => t,
                _ => String::new(),
            },
            outcome: e.outcome,
        })
        .collect();
    let view = AuditPage {
        nav: &console.nav,
        q: &q,
        rows,
        next: found.next_cursor,
        errors,
    };
    console.render(StatusCode::OK, &view)
}

pub struct EventRow {
    pub when: String,
    pub subject: String,
    pub kind: String,
    pub published: bool,
}

#[derive(Template)]
#[template(path = "console/events.html")]
struct EventsPage<'a> {
    nav: &'a Nav,
    rows: Vec<EventRow>,
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CursorQuery {
    #[serde(default)]
    cursor: Option<String>,
}

/// The organisation's events (the outbox NATS and webhooks are fed from), and whether each went
/// out yet. The same `ActivityService` as `GET /admin/events`.
pub async fn events(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<CursorQuery>) -> Response {
    let console = match Console::of(&state, &headers, "/console/events", "events").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let page = PageRequest {
        limit: 50,
        after: q.cursor.as_deref().and_then(|c| c.parse().ok()),
    };
    let found = match state.activity.events(&console.caller, page).await {
        Ok(found) => found,
        Err(e) => return console.failed(e),
    };
    let org = console.caller.org_id;
    let view = EventsPage {
        nav: &console.nav,
        rows: found
            .items
            .into_iter()
            .filter(|e| e.org_id == Some(org))
            .map(|e| EventRow {
                when: e.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                subject: e.subject,
                kind: e.event_type,
                published: e.published_at.is_some(),
            })
            .collect(),
        next: found.next_cursor,
    };
    console.render(StatusCode::OK, &view)
}
