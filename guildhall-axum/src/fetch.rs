//! HTTP to guildhall: JSON answers read to at most [`MAX_BODY`] bytes. Failures are reasons
//! for the log (they become `guildhall_unavailable`), never text for a client.
use serde::de::DeserializeOwned;

/// The most a discovery, JWKS or validate answer may weigh (1 MiB).
pub const MAX_BODY: usize = 1 << 20;

/// GETs `url` and parses its JSON; anything but 200 is a failure.
pub(crate) async fn get_json<T: DeserializeOwned>(client: &reqwest::Client, url: &str) -> Result<T, String> {
    let response = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| format!("GET {url}: {}", describe(&e)))?;
    read_json(response, url).await
}

/// Reads a 200 answer's JSON, refusing bodies over [`MAX_BODY`].
pub(crate) async fn read_json<T: DeserializeOwned>(mut response: reqwest::Response, url: &str) -> Result<T, String> {
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return Err(format!("{url} answered {status}"));
    }
    if response.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(format!("{url} answered more than {MAX_BODY} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading {url}: {}", describe(&e)))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("{url} answered more than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| format!("{url} answered malformed JSON: {e}"))
}

/// reqwest's message plus its cause chain (the cause says "connection refused").
pub(crate) fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
