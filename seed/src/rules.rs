//! Input rules shared by the API and seed documents: emails, usernames, names, slugs, keys,
//! permissions.

/// A lower-cased email address with one `@`, a non-empty local part and a dotted domain.
pub fn email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err("is required".into());
    }
    if email.len() > 254 {
        return Err("must be at most 254 characters".into());
    }
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && (domain.contains('.') || domain == "localhost")
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if valid {
        Ok(email)
    } else {
        Err("is not a valid email address".into())
    }
}

/// A username: NFKC-normalised and lower-cased, 1–64 of letters, digits, `.`, `_` and `-`,
/// never containing `@` (so `ｆｏｏ` is `foo`).
pub fn username(raw: &str) -> Result<String, String> {
    use unicode_normalization::UnicodeNormalization;
    let name = raw.trim().nfkc().collect::<String>().to_lowercase();
    if name.is_empty() || name.chars().count() > 64 {
        return Err("must be 1 to 64 characters".into());
    }
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err("may contain only letters, digits, '.', '_' and '-'".into());
    }
    Ok(name)
}

/// A display name: 1–200 characters after trimming, no control characters.
pub fn display_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err("must be 1 to 200 characters".into());
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(name.to_owned())
}

/// A slug: 1–63 of lower-case ASCII letters, digits and `-`, not starting or ending with `-`.
pub fn slug(raw: &str) -> Result<String, String> {
    let ok = !raw.is_empty()
        && raw.len() <= 63
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !raw.starts_with('-')
        && !raw.ends_with('-');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err("must be 1 to 63 lower-case letters, digits or '-'".into())
    }
}

/// A domain key: like a slug, and `_` is allowed too.
pub fn key(raw: &str) -> Result<String, String> {
    let ok = !raw.is_empty()
        && raw.len() <= 63
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err("must be 1 to 63 lower-case letters, digits, '-' or '_'".into())
    }
}

/// A permission string such as `read:posts` or `*`: 1–100 visible characters, no spaces.
pub fn permissions(raw: &[String]) -> Result<Vec<String>, String> {
    for p in raw {
        if p.is_empty() || p.chars().count() > 100 || p.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "\"{p}\" is not a valid permission (1 to 100 characters, no spaces)"
            ));
        }
    }
    let mut out = raw.to_vec();
    out.sort();
    out.dedup();
    Ok(out)
}

/// An optional free-text reference of at most 255 characters.
pub fn reference(raw: &str) -> Result<String, String> {
    if raw.chars().count() > 255 {
        Err("must be at most 255 characters".into())
    } else {
        Ok(raw.to_owned())
    }
}

/// Whether a URL's host is this machine (`localhost`, `127.0.0.1`, `[::1]`), compared as a parsed
/// host, not as a prefix (`http://localhost.evil.example` is not local).
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A client id of a service account or an application: 1 to 64 of letters, digits, `_`, `-`, `.`.
pub fn is_client_id(raw: &str) -> bool {
    !raw.is_empty()
        && raw.len() <= 64
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// An organisation's logo: an `https://` URL (or `http://` on this machine), at most 2000 bytes.
pub fn logo_url(raw: &str) -> Result<String, String> {
    let url = raw.trim();
    let ok = url.len() <= 2000
        && url::Url::parse(url).ok().is_some_and(|u| {
            u.host().is_some()
                && (u.scheme() == "https" || (u.scheme() == "http" && is_loopback(&u)))
                && u.username().is_empty()
                && u.password().is_none()
        });
    if ok {
        Ok(url.to_owned())
    } else {
        Err("must be an https:// URL of at most 2000 characters".into())
    }
}

/// An OpenID Connect issuer: an `https://` URL (or `http://` on this machine, for development),
/// with no query, fragment or credentials; kept exactly as given (trimmed).
pub fn issuer(raw: &str) -> Result<String, String> {
    let url = raw.trim();
    let parsed = url::Url::parse(url).ok().filter(|u| u.host().is_some());
    let ok = parsed.as_ref().is_some_and(|u| {
        (u.scheme() == "https" || (u.scheme() == "http" && is_loopback(u)))
            && u.username().is_empty()
            && u.password().is_none()
    }) && url.len() <= 2048
        && !url.contains(['?', '#', ' ', '@'])
        && url
            .split("://")
            .nth(1)
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    if ok {
        // Kept exactly: discovery requires the provider's issuer byte for byte (Auth0's ends in '/').
        Ok(url.to_owned())
    } else {
        Err("must be an https:// URL (http:// only on localhost)".into())
    }
}

/// OAuth scopes: tokens without spaces; `openid` must be among them.
pub fn scopes(raw: &[String]) -> Result<Vec<String>, String> {
    if raw
        .iter()
        .any(|s| s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err("scopes are single words".into());
    }
    if !raw.iter().any(|s| s == "openid") {
        return Err("must include openid".into());
    }
    let mut out = raw.to_vec();
    out.dedup();
    Ok(out)
}

/// An email domain a provider serves, lower-cased.
pub fn email_domain(raw: &str) -> Result<String, String> {
    let domain = raw.trim().trim_start_matches('@').to_lowercase();
    let ok = domain.contains('.')
        && domain.len() <= 253
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if ok {
        Ok(domain)
    } else {
        Err(format!("\"{raw}\" is not a domain name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email(" Ada@Example.TEST ").unwrap(), "ada@example.test");
        assert_eq!(email("admin@localhost").unwrap(), "admin@localhost");
        for bad in [
            "",
            "ada",
            "@x.test",
            "ada@",
            "ada@x",
            "a b@x.test",
            "a@b@x.test",
            "ada@.test",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usernames_and_slugs() {
        assert_eq!(username("Ada.L").unwrap(), "ada.l");
        assert_eq!(
            username("ＡＤＡ").unwrap(),
            "ada",
            "fullwidth letters are their ASCII selves"
        );
        assert!(username("a@b").is_err());
        assert!(username("").is_err());
        assert!(slug("acme-1").is_ok());
        for bad in ["", "Acme", "-a", "a-", "a_b"] {
            assert!(slug(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn issuers_scopes_and_domains() {
        assert_eq!(issuer(" https://id.example.com/ ").unwrap(), "https://id.example.com/");
        assert!(issuer("http://127.0.0.1:9000").is_ok());
        for bad in [
            "http://id.example.com",
            "ftp://x",
            "https://",
            "https://x?y=1",
            "id.example.com",
            "http://localhost.evil.example",
            "http://127.0.0.1.evil.example",
            "http://localhost@evil.example",
            "https://user:pass@id.example.com",
        ] {
            assert!(issuer(bad).is_err(), "{bad}");
        }
        assert!(issuer("http://localhost:8080/realms/x").is_ok());
        assert!(issuer("http://[::1]:9000").is_ok());
        assert!(scopes(&["openid".into(), "email".into()]).is_ok());
        assert!(scopes(&["email".into()]).is_err());
        assert_eq!(email_domain("@Acme.COM").unwrap(), "acme.com");
        assert!(email_domain("nodot").is_err());
    }
}
