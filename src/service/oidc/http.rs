//! Talking to identity providers: one HTTP client with no redirects followed, bounded time and a
//! bounded response size, and their discovery documents cached for a few minutes.
use super::OidcError;
use openidconnect::core::CoreProviderMetadata;
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse, IssuerUrl};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a provider's discovery document (and keys) are trusted before they are fetched again.
const METADATA_TTL: Duration = Duration::from_secs(300);
/// Largest response read from a provider.
pub const MAX_RESPONSE: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(transparent)]
    Request(#[from] reqwest::Error),
    #[error(transparent)]
    Http(#[from] openidconnect::http::Error),
    #[error("response larger than {MAX_RESPONSE} bytes")]
    TooLarge,
}

/// The HTTP client `openidconnect` talks to providers with.
pub struct Http(reqwest::Client);

impl Http {
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            // Following redirects would let a provider's answer point us anywhere (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self(client))
    }

    /// GETs `url` and reads at most `MAX_RESPONSE` bytes of a successful answer.
    pub async fn get_bytes(&self, url: &str) -> Result<Vec<u8>, HttpError> {
        let response = self.0.get(url).send().await?.error_for_status()?;
        read_capped(response).await
    }
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, HttpError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_RESPONSE {
            return Err(HttpError::TooLarge);
        }
    }
    Ok(bytes)
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response = self
                .0
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let mut builder = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            Ok(builder.body(read_capped(response).await?)?)
        })
    }
}

/// How long a failed discovery is remembered before the provider is asked again.
const FAILURE_REMEMBERED: Duration = Duration::from_secs(10);

/// One issuer's discovery document as last fetched, and when fetching it last failed.
#[derive(Default)]
struct Entry {
    metadata: Option<(Instant, Arc<CoreProviderMetadata>)>,
    failed_at: Option<Instant>,
}

/// Providers' discovery documents, by issuer: fetched one at a time per issuer (single flight),
/// kept a few minutes, failures remembered for a few seconds, so a burst of logins or tokens
/// while a provider is down makes one request, not one each.
pub struct Discovery {
    http: Http,
    entries: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Entry>>>>,
}

impl Discovery {
    pub fn new(http: Http) -> Self {
        Self {
            http,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    /// The provider's discovery document, cached for a few minutes. `fresh` skips the cache (a
    /// token signed with a key we do not know yet), not the remembered failure.
    pub async fn metadata(&self, issuer: &str, fresh: bool) -> Result<Arc<CoreProviderMetadata>, OidcError> {
        let entry = {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(entries.entry(issuer.to_owned()).or_default())
        };
        let mut entry = entry.lock().await;
        if !fresh
            && let Some((at, metadata)) = &entry.metadata
            && at.elapsed() < METADATA_TTL
        {
            return Ok(Arc::clone(metadata));
        }
        if entry.failed_at.is_some_and(|at| at.elapsed() < FAILURE_REMEMBERED) {
            return Err(OidcError::Unreachable(anyhow::anyhow!(
                "discovery of {issuer} failed just now"
            )));
        }
        let url = IssuerUrl::new(issuer.to_owned()).map_err(|e| OidcError::Unreachable(e.into()))?;
        match CoreProviderMetadata::discover_async(url, &self.http).await {
            Ok(metadata) => {
                let metadata = Arc::new(metadata);
                entry.metadata = Some((Instant::now(), Arc::clone(&metadata)));
                entry.failed_at = None;
                Ok(metadata)
            }
            Err(e) => {
                entry.failed_at = Some(Instant::now());
                Err(OidcError::Unreachable(anyhow::anyhow!(
                    "discovery of {issuer} failed: {e}"
                )))
            }
        }
    }
}
