//! Where a webhook may deliver: an `http(s)` URL without credentials whose host resolves only to
//! public addresses. Private, loopback, link-local, carrier-grade NAT, unspecified, multicast
//! and broadcast ranges are refused (in IPv4-mapped and NAT64 form too) unless
//! `AUTH_WEBHOOK_ALLOW_PRIVATE=true`. Checked when a webhook is written, and again on every
//! attempt by the delivery client's resolver (`Guard`), which refuses the connection when any
//! address of the host is refused, so a name that later resolves elsewhere (DNS rebinding)
//! reaches nothing it should not.
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// How long a name may take to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A URL's syntax: absolute, `http` or `https`, a host, no user or password, at most 2048 bytes.
pub fn parse(raw: &str) -> Result<Url, String> {
    let raw = raw.trim();
    if raw.len() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    let url = Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("must use http or https, not {}", url.scheme()));
    }
    if url.host().is_none() {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    Ok(url)
}

fn v4_refused(a: Ipv4Addr) -> bool {
    let [first, second, ..] = a.octets();
    a.is_private()
        || a.is_loopback()
        || a.is_link_local()
        || a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || first == 0
        // Carrier-grade NAT, 100.64.0.0/10.
        || (first == 100 && (second & 0xc0) == 64)
}

fn v6_refused(a: Ipv6Addr) -> bool {
    if let Some(v4) = a.to_ipv4_mapped() {
        return v4_refused(v4);
    }
    let segments = a.segments();
    // NAT64's well-known prefix 64:ff9b::/96 reaches the IPv4 address it embeds.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b, c, d] = a.octets()[12..] else {
            return true;
        };
        return v4_refused(Ipv4Addr::new(a, b, c, d));
    }
    a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        // Unique local fc00::/7, link-local fe80::/10, the old site-local fec0::/10.
        || (segments[0] & 0xfe00) == 0xfc00
        || (segments[0] & 0xffc0) == 0xfe80
        || (segments[0] & 0xffc0) == 0xfec0
}

/// Whether deliveries to `ip` are refused (without `AUTH_WEBHOOK_ALLOW_PRIVATE`).
pub fn refused(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => v4_refused(a),
        IpAddr::V6(a) => v6_refused(a),
    }
}

const REFUSED: &str = "points at a private, loopback or link-local address";

/// Every address of `url`'s host, each allowed: the message for a 422 otherwise.
pub async fn check(url: &Url, allow_private: bool) -> Result<(), String> {
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(a)) => vec![SocketAddr::new(IpAddr::V4(a), port)],
        Some(url::Host::Ipv6(a)) => vec![SocketAddr::new(IpAddr::V6(a), port)],
        Some(url::Host::Domain(name)) => {
            match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, port))).await {
                Ok(Ok(addrs)) => addrs.collect(),
                Ok(Err(_)) | Err(_) => return Err(format!("names a host that does not resolve ({name})")),
            }
        }
        None => return Err("must name a host".into()),
    };
    if addrs.is_empty() {
        return Err("names a host without addresses".into());
    }
    if !allow_private && addrs.iter().any(|a| refused(a.ip())) {
        return Err(REFUSED.into());
    }
    Ok(())
}

/// The delivery client's resolver: a host is reached only if none of its addresses is refused.
pub struct Guard {
    pub allow_private: bool,
}

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host.as_str(), 0)))
                    .await
                    .map_err(|_| format!("resolving {host} timed out"))??
                    .collect();
            if !allow_private && let Some(bad) = addrs.iter().find(|a| refused(a.ip())) {
                return Err(format!("{host} resolves to {}, which is refused", bad.ip()).into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_and_link_local_ranges_are_refused_in_every_form() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(refused(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(!refused(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn only_plain_http_urls_parse() {
        assert!(parse("https://hooks.example.com/in?x=1").is_ok());
        assert!(parse("http://hooks.example.com:8080/").is_ok());
        for (bad, why) in [
            ("not a url", "is not a URL"),
            ("ftp://example.com/", "http or https"),
            ("javascript:alert(1)", "http or https"),
            ("https://user:pw@example.com/", "user name or password"),
            ("https://example.com/#frag", "fragment"),
        ] {
            let error = parse(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }

    #[tokio::test]
    async fn literal_addresses_are_checked_without_resolving() {
        let url = parse("http://127.0.0.1:9/").unwrap();
        assert!(check(&url, false).await.unwrap_err().contains("private"));
        assert!(check(&url, true).await.is_ok());
        let url = parse("http://[::1]:9/").unwrap();
        assert!(check(&url, false).await.is_err());
        let url = parse("http://localhost:9/").unwrap();
        assert!(check(&url, false).await.is_err(), "localhost resolves to loopback");
    }
}
