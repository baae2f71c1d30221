//! Introspection answers: RFC 7662's for service accounts, and seed 000's (the claims as signed
//! with the current roles). Anything inactive is exactly `{"active": false}`.
use crate::http::dto::UserView;
use crate::model::MembershipContext;
use crate::service::authn::Introspected;
use crate::token::AccessClaims;
use serde_json::{Map, Value, json};

/// RFC 7662 §2.2: a user token's current memberships, or a service account's permissions.
/// `scope` is the scope granted to the application that holds the token (RFC 9068); a token of
/// guildhall's own API has none, and there `scope` lists the permissions, as before.
pub fn rfc7662(found: Option<Introspected>) -> Value {
    let Some(Introspected { claims: c, context }) = found else {
        return json!({"active": false});
    };
    let mut answer = json!({
        "active": true, "token_type": "Bearer", "sub": c.sub, "iss": c.iss, "aud": c.aud, "exp": c.exp,
        "iat": c.iat, "nbf": c.nbf, "jti": c.jti, "org": c.org,
    });
    if let Value::Object(map) = &mut answer {
        match &context {
            Some(context) => user_fields(map, context, &c),
            None => {
                map.insert("permissions".into(), json!(c.permissions));
            }
        }
        let scope = match &c.scope {
            Some(scope) => scope.clone(),
            None => match &context {
                Some(context) => context.permissions.join(" "),
                None => c.permissions.join(" "),
            },
        };
        map.insert("scope".into(), json!(scope));
        if let Some(client_id) = &c.client_id {
            map.insert("client_id".into(), json!(client_id));
        } else if context.is_none() {
            map.insert("client_id".into(), Value::Null);
        }
        if let (Some(amr), Some(acr)) = (&c.amr, &c.acr) {
            map.insert("amr".into(), json!(amr));
            map.insert("acr".into(), json!(acr));
        }
    }
    answer
}

fn user_fields(map: &mut Map<String, Value>, context: &MembershipContext, claims: &AccessClaims) {
    let user = UserView::from(context);
    let username = context.user.username.as_ref().unwrap_or(&context.user.email);
    map.insert("username".into(), json!(username));
    map.insert("sid".into(), json!(claims.sid));
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
