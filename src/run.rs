//! The request loop: [`run`] sends a request hop by hop ([`one_hop`]) until a
//! response is the answer, following redirects and retrying once on a fresh
//! connection. The two decisions are named functions: [`retry_allowed`] and
//! [`redirect_target`].
//!
//! ```text
//! run ──► one_hop ──► connection (pool, or connect + TLS) ──► exchange ──► Hop
//!  ▲         Hop::Done(response) ─────────────────────────────────────► caller
//!  ├──────── Hop::Retry        (reused connection failed before any answer)
//!  ├──────── Hop::Again        (425 Too Early to early data: send it normally)
//!  └──────── Hop::Redirect     (drain the body, adjust method and headers)
//! ```

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use http::header;
use http::request::Parts;
use http::{Method, StatusCode, Uri};
use ureq_proto::client::state::Prepare;
use ureq_proto::client::Call;

use crate::config::Config;
use crate::deadline::Deadline;
use crate::early;
use crate::error::{Error, Phase, Result};
use crate::exchange::{self, Answer, BodyReader, HeadRules, ReqBody};
use crate::head::Head;
use crate::netloc::{self, Netloc, Redacted, Scheme};
use crate::pool::{Connection, Pool, PoolKey};
use crate::proxy::{self, Proxy};
use crate::redirect;
use crate::response::{self, Body, Response};
use crate::retry::RetryPolicy;
use crate::stats::Counters;
use crate::tls::TlsConfigs;
use crate::transport::{ConnectionKind, TimedStream};

/// Most body bytes read and thrown away to reuse a connection after a redirect;
/// beyond that, closing and reconnecting is cheaper.
const REDIRECT_DRAIN_LIMIT: u64 = 64 * 1024;

/// What every clone of a client shares: the settings, the idle connections, the
/// TLS configs and sessions, the counters.
pub(crate) struct Shared {
    pub config: Config,
    pub pool: Arc<Pool>,
    pub tls: TlsConfigs,
    pub counters: Arc<Counters>,
}

impl Shared {
    pub fn new(config: Config, tls: TlsConfigs) -> Shared {
        let counters = Arc::<Counters>::default();
        Shared {
            pool: Arc::new(Pool::new(config.pool, counters.clone())),
            config,
            tls,
            counters,
        }
    }
}

/// What a request may change of the client's settings.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options {
    /// The overall deadline, instead of the client's.
    pub timeout: Option<std::time::Duration>,
    /// Keep the response head's bytes ([`Response::raw_head`]).
    pub keep_raw_head: bool,
}

/// How one hop ended, when it did not fail.
enum Hop {
    /// The answer to give the caller.
    Done(Response),
    /// Send the request again on a fresh connection ([`retry_allowed`]).
    Retry,
    /// Send the request again, not as early data: the server answered `425 Too
    /// Early` to it as early data ([`too_early`]).
    Again,
    /// Send the request on to another URL ([`redirect_target`]).
    Redirect(Redirect),
}

/// A redirect to follow.
struct Redirect {
    status: StatusCode,
    to: Uri,
    /// Whether the method and body are kept (307, 308), or the next hop is a GET.
    keeps: bool,
    /// The redirect's own body, read away before the next hop.
    body: Body,
}

/// Runs one request to its response head: connection, exchange, redirects, retry
/// (on a stale pooled connection, and by the client's [`RetryPolicy`] if set).
/// `parts` is carried through the hops and changed only by a redirect.
pub(crate) fn run(
    shared: &Shared,
    mut parts: Parts,
    options: Options,
    mut body: ReqBody,
) -> Result<Response> {
    let mut timeouts = shared.config.timeouts;
    if options.timeout.is_some() {
        timeouts.overall = options.timeout;
    }
    let mut deadline = Deadline::start(timeouts);
    // Whether the request may still go as TLS 1.3 early data: once at most.
    let mut early = shared.config.early_data;
    let Some(policy) = shared.config.retry else {
        return hops(shared, &mut parts, &mut body, deadline, options, &mut early);
    };
    let mut attempt = 1;
    loop {
        let outcome = hops(shared, &mut parts, &mut body, deadline, options, &mut early);
        deadline = deadline.later();
        let Some(wait) = policy_wait(&policy, attempt, &outcome, &parts, &body, deadline) else {
            return outcome;
        };
        let (method, uri) = (&parts.method, Redacted(&parts.uri));
        match &outcome {
            Ok(response) => debug!(
                "{method} {uri} answered {}: attempt {} in {wait:?}",
                response.status(),
                attempt.saturating_add(1)
            ),
            Err(e) => debug!(
                "{method} {uri} failed ({e}): attempt {} in {wait:?}",
                attempt.saturating_add(1)
            ),
        }
        // A 429/503's body is dropped (drained if small, else its connection closed).
        drop(outcome);
        Counters::add(&shared.counters.retries, 1);
        std::thread::sleep(wait);
        attempt = attempt.saturating_add(1);
        body.rewind()?;
    }
}

