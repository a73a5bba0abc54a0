//! HTTP proxies: a CONNECT tunnel for https (TLS then runs end to end over it, with
//! the target's name), absolute-form requests for plain http.

use std::fmt;
use std::sync::Arc;

use base64::prelude::{Engine, BASE64_STANDARD};
use http::header::{self, HeaderValue};
use http::{Method, Uri};
use ureq_proto::client::state::Prepare;
use ureq_proto::client::Call;

use crate::error::{Error, Result};
use crate::exchange::{self, RecvBuf, ReqBody};
use crate::netloc::{self, Netloc, Scheme};
use crate::no_proxy::NoProxy;
use crate::transport::TimedStream;

/// Response head limit for a proxy's answer to CONNECT.
const MAX_PROXY_HEAD: usize = 16 * 1024;

/// One proxy server: where it is and the credentials it wants.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Proxy {
    pub netloc: Netloc,
    /// `Basic ...` for `Proxy-Authorization`, if the URL had credentials.
    auth: Option<HeaderValue>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never prints the credentials.
        f.debug_struct("Proxy")
            .field("netloc", &self.netloc.to_string())
            .field("auth", &self.auth.is_some())
            .finish()
    }
}

impl Proxy {
    /// Parses `http://[user:pass@]host[:port]` (port 3128 by default, as squid's).
    pub fn parse(url: &str) -> Result<Proxy> {
        let bad = |reason| Error::InvalidUrl {
            url: netloc::redact_str(url).into(),
            reason,
        };
        let with_scheme = if url.contains("://") {
            url.to_string()
        } else {
            format!("http://{url}")
        };
        let uri: Uri = with_scheme
            .parse()
            .map_err(|_| bad("not a valid proxy URL"))?;
        if !uri
            .scheme_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("http"))
        {
            return Err(bad("only http:// proxies are supported"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| bad("no proxy host"))?
            .as_str();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let plain: Uri = format!("http://{hostport}")
            .parse()
            .map_err(|_| bad("not a valid proxy URL"))?;
        let mut netloc = Netloc::from_uri(&plain).map_err(|_| bad("not a valid proxy host"))?;
        if plain.port().is_none() {
            netloc.port = 3128;
        }
        let auth = userinfo
            .map(|u| {
                let (user, pass) = u.split_once(':').unwrap_or((u, ""));
                let credentials = format!("{}:{}", percent_decode(user), percent_decode(pass));
                let basic = format!("Basic {}", BASE64_STANDARD.encode(credentials));
                // Base64 is always a valid header value; no unwrap all the same.
                let mut value = HeaderValue::try_from(basic)
                    .map_err(|_| bad("credentials not encodable as a header"))?;
                value.set_sensitive(true);
                Ok::<_, Error>(value)
            })
            .transpose()?;
        Ok(Proxy { netloc, auth })
    }

    /// Adds `Proxy-Authorization` to a request going through this proxy.
    pub fn authorize(&self, call: &mut Call<Prepare>) -> Result<()> {
        match &self.auth {
            Some(auth) => call
                .header(header::PROXY_AUTHORIZATION, auth.clone())
                .map_err(Error::invalid_request),
            None => Ok(()),
        }
    }
}

/// Which proxy, if any, each request uses.
#[derive(Debug, Clone, Default)]
pub(crate) struct Proxies {
    http: Option<Arc<Proxy>>,
    https: Option<Arc<Proxy>>,
    /// Hosts reached directly.
    no_proxy: NoProxy,
}

impl Proxies {
    /// One proxy for both schemes.
    pub fn all(proxy: Proxy) -> Proxies {
        let proxy = Arc::new(proxy);
        Proxies {
            http: Some(proxy.clone()),
            https: Some(proxy),
            no_proxy: NoProxy::default(),
        }
    }

