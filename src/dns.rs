//! Outgoing DNS: the TXT records that prove an organisation owns an email domain, looked up
//! through hickory-resolver at `AUTH_DNS_RESOLVER` (tests run a DNS server on loopback) or the
//! system's resolvers. Each lookup uses a fresh resolver, so a record just published is seen (no
//! cached "no such record" from the previous try).
use hickory_resolver::Resolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use std::net::SocketAddr;
use std::time::Duration;

/// Why a lookup has no answer.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The name has no TXT records (or does not exist).
    #[error("no TXT records")]
    NotFound,
    /// No resolver answered usefully (unreachable, timed out, a server failure).
    #[error("DNS lookup failed: {0}")]
    Unavailable(String),
}

/// Looks up TXT records.
#[derive(Debug, Clone)]
pub struct Dns {
    server: Option<SocketAddr>,
}

impl Dns {
    /// `server`: one DNS server to ask (UDP, then TCP); `None`: the system's resolvers.
    pub fn new(server: Option<SocketAddr>) -> Self {
        Self { server }
    }

    fn resolver(&self) -> Result<Resolver<TokioRuntimeProvider>, DnsError> {
        let unavailable = |e: hickory_resolver::net::NetError| DnsError::Unavailable(e.to_string());
        let mut builder = match self.server {
            Some(addr) => {
                let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                for connection in &mut server.connections {
                    connection.port = addr.port();
                }
                let config = ResolverConfig::from_name_servers(vec![server]);
                Resolver::builder_with_config(config, TokioRuntimeProvider::default())
            }
            None => Resolver::builder_tokio().map_err(unavailable)?,
        };
        let options = builder.options_mut();
        options.timeout = Duration::from_secs(3);
        options.attempts = 2;
        builder.build().map_err(unavailable)
    }

    /// The TXT values at `name` (each record's strings joined, as SPF and DKIM read them).
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        let lookup = match self.resolver()?.txt_lookup(fqdn).await {
            Ok(lookup) => lookup,
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => return Err(DnsError::NotFound),
            Err(e) => return Err(DnsError::Unavailable(e.to_string())),
        };
        let values: Vec<String> = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part))
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect();
        if values.is_empty() {
            return Err(DnsError::NotFound);
        }
        Ok(values)
    }
}