/// How long to wait before attempt `attempt + 1` of a request that ended with
/// `outcome`, if the policy sends it again: a request safe to send twice, with a
/// body that can be, and a wait that ends before the overall deadline.
fn policy_wait(
    policy: &RetryPolicy,
    attempt: u32,
    outcome: &Result<Response>,
    parts: &Parts,
    body: &ReqBody,
    deadline: Deadline,
) -> Option<Duration> {
    if !body.is_replayable() || !is_idempotent(&parts.method, &parts.headers) {
        return None;
    }
    let seen = match outcome {
        Ok(response) => Ok((response.status(), response.headers())),
        Err(e) => Err(e),
    };
    let wait = policy.wait(attempt, seen)?;
    let left = deadline.left().unwrap_or(Duration::MAX);
    (wait < left).then_some(wait)
}

/// The hops of one attempt: redirects followed, one retry on a fresh connection
/// when a pooled one failed before any answer, and one resend of a request that
/// went as early data and was answered `425 Too Early` (`early`: the request may
/// still go as early data; cleared once it did).
fn hops(
    shared: &Shared,
    parts: &mut Parts,
    body: &mut ReqBody,
    deadline: Deadline,
    options: Options,
    early: &mut bool,
) -> Result<Response> {
    let mut hops = 0;
    let mut retried = false;
    let mut deadline = deadline;
    loop {
        let hop = one_hop(shared, parts, body, deadline, options, retried, early)?;
        deadline = deadline.later();
        match hop {
            Hop::Done(response) => return Ok(response),
            Hop::Retry => retried = true,
            Hop::Again => {}
            Hop::Redirect(next) => {
                let limit = shared.config.redirects;
                if hops == limit {
                    let url = Redacted(&next.to).to_string().into();
                    return Err(Error::TooManyRedirects { limit, url });
                }
                hops = hops.saturating_add(1);
                follow(parts, body, next);
            }
        }
        body.rewind()?;
    }
}

/// Sends the request once, on a pooled or new connection (always new after a
/// retry), as early data if `early` allows it and the connection is a new
/// resumed TLS 1.3 one ([`early_hop`]), and says what comes next.
fn one_hop(
    shared: &Shared,
    parts: &mut Parts,
    body: &mut ReqBody,
    deadline: Deadline,
    options: Options,
    retried: bool,
    early: &mut bool,
) -> Result<Hop> {
    let netloc = Netloc::from_uri(&parts.uri)?;
    // The proxy of this netloc, looked up once: a tunnel for https, the absolute
    // form of the request line for plain http.
    let route = shared.config.proxies.for_netloc(&netloc);
    let proxy = route.filter(|_| netloc.scheme == Scheme::Http);
    let mut call = new_call(&shared.config, parts, body, proxy.map(|p| &**p))?;
    // Early data needs TLS (plain http through a proxy never has it).
    let go_early = *early && netloc.scheme == Scheme::Https && early::eligible(parts, body);
    let mut conn = shared.connection(&netloc, route, deadline, retried, go_early)?;
    if !parts.headers.contains_key(header::HOST) {
        // Made once per connection instead of formatted per request.
        let host = conn.host_header.clone();
        if let Err(e) = call.header(header::HOST, host) {
            if go_early && conn.stream.early_data_room().is_some() {
                // Its handshake never ran: not a connection to pool.
                conn.close();
            } else {
                shared.pool.checkin(conn);
            }
            return Err(Error::invalid_request(e));
        }
    }
    conn.stream
        .start_request(deadline, conn.kind == ConnectionKind::Reused);
    conn.buf.received = false;
    Counters::add(&shared.counters.requests, 1);
    trace!("{} {}", parts.method, Redacted(&parts.uri));
    let host = conn.stream.host().clone();
    let rules = HeadRules {
        max_request: shared.config.max_request_head,
        max: shared.config.max_response_head,
        keep_raw: options.keep_raw_head,
    };
    if go_early && conn.kind != ConnectionKind::Reused && conn.stream.early_data_room().is_some() {
        *early = false;
        return early_hop(shared, conn, call, parts, body, &host, rules, retried);
    }
    // Through a proxy, plain http names the whole URL in the request line.
    let absolute = proxy.as_ref().map(|_| netloc::absolute_form(&parts.uri));
    let (stream, buf) = (&mut conn.stream, &mut conn.buf);
    let sent =
        exchange::send_and_receive(stream, buf, call, body, &host, absolute.as_deref(), rules);
    match sent {
        Ok(answer) => answered(shared, conn, answer, parts, body, &host),
        Err(e) => failed(shared, conn, e, parts, body, retried),
    }
}