    /// From `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`, as documented
    /// on [`ClientBuilder::proxy_from_env`](crate::ClientBuilder::proxy_from_env).
    pub fn from_env() -> Result<Proxies> {
        // Not valid UTF-8: replaced characters, so a set variable stays set.
        Proxies::from_vars(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    /// As [`from_env`](Self::from_env), with `get` reading the variables: tests
    /// pass a table instead of changing the process environment.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Proxies> {
        // The first of these names that is set and not blank, and which one it is.
        let var = |names: &[&'static str]| {
            names.iter().find_map(|&name| {
                get(name)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (name, v))
            })
        };
        // httpoxy: a CGI server passes a request's `Proxy:` header to the program
        // as HTTP_PROXY. Like curl and Go, trust only the lower-case name there.
        let http_names: &[&str] = if get("REQUEST_METHOD").is_some() {
            &["http_proxy"]
        } else {
            &["HTTP_PROXY", "http_proxy"]
        };
        let all = env_proxy(var(&["ALL_PROXY", "all_proxy"]))?;
        let https = env_proxy(var(&["HTTPS_PROXY", "https_proxy"]))?.or_else(|| all.clone());
        let http = env_proxy(var(http_names))?.or(all);
        let no_proxy = var(&["NO_PROXY", "no_proxy"])
            .map(|(_, list)| NoProxy::parse(&list))
            .unwrap_or_default();
        Ok(Proxies {
            http,
            https,
            no_proxy,
        })
    }

