use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};

use crate::FetchError;

/// A fetched response: status, headers and the whole (size-capped) body.
#[derive(Clone, Debug)]
pub struct FetchResponse {
    url: String,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl FetchResponse {
    pub(crate) fn new(url: String, status: StatusCode, headers: HeaderMap, body: Bytes) -> Self {
        Self {
            url,
            status,
            headers,
            body,
        }
    }

    /// A response assembled by hand, for tests and fuzzing of code that reads responses.
    pub fn from_parts(url: &str, status: StatusCode, headers: HeaderMap, body: Bytes) -> Self {
        Self::new(url.to_owned(), status, headers, body)
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// [`FetchError::Status`] unless the status is 2xx.
    ///
    /// # Errors
    /// A non-2xx status.
    pub fn require_success(&self) -> Result<(), FetchError> {
        if self.status.is_success() {
            Ok(())
        } else {
            Err(FetchError::Status {
                url: self.url.clone(),
                status: self.status.as_u16(),
            })
        }
    }

    /// Parses the body as JSON, requiring a JSON media type (`application/json` or any
    /// `+json` type).
    ///
    /// # Errors
    /// [`FetchError::ContentType`] or [`FetchError::Json`].
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, FetchError> {
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let media = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if media != "application/json" && !media.ends_with("+json") {
            return Err(FetchError::ContentType {
                url: self.url.clone(),
                content_type: content_type.chars().take(64).collect(),
            });
        }
        serde_json::from_slice(&self.body).map_err(|e| FetchError::Json {
            url: self.url.clone(),
            message: e.to_string(),
        })
    }

    /// How long the response may be reused: `max-age` clamped to `[min, max]`; `min` when the
    /// response says `no-store` or `no-cache`; `default` (clamped) when it says nothing.
    pub fn freshness(&self, min: Duration, max: Duration, default: Duration) -> Duration {
        let parsed = self
            .headers
            .get_all(header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(cache_control::CacheControl::from_value)
            .collect::<Vec<_>>();
        let refuses = parsed
            .iter()
            .any(|cc| cc.no_store || cc.cachability == Some(cache_control::Cachability::NoCache));
        if refuses {
            return min;
        }
        parsed
            .iter()
            .find_map(|cc| cc.max_age)
            .unwrap_or(default)
            .clamp(min, max)
    }
}