/// [`one_hop`] on a new connection whose handshake is still to run, with the
/// request in its first flight as early data ([`early::send_and_receive`]).
#[allow(clippy::too_many_arguments)]
fn early_hop(
    shared: &Shared,
    mut conn: Box<Connection>,
    call: Call<Prepare>,
    parts: &mut Parts,
    body: &mut ReqBody,
    host: &str,
    rules: HeadRules,
    retried: bool,
) -> Result<Hop> {
    match early::send_and_receive(shared, &mut conn, call, body, host, rules) {
        Ok((answer, true)) if answer.head.status() == StatusCode::TOO_EARLY => {
            Ok(too_early(shared, conn, answer, parts))
        }
        Ok((answer, _)) => answered(shared, conn, answer, parts, body, host),
        Err(e) => failed(shared, conn, e, parts, body, retried),
    }
}

/// A `425 Too Early` answer to a request the server took as early data (RFC 8470):
/// its body read away (the connection pooled if it can be reused, so the next
/// hop gets it back), and the request sent again, not early.
fn too_early(shared: &Shared, conn: Box<Connection>, answer: Answer, parts: &Parts) -> Hop {
    let Answer {
        head,
        next,
        reusable,
    } = answer;
    debug!(
        "{} {} answered 425 Too Early to early data: sending it again",
        parts.method,
        Redacted(&parts.uri)
    );
    Counters::add(&shared.counters.early_data_rejected, 1);
    drain(shared.body(conn, next, reusable, &head));
    Hop::Again
}

/// What follows a response head: a redirect to follow, or the response with its
/// body (the URL moves into it: the request is done with it).
fn answered(
    shared: &Shared,
    conn: Box<Connection>,
    answer: Answer,
    parts: &mut Parts,
    body: &ReqBody,
    host: &str,
) -> Result<Hop> {
    let Answer {
        head,
        next,
        reusable,
    } = answer;
    let kind = conn.kind;
    let timings = conn.stream.timings();
    let response_body = shared.body(conn, next, reusable, &head);
    let status = head.status();
    match redirect_target(&shared.config, &head, parts, body, host)? {
        Some((to, keeps)) => Ok(Hop::Redirect(Redirect {
            status,
            to,
            keeps,
            body: response_body,
        })),
        None => {
            // The URL moves into the response, unless a retry policy may send the
            // request again (a clone: reference counts).
            let url = match shared.config.retry {
                Some(_) => parts.uri.clone(),
                None => std::mem::take(&mut parts.uri),
            };
            #[cfg(feature = "gzip")]
            let (head, response_body) = crate::gzip::decode(head, response_body, &parts.headers);
            Ok(Hop::Done(Response::new(
                head,
                url,
                response_body,
                kind,
                timings,
            )))
        }
    }
}

/// A hop that failed with `error`: its connection closed, then a retry if
/// [`retry_allowed`] (and not retried already), else the error.
fn failed(
    shared: &Shared,
    conn: Box<Connection>,
    error: Error,
    parts: &Parts,
    body: &ReqBody,
    retried: bool,
) -> Result<Hop> {
    let retry = !retried && retry_allowed(&conn, &error, parts, body);
    conn.close();
    let (method, uri) = (&parts.method, Redacted(&parts.uri));
    if retry {
        debug!("retrying {method} {uri} on a fresh connection after: {error}");
        Counters::add(&shared.counters.retries, 1);
        return Ok(Hop::Retry);
    }
    debug!("{method} {uri} failed: {error}");
    Err(error)
}

