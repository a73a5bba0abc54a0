//! JSON bodies (feature `json`): [`RequestBuilder::send_json`] and
//! [`Response::into_json`], with serde and serde_json.

use http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::netloc;
use crate::request::RequestBuilder;
use crate::response::Response;

/// The `Content-Type` of a JSON request body (RFC 8259 §11).
const JSON_CONTENT_TYPE: &str = "application/json";

impl RequestBuilder {
    /// Sends `value` serialized as JSON, with `Content-Type: application/json`
    /// unless a `Content-Type` was set. The JSON is made in memory first and sent
    /// as [`send_bytes`](Self::send_bytes) sends bytes: with a `Content-Length`,
    /// replayable for a retry or a 307/308 redirect.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), tinyhttps::Error> {
    /// let client = tinyhttps::Client::new();
    /// let reading = serde_json::json!({ "sensor": "t1", "celsius": 21.5 });
    /// let resp = client
    ///     .post("https://device-api.example.com/v1/readings")
    ///     .send_json(&reading)?;
    /// assert_eq!(resp.status(), 201);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`call`](Self::call); also [`Error::InvalidRequest`] when `value` cannot
    /// be serialized (a map with keys that are not strings, a `Serialize` impl
    /// that fails).
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    pub fn send_json(self, value: &impl Serialize) -> Result<Response> {
        let body = serde_json::to_vec(value)
            .map_err(|e| Error::invalid_request(format_args!("JSON body: {e}")))?;
        let request = if self.has_header(CONTENT_TYPE) {
            self
        } else {
            self.header(CONTENT_TYPE, JSON_CONTENT_TYPE)
        };
        request.send_bytes(&body)
    }
}

impl Response {
    /// The body parsed as JSON into `T` (any `DeserializeOwned` type:
    /// `serde_json::Value`, your own `#[derive(Deserialize)]` struct), read up
    /// to the client's [`body_limit`](crate::ClientBuilder::body_limit) (a gzip
    /// body counts decoded bytes). The status is not looked at: check it first.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), tinyhttps::Error> {
    /// let client = tinyhttps::Client::new();
    /// let resp = client.get("https://device-api.example.com/v1/config").call()?;
    /// let config: serde_json::Value = resp.into_json()?;
    /// println!("interval: {}", config["interval_s"]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::BodyTooLarge`] above the limit; [`Error::Json`] when the body is
    /// not JSON or not a `T` (the message says what and where); the errors of
    /// reading a body ([`Error::Truncated`], a timeout, ...).
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    pub fn into_json<T: DeserializeOwned>(self) -> Result<T> {
        let host = self
            .url()
            .authority()
            .map(|a| Box::from(netloc::host_port(a.as_str())))
            .unwrap_or_default();
        let bytes = self.into_vec()?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Json {
            host,
            source: Box::new(e),
        })
    }
}
