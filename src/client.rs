//! [`Client`]: the cheap-to-clone handle and its verbs. The request loop is in
//! `run.rs`, the builder and settings in `config.rs`.

use std::fmt;
use std::sync::Arc;

use http::request::Parts;
use http::{Method, Uri};

use crate::config::ClientBuilder;
use crate::deadline::Deadline;
use crate::download::Download;
use crate::error::{Error, Result};
use crate::exchange::ReqBody;
use crate::netloc::{self, Netloc};
use crate::request::{self, RequestBuilder, SendBody};
use crate::response::Response;
use crate::run::{self, Options, Shared};
use crate::stats::Stats;
use crate::tls::CertificateExpiry;

/// A blocking HTTP/1.1 and HTTPS client.
///
/// Build one at start-up and use it for the life of the program: it keeps the TLS
/// configs, resumable sessions and idle connections that make later requests cheap.
/// `Clone` is cheap (an `Arc`), and a client may be shared by many threads.
///
/// ```no_run
/// # fn main() -> Result<(), tinyhttps::Error> {
/// let client = tinyhttps::Client::new();
/// let resp = client
///     .get("https://device-api.example.com/v1/status")
///     .header("Accept", "application/json")
///     .call()?;
/// assert_eq!(resp.status(), 200);
/// let text = resp.into_string()?;
/// # let _ = text; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("timeouts", &self.shared.config.timeouts)
            .field("redirects", &self.shared.config.redirects)
            .finish_non_exhaustive()
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    /// A client with the defaults: webpki-roots trust, every timeout set (see
    /// [`ClientBuilder`]), redirects followed up to 10, pooling on.
    // The defaults are constants, read no file or variable, and pass `build`'s
    // checks (every test that calls `Client::new` shows it).
    #[allow(clippy::expect_used)]
    pub fn new() -> Client {
        ClientBuilder::new()
            .build()
            .expect("the default settings are valid")
    }

    /// A builder to change the defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A GET request.
    pub fn get(&self, url: &str) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A HEAD request (the response has no body).
    pub fn head(&self, url: &str) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }

    /// A POST request.
    pub fn post(&self, url: &str) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// A PUT request.
    pub fn put(&self, url: &str) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// A PATCH request.
    pub fn patch(&self, url: &str) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// A DELETE request.
    pub fn delete(&self, url: &str) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// An OPTIONS request.
    pub fn options(&self, url: &str) -> RequestBuilder {
        self.request(Method::OPTIONS, url)
    }

    /// A request with any method. [`get`](Self::get), [`post`](Self::post) and the
    /// other verbs are this with their method.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), tinyhttps::Error> {
    /// use tinyhttps::Method;
    /// let client = tinyhttps::Client::new();
    /// let url = "https://device-api.example.com/v1/log";
    /// client.request(Method::DELETE, url).call()?;
    /// client.delete(url).call()?; // the same request
    /// # Ok(()) }
    /// ```
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url)
    }

    /// Sends an [`http::Request`]: its method, URL, version and headers as they
    /// are, its body as [`SendBody`] says (`()` for none; its extensions are not
    /// used), with the client's settings (the overall deadline included).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use tinyhttps::http::Request;
    /// let client = tinyhttps::Client::new();
    /// let request = Request::get("https://device-api.example.com/v1/status")
    ///     .header("Accept", "application/json")
    ///     .body(())?;
    /// let resp = client.run(request)?;
    /// println!("{}", resp.into_string()?);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`RequestBuilder::call`]: a URL that is not absolute `http` or `https`
    /// is [`Error::InvalidUrl`], a version other than HTTP/1.0 or 1.1
    /// [`Error::InvalidRequest`].
    pub fn run<B: SendBody>(&self, request: http::Request<B>) -> Result<Response> {
        let (mut parts, body) = request.into_parts();
        // Cloned for each hop otherwise.
        parts.extensions = http::Extensions::new();
        self.execute(parts, Options::default(), request::req_body(&body))
    }

    /// A resumable, SHA-256-verified, atomic download of `url` to a file (a
    /// firmware image): see [`Download`].
    pub fn download(&self, url: &str) -> Download<'static> {
        Download::new(self.clone(), url)
    }

    /// A snapshot of the counters: requests, connections, handshakes, pool and TLS
    /// cache activity, bytes (see [`Stats`]).
    ///
    /// ```
    /// let client = tinyhttps::Client::new();
    /// assert_eq!(client.stats().requests, 0);
    /// ```
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// When the certificates this client depends on expire: each trust policy's
    /// client certificate, and the leaf each server presented in its last full
    /// handshake. A daemon checks [`CertificateExpiry::soonest`] against its alarm
    /// horizon (weeks, not days: a fielded device may need a firmware update to
    /// trust a new chain).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), tinyhttps::Error> {
    /// use std::time::{Duration, SystemTime};
    /// let client = tinyhttps::Client::new();
    /// client.get("https://device-api.example.com/v1/status").call()?;
    /// let horizon = SystemTime::now() + Duration::from_secs(30 * 24 * 3600);
    /// if client.certificate_expiry().soonest().is_some_and(|t| t < horizon) {
    ///     eprintln!("a certificate expires within 30 days");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn certificate_expiry(&self) -> CertificateExpiry {
        self.shared.tls.expiry()
    }

    /// Closes every idle pooled connection now, on every host. A daemon calls this
    /// after a network change (a new address, another interface, a VPN coming up):
    /// the connections made over the old path would fail or, worse, wait for a
    /// time limit. Requests in flight keep their connections; the next ones connect
    /// anew (with resumed TLS sessions, which survive this). Returns how many
    /// connections were closed. Cheap: one lock to take them out, closes outside it.
    ///
    /// ```
    /// let client = tinyhttps::Client::new();
    /// // ... the network changed:
    /// let closed = client.close_idle();
    /// assert_eq!(closed, 0);
    /// assert_eq!(client.stats().idle_connections, 0);
    /// ```
    pub fn close_idle(&self) -> usize {
        self.shared.pool.close_idle()
    }

    /// Opens a connection to `url`'s host ahead of need (TCP, TLS handshake) and
    /// keeps it in the pool, unless a live one is there already: a daemon does this
    /// at boot, while the CPU is idle, so its first real request is cheap.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), tinyhttps::Error> {
    /// let client = tinyhttps::Client::new();
    /// client.warm_up("https://device-api.example.com/")?;
    /// // Later: no connect, no handshake.
    /// client.get("https://device-api.example.com/v1/status").call()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`RequestBuilder::call`], for the connect and TLS phases.
    pub fn warm_up(&self, url: &str) -> Result<()> {
        let uri: Uri = url.parse().map_err(|_| Error::InvalidUrl {
            url: netloc::redact_str(url).into(),
            reason: "not a valid URL",
        })?;
        let netloc = Netloc::from_uri(&uri)?;
        let deadline = Deadline::start(self.shared.config.timeouts);
        let route = self.shared.config.proxies.for_netloc(&netloc);
        let conn = self
            .shared
            .connection(&netloc, route, deadline, false, false)?;
        self.shared.pool.checkin(conn);
        Ok(())
    }

    /// Runs a request built by [`RequestBuilder`].
    pub(crate) fn execute(
        &self,
        parts: Parts,
        options: Options,
        body: ReqBody,
    ) -> Result<Response> {
        run::run(&self.shared, parts, options, body)
    }
}

impl ClientBuilder {
    /// Checks the settings and builds the client. Root certificate files are read
    /// when first needed, not here.
    ///
    /// ```
    /// let client = tinyhttps::Client::builder().max_idle_per_host(1).build()?;
    /// # let _ = client; Ok::<(), tinyhttps::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for a setting out of its range (named in the message, with
    /// the accepted range; each setter says its range), a bad proxy URL or TLS rule
    /// pattern, or unusable TLS settings (a bad client certificate or key, no
    /// cipher to offer).
    pub fn build(self) -> Result<Client> {
        let (config, tls) = self.into_config()?;
        Ok(Client {
            shared: Arc::new(Shared::new(config, tls)),
        })
    }
}