/// Whether a hop that failed with `error` on `conn` may be sent again on a fresh
/// connection (once: the caller checks that it was not retried already). Only
/// when the connection came from the pool and failed before any response byte
/// arrived (the server closed it while it sat idle: the request never reached it),
/// with an I/O error, or silence past the reused connection's first-byte limit
/// ([`Phase::FirstByte`]: a path dropped while idle; not the read limit: the
/// server may be working on it), for a request that is safe to send twice
/// ([`is_idempotent`]) with a body that can be sent again.
fn retry_allowed(conn: &Connection, error: &Error, parts: &Parts, body: &ReqBody) -> bool {
    conn.kind == ConnectionKind::Reused
        && !conn.buf.received
        && (matches!(error, Error::Io { .. }) || error.timeout_phase() == Some(Phase::FirstByte))
        && body.is_replayable()
        && is_idempotent(&parts.method, &parts.headers)
}

/// Whether a request may be sent twice: RFC 9110's idempotent methods, or one the
/// caller marked with an `Idempotency-Key`.
fn is_idempotent(method: &Method, headers: &http::HeaderMap) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    ) || headers.contains_key("idempotency-key")
}

/// Where the response `head` sends the request next, if this client follows it:
/// the target (resolved against the URL that answered; https to http refused) and
/// whether the method and body are kept. `None` to return the response as it is:
/// not a redirect, no usable `Location`, redirects turned off, or a 307/308 that
/// would have to send a streamed body again.
fn redirect_target(
    config: &Config,
    head: &Head,
    parts: &Parts,
    body: &ReqBody,
    host: &str,
) -> Result<Option<(Uri, bool)>> {
    let status = head.status();
    if !redirect::is_redirect(status) || config.redirects == 0 {
        return Ok(None);
    }
    let location = head
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok());
    let Some(location) = location else {
        return Ok(None);
    };
    let keeps = redirect::keeps_method(status, &parts.method);
    if keeps && !body.is_replayable() {
        return Ok(None);
    }
    let to = redirect::target(&parts.uri, location, host)?;
    Ok(Some((to, keeps)))
}

/// Turns the request into the one the redirect `next` asks for: its body read
/// away, headers adjusted ([`redirect::next_headers`]), a GET without a body
/// unless the method is kept (HEAD stays HEAD).
fn follow(parts: &mut Parts, body: &mut ReqBody, next: Redirect) {
    debug!(
        "following {} redirect from {} to {}",
        next.status,
        Redacted(&parts.uri),
        Redacted(&next.to)
    );
    drain(next.body);
    redirect::next_headers(&mut parts.headers, &parts.uri, &next.to, next.keeps);
    if !next.keeps {
        if parts.method != Method::HEAD {
            parts.method = Method::GET;
        }
        *body = ReqBody::None;
    }
    parts.uri = next.to;
}

/// Reads a redirect's body away so its connection can be reused; a large one is
/// dropped instead (closing the connection).
fn drain(mut body: Body) {
    let _ = std::io::copy(
        &mut (&mut body).take(REDIRECT_DRAIN_LIMIT),
        &mut std::io::sink(),
    );
}

/// The ureq-proto call for one hop, with the headers this client adds.
/// ureq-proto takes its request by value, so each hop gets a copy of the parts:
/// reference counts for the URL (and a method that is not a standard one), the
/// header map's memory when headers were set (none for an empty map).
fn new_call(
    config: &Config,
    parts: &Parts,
    body: &ReqBody,
    proxy: Option<&Proxy>,
) -> Result<Call<Prepare>> {
    let invalid = |e: ureq_proto::Error| Error::invalid_request(e);
    let request = http::Request::from_parts(parts.clone(), ());
    let mut call = Call::new(request).map_err(invalid)?;
    let (method, headers) = (&parts.method, &parts.headers);
    if let Some(proxy) = proxy {
        proxy.authorize(&mut call)?;
    }
    if !headers.contains_key(header::USER_AGENT) {
        call.header(header::USER_AGENT, config.user_agent.clone())
            .map_err(invalid)?;
    }
    #[cfg(feature = "gzip")]
    if crate::gzip::wanted(headers) {
        call.header(header::ACCEPT_ENCODING, crate::gzip::ACCEPT)
            .map_err(invalid)?;
    }
    let framed = headers.contains_key(header::CONTENT_LENGTH)
        || headers.contains_key(header::TRANSFER_ENCODING);
    if !framed {
        match body {
            ReqBody::None if matches!(*method, Method::POST | Method::PUT | Method::PATCH) => {
                call.header(header::CONTENT_LENGTH, "0").map_err(invalid)?
            }
            ReqBody::None => {}
            ReqBody::Bytes(b) => call
                .header(header::CONTENT_LENGTH, b.len().to_string())
                .map_err(invalid)?,
            ReqBody::Reader(_) | ReqBody::Seekable(..) => call
                .header(header::TRANSFER_ENCODING, "chunked")
                .map_err(invalid)?,
        }
    }
    Ok(call)
}