    /// The proxy for a target, or `None` to connect directly.
    pub fn for_netloc(&self, netloc: &Netloc) -> Option<&Arc<Proxy>> {
        let proxy = match netloc.scheme {
            Scheme::Http => self.http.as_ref(),
            Scheme::Https => self.https.as_ref(),
        }?;
        (!self.no_proxy.matches(netloc)).then_some(proxy)
    }
}

/// A proxy named by an environment variable. Another scheme than `http://` (a
/// `socks5://` meant for other programs, an `https://` proxy) is not an error but
/// no proxy, with a debug log: only a proxy set in code fails the build for it.
fn env_proxy(var: Option<(&str, String)>) -> Result<Option<Arc<Proxy>>> {
    let Some((name, value)) = var else {
        return Ok(None);
    };
    let value = value.trim();
    if let Some((scheme, _)) = value.split_once("://") {
        if !scheme.eq_ignore_ascii_case("http") {
            debug!(
                "ignoring {name}={}: only http:// proxies are supported",
                netloc::redact_str(value)
            );
            return Ok(None);
        }
    }
    Proxy::parse(value).map(|p| Some(Arc::new(p)))
}

/// Opens a CONNECT tunnel to `target` through the proxy `io` is connected to, with
/// a request head of at most `max_head` bytes (the client's limit). What follows on
/// `io` is a byte stream to the target.
pub(crate) fn tunnel(
    io: &mut TimedStream,
    proxy: &Proxy,
    target: &Netloc,
    max_head: usize,
) -> Result<()> {
    let authority = target.authority();
    let uri: Uri = authority.parse().map_err(|_| Error::InvalidUrl {
        url: authority.clone().into(),
        reason: "not a valid CONNECT target",
    })?;
    let mut request = http::Request::new(());
    *request.method_mut() = Method::CONNECT;
    *request.uri_mut() = uri;
    let mut call = Call::new(request).map_err(Error::invalid_request)?;
    proxy.authorize(&mut call)?;
    let mut buf = RecvBuf::new();
    let label = format!("proxy {} (CONNECT {authority})", proxy.netloc.authority());
    let sent = exchange::send_request(
        io,
        &mut buf,
        call,
        &mut ReqBody::None,
        &label,
        None,
        max_head,
    )?;
    let (head, _) = exchange::recv_response(io, &mut buf, sent, &label, MAX_PROXY_HEAD)?;
    let status = head.status();
    if !status.is_success() {
        return Err(Error::Proxy {
            proxy: proxy.netloc.authority().into(),
            status: status.as_u16(),
        });
    }
    if !buf.is_empty() {
        return Err(Error::protocol(
            &label,
            "bytes after the proxy's CONNECT answer",
        ));
    }
    debug!(
        "tunnel to {authority} through proxy {}",
        proxy.netloc.authority()
    );
    Ok(())
}

// `i < len` by the loop, `i + 2 < len` checked before `i + 1` and `i + 2` are read;
// two hex digits (each < 16) make at most 255.
#[allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn netloc(s: &str) -> Netloc {
        Netloc::from_uri(&s.parse().unwrap()).unwrap()
    }

    #[test]
    fn proxy_url_gives_host_port_and_basic_credentials() {
        let p = Proxy::parse("http://dev%40ice:s3cret@proxy.lan:8080").unwrap();
        assert_eq!(p.netloc.authority(), "proxy.lan:8080");
        assert_eq!(p.auth.unwrap(), "Basic ZGV2QGljZTpzM2NyZXQ=");
        let p = Proxy::parse("proxy.lan").unwrap();
        assert_eq!(p.netloc.port, 3128);
        assert!(p.auth.is_none());
        let err = Proxy::parse("https://u:pw@proxy.lan").unwrap_err();
        assert!(!err.to_string().contains("pw"), "{err}");
        assert!(Proxy::parse("socks5://proxy.lan").is_err());
    }

    #[test]
    fn no_proxy_rules_bypass_matching_hosts() {
        let mut proxies = Proxies::all(Proxy::parse("http://p:1").unwrap());
        proxies.no_proxy = NoProxy::parse("internal.lan, .corp, 10.0.0.1:8443");
        assert!(proxies
            .for_netloc(&netloc("https://api.example.com/"))
            .is_some());
        assert!(proxies
            .for_netloc(&netloc("https://internal.lan/"))
            .is_none());
        assert!(proxies
            .for_netloc(&netloc("https://a.internal.lan/"))
            .is_none());
        assert!(proxies.for_netloc(&netloc("https://x.corp/")).is_none());
        assert!(proxies.for_netloc(&netloc("https://notcorp/")).is_some());
        assert!(proxies
            .for_netloc(&netloc("https://10.0.0.1:8443/"))
            .is_none());
        assert!(proxies.for_netloc(&netloc("https://10.0.0.1/")).is_some());
        proxies.no_proxy = NoProxy::parse("*");
        assert!(proxies
            .for_netloc(&netloc("https://api.example.com/"))
            .is_none());
    }

    /// A variable table for [`Proxies::from_vars`].
    fn vars(table: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let table: Vec<(String, String)> = table
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            table
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn proxy_for(table: &[(&str, &str)], url: &str) -> Option<String> {
        let proxies = Proxies::from_vars(vars(table)).unwrap();
        proxies
            .for_netloc(&netloc(url))
            .map(|p| p.netloc.authority())
    }

    #[test]
    fn uppercase_http_proxy_is_ignored_in_a_cgi_program() {
        // httpoxy: a CGI server turns a request's `Proxy:` header into HTTP_PROXY.
        let cgi = [("HTTP_PROXY", "http://evil:1"), ("REQUEST_METHOD", "GET")];
        assert_eq!(proxy_for(&cgi, "http://a.example/"), None);
        let lower = [("http_proxy", "http://p:1"), ("REQUEST_METHOD", "GET")];
        assert_eq!(
            proxy_for(&lower, "http://a.example/").as_deref(),
            Some("p:1")
        );
        let plain = [("HTTP_PROXY", "http://p:1")];
        assert_eq!(
            proxy_for(&plain, "http://a.example/").as_deref(),
            Some("p:1")
        );
    }

    #[test]
    fn unsupported_proxy_scheme_in_the_environment_is_ignored() {
        let socks = [("ALL_PROXY", "socks5://user:pw@p:1080")];
        assert_eq!(proxy_for(&socks, "https://a.example/"), None);
        assert_eq!(proxy_for(&socks, "http://a.example/"), None);
        let mixed = [
            ("ALL_PROXY", "socks5h://p:1080"),
            ("HTTPS_PROXY", "http://p:1"),
            ("http_proxy", "https://p:2"),
        ];
        assert_eq!(
            proxy_for(&mixed, "https://a.example/").as_deref(),
            Some("p:1")
        );
        assert_eq!(proxy_for(&mixed, "http://a.example/"), None);
        // Set in code, the same URL is a mistake to report.
        assert!(Proxy::parse("socks5://p:1080").is_err());
    }

    #[test]
    fn empty_uppercase_variable_does_not_hide_the_lowercase_one() {
        let table = [
            ("HTTPS_PROXY", ""),
            ("https_proxy", "http://p:1"),
            ("NO_PROXY", " "),
            ("no_proxy", "internal.lan"),
        ];
        assert_eq!(
            proxy_for(&table, "https://a.example/").as_deref(),
            Some("p:1")
        );
        assert_eq!(proxy_for(&table, "https://internal.lan/"), None);
    }
}
