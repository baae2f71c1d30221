//! Introspection answers: RFC 7662's for service accounts, and seed 000's (the claims as signed
//! with the current roles). Anything inactive is exactly `{"active": false}`.
use crate::http::dto::UserView;
use crate::model::MembershipContext;
use crate::service::authn::Introspected;
use crate::token::AccessClaims;
use serde_json::{Map, Value, json};

/// RFC 7662 §2.2: a user token's current memberships, or a service account's permissions.
pub fn rfc7662(found: Option<Introspected>) -> Value {
    let Some(Introspected { claims: c, context }) = found else {
        return json!({"active": false});
    };
    let mut answer = json!({
        "active": true, "token_type": "Bearer", "sub": c.sub, "iss": c.iss, "aud": c.aud, "exp": c.exp,
        "iat": c.iat, "nbf": c.nbf, "jti": c.jti, "org": c.org, "scope": c.permissions.join(" "),
    });
    if let Value::Object(map) = &mut answer {
        match context {
            Some(context) => user_fields(map, &context, &c),
            None => {
                map.insert("client_id".into(), json!(c.client_id));
                map.insert("permissions".into(), json!(c.permissions));
            }
        }
    }
    answer
}

fn user_fields(map: &mut Map<String, Value>, context: &MembershipContext, claims: &AccessClaims) {
    let user = UserView::from(context);
    let username = context.user.username.as_ref().unwrap_or(&context.user.email);
    map.insert("username".into(), json!(username));
    map.insert("sid".into(), json!(claims.sid));
    map.insert("scope".into(), json!(user.permissions.join(" ")));
    for (key, value) in [
        ("email", json!(user.email)),
        ("name", json!(user.name)),
        ("roles", json!(user.roles)),
        ("permissions", json!(user.permissions)),
        ("teams", json!(user.teams)),
        ("domains", json!(user.domains)),
    ] {
        map.insert(key.into(), value);
    }
}

/// Seed 000's answer: the token's claims with `active` and the user's current standing.
pub fn daarion(found: Option<(AccessClaims, std::sync::Arc<MembershipContext>)>) -> Value {
    let Some((claims, context)) = found else {
        return json!({"active": false});
    };
    let mut answer = serde_json::to_value(&claims).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut answer {
        map.insert("active".into(), json!(true));
        map.insert("email".into(), json!(context.user.email));
        map.insert("name".into(), json!(context.user.display_name));
        map.insert(
            "roles".into(),
            json!(crate::service::compat::daarion::roles(&context.roles)),
        );
        map.insert("permissions".into(), json!(context.permissions));
    }
    answer
}