impl Shared {
    /// A pooled connection for `netloc`, or a new one (always new when `fresh`).
    /// With `early`, a new TLS connection on which rustls can send early data is
    /// returned before its handshake ([`early_hop`] runs it with the request).
    pub fn connection(
        &self,
        netloc: &Netloc,
        route: Option<&Arc<Proxy>>,
        deadline: Deadline,
        fresh: bool,
        early: bool,
    ) -> Result<Box<Connection>> {
        let drop_idle = &mut |policy| self.pool.drop_policy(policy);
        let trust = match netloc.scheme {
            Scheme::Https => {
                // Before the pool: a pooled connection must not outlive a change of
                // the root files it was verified with. When the re-check is not due
                // this is two relaxed atomic loads (its time, the generation).
                self.tls.recheck(deadline.now(), drop_idle);
                Some(self.tls.trust(self.tls.policy_for(&netloc.host)))
            }
            Scheme::Http => None,
        };
        let mut key = PoolKey {
            netloc: netloc.clone(),
            trust,
            proxy: route.cloned(),
        };
        if !fresh {
            if let Some(conn) = self.pool.checkout(&key, deadline.now()) {
                return Ok(conn);
            }
        }
        let tls = match netloc.scheme {
            Scheme::Https => {
                let found = self.tls.get(netloc, &self.counters, drop_idle)?;
                // A change noticed while building makes this the new generation.
                key.trust = Some(found.trust);
                Some(found)
            }
            Scheme::Http => None,
        };
        let dial = key.proxy.as_ref().map_or(netloc, |p| &p.netloc);
        let (resolver, sockets) = (&self.config.resolver, &self.config.sockets);
        let mut stream =
            TimedStream::connect_tcp(dial, netloc, resolver, sockets, deadline, &self.counters)?;
        let mut kind = ConnectionKind::New;
        if let Some(found) = tls {
            if let Some(proxy) = &key.proxy {
                proxy::tunnel(&mut stream, proxy, netloc, self.config.max_request_head)?;
            }
            stream = stream.begin_tls(found.config, netloc, found.identity)?;
            if early && stream.early_data_room().is_some() {
                // Resuming: the handshake tells full or resumed; counted then.
                return Ok(Box::new(Connection::new(
                    stream,
                    key,
                    ConnectionKind::NewTlsResumed,
                )));
            }
            kind = stream.finish_tls()?;
            if kind == ConnectionKind::NewTlsFull {
                self.tls.saw_server(netloc, stream.server_leaf());
            }
        }
        Ok(Box::new(Connection::new(stream, key, kind)))
    }

    /// The body of a response with this `head`: read from `conn`, or, when the
    /// response has none, empty, with `conn` pooled now (if `reusable` and clean)
    /// or closed.
    /// A head with both `Transfer-Encoding` and `Content-Length` never leaves its
    /// connection reusable, with a body or without one (`Content-Length: 0`): what
    /// the server meant to follow is unknown.
    fn body(&self, conn: Box<Connection>, next: BodyReader, reusable: bool, head: &Head) -> Body {
        let limit = self.config.body_limit;
        let reusable = reusable && response::reuse_allowed(head);
        if next.has_body() {
            return Body::reading(conn, next, self.pool.clone(), limit, reusable);
        }
        if reusable && exchange::finish_bodyless(next, &conn.buf) {
            self.pool.checkin(conn);
        } else {
            conn.close();
        }
        Body::empty(limit)
    }
}
