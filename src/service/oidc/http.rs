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

/// Providers' discovery documents, by issuer.
pub struct Discovery {
    http: Http,
    cache: Mutex<HashMap<String, (Instant, Arc<CoreProviderMetadata>)>>,
}

impl Discovery {
    pub fn new(http: Http) -> Self {
        Self {
            http,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    /// The provider's discovery document, cached for a few minutes. `fresh` skips the cache (a
    /// token signed with a key we do not know yet).
    pub async fn metadata(&self, issuer: &str, fresh: bool) -> Result<Arc<CoreProviderMetadata>, OidcError> {
        if !fresh {
            let cached = self.cache.lock().ok().and_then(|m| m.get(issuer).cloned());
            if let Some((_, metadata)) = cached.filter(|(at, _)| at.elapsed() < METADATA_TTL) {
                return Ok(metadata);
            }
        }
        let url = IssuerUrl::new(issuer.to_owned()).map_err(|e| OidcError::Unreachable(e.into()))?;
        let metadata = CoreProviderMetadata::discover_async(url, &self.http)
            .await
            .map_err(|e| OidcError::Unreachable(anyhow::anyhow!("discovery of {issuer} failed: {e}")))?;
        let metadata = Arc::new(metadata);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(issuer.to_owned(), (Instant::now(), Arc::clone(&metadata)));
        }
        Ok(metadata)
    }
}
