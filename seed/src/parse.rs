//! YAML (or JSON, which is YAML) into a `Document`. Each list item is read on its own, so one
//! bad item does not hide the problems of the others.
use crate::{Document, Problem};
use serde::de::DeserializeOwned;
use serde_json::Value;

fn read<T: DeserializeOwned>(value: &Value, path: &str, problems: &mut Vec<Problem>) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Some(v),
        Err(e) => {
            let inner = e.path().to_string();
            let full = if inner == "." {
                path.to_owned()
            } else {
                format!("{path}.{inner}")
            };
            let message = e.inner().to_string();
            problems.push(Problem { path: full, message });
            None
        }
    }
}

/// Lists whose items are checked one by one.
const LISTS: &[&str] = &[
    "roles",
    "teams",
    "domains",
    "users",
    "service_accounts",
    "identity_providers",
];

pub fn parse(text: &str) -> Result<Document, Vec<Problem>> {
    let value: Value = serde_yaml_ng::from_str(text).map_err(|e| {
        vec![Problem {
            path: "document".into(),
            message: format!("not valid YAML: {e}"),
        }]
    })?;
    let mut problems = Vec::new();
    // serde reads a struct from a list of its fields too: `[]` would be an empty document.
    if !matches!(value, Value::Object(_)) {
        return Err(vec![Problem {
            path: "document".into(),
            message: "must be a mapping with `orgs`".into(),
        }]);
    }
    if let Value::Object(map) = &value {
        for key in map.keys().filter(|k| *k != "orgs") {
            problems.push(Problem {
                path: key.clone(),
                message: "unknown key".into(),
            });
        }
        if let Some(Value::Array(orgs)) = map.get("orgs") {
            for (i, org) in orgs.iter().enumerate() {
                let base = format!("orgs[{i}]");
                if let Value::Object(fields) = org {
                    let mut own = fields.clone();
                    own.retain(|key, _| !LISTS.contains(&key.as_str()));
                    drop(read::<crate::Org>(&Value::Object(own), &base, &mut problems));
                    for list in LISTS {
                        if let Some(Value::Array(items)) = fields.get(*list) {
                            for (j, item) in items.iter().enumerate() {
                                check_item(list, item, &format!("{base}.{list}[{j}]"), &mut problems);
                            }
                        }
                    }
                } else {
                    problems.push(Problem {
                        path: base,
                        message: "must be a mapping".into(),
                    });
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    read::<Document>(&value, "document", &mut problems).ok_or(problems)
}

fn check_item(list: &str, item: &Value, path: &str, problems: &mut Vec<Problem>) {
    if !matches!(item, Value::Object(_)) {
        problems.push(Problem {
            path: path.to_owned(),
            message: "must be a mapping".into(),
        });
        return;
    }
    match list {
        "roles" => drop(read::<crate::Role>(item, path, problems)),
        "teams" => drop(read::<crate::Team>(item, path, problems)),
        "domains" => drop(read::<crate::Domain>(item, path, problems)),
        "users" => drop(read::<crate::User>(item, path, problems)),
        "identity_providers" => drop(read::<crate::IdentityProvider>(item, path, problems)),
        _ => drop(read::<crate::ServiceAccount>(item, path, problems)),
    }
}
