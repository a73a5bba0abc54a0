//! `Netloc`: where a request goes (scheme, host, port), the key of the pool and of the
//! TLS config cache.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use http::uri::Authority;
use http::Uri;

use crate::error::{Error, Result};

thread_local! {
    /// The netloc of this thread's last request: a daemon asks the same host again
    /// and again, and a request to it then shares the host's name (a reference count)
    /// instead of allocating it anew. One netloc per thread.
    static LAST_NETLOC: RefCell<Option<Netloc>> = const { RefCell::new(None) };
}

/// The two schemes this client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    Http,
    Https,
}

/// Scheme, host and port of a URL. The host is lower-cased and IPv6 literals are kept
/// without brackets, as DNS, SNI and certificate checks want them. A trailing dot is
/// kept (it tells the resolver not to try search domains, and the `Host` header says
/// it): `host.` and `host` are two netlocs for the pool and the TLS config cache, under
/// the same TLS policy (`tls_for` patterns ignore one trailing dot).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Netloc {
    pub scheme: Scheme,
    pub host: Arc<str>,
    pub port: u16,
}

impl Netloc {
    /// The netloc of an absolute `http`/`https` URL.
    pub fn from_uri(uri: &Uri) -> Result<Netloc> {
        // A URL refused here may be a mistyped one (`user:pa/ss@host` parses as
        // host `user`, port `pa`): hide as for a string that did not parse.
        let bad = |reason| Error::InvalidUrl {
            url: redact_str(&uri.to_string()).into(),
            reason,
        };
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
            Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
            Some(_) => return Err(bad("only http and https are supported")),
            None => return Err(bad("not an absolute URL (no scheme)")),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = match uri.port_u16() {
            Some(0) => return Err(bad("port 0")),
            Some(p) => p,
            None if has_bad_port(uri) => return Err(bad("port is not a number from 1 to 65535")),
            None if scheme == Scheme::Https => 443,
            None => 80,
        };
        Ok(LAST_NETLOC
            .try_with(|last| {
                let mut last = last.borrow_mut();
                match &*last {
                    Some(n) if n.is(scheme, host, port) => n.clone(),
                    _ => {
                        let netloc = Netloc::new(scheme, host, port);
                        *last = Some(netloc.clone());
                        netloc
                    }
                }
            })
            // At thread exit the storage may be gone: a netloc of its own.
            .unwrap_or_else(|_| Netloc::new(scheme, host, port)))
    }

    fn new(scheme: Scheme, host: &str, port: u16) -> Netloc {
        let host: Arc<str> = if host.bytes().any(|b| b.is_ascii_uppercase()) {
            host.to_ascii_lowercase().into()
        } else {
            host.into()
        };
        Netloc { scheme, host, port }
    }

    /// Whether this is the netloc of `scheme`, `host` (any case) and `port`.
    fn is(&self, scheme: Scheme, host: &str, port: u16) -> bool {
        self.scheme == scheme && self.port == port && self.host.eq_ignore_ascii_case(host)
    }

    /// The `Host` header for this netloc: the port only when it is not the default.
    // A netloc's host comes from an `http::Uri`, whose authority holds visible ASCII
    // only (`host_header_of_any_parsed_url_is_valid` tries every byte).
    #[allow(clippy::expect_used)]
    pub fn host_header(&self) -> http::HeaderValue {
        let default_port = match self.scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        };
        let value = match (self.port == default_port, self.host.contains(':')) {
            (true, false) => self.host.to_string(),
            (true, true) => format!("[{}]", self.host),
            (false, _) => self.authority(),
        };
        http::HeaderValue::try_from(value).expect("a parsed URI authority is a valid header value")
    }

    /// `host:port` as errors and logs name it.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// `Uri` reports a port it cannot parse (`:99999`) as no port: look at the authority.
fn has_bad_port(uri: &Uri) -> bool {
    let authority = host_port(uri.authority().map_or("", |a| a.as_str()));
    let after_host = authority.rsplit(']').next().unwrap_or_default();
    after_host.contains(':') && !after_host.ends_with(':')
}

impl fmt::Display for Netloc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        write!(f, "{scheme}://{}", self.authority())
    }
}

/// What errors, logs, `Debug` and [`Response::url`](crate::Response::url) show in
/// place of the password of a URL's `user:password@` part (and of a whole userinfo
/// without `:`, which is often a token).
const HIDDEN: &str = "***";

/// An authority (or, for a string that is not a valid URL, everything after the
/// scheme) with its userinfo's secret part replaced by [`HIDDEN`]: `user:***@host`,
/// or `***@host` for a userinfo without a password. Text without `@` is shown as is.
struct RedactedAuthority<'a>(&'a str);

impl fmt::Display for RedactedAuthority<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Userinfo ends at the last `@`, as `http` and ureq-proto split it.
        match self.0.rsplit_once('@') {
            None => f.write_str(self.0),
            Some((userinfo, host_port)) => match userinfo.split_once(':') {
                Some((user, _)) => write!(f, "{user}:{HIDDEN}@{host_port}"),
                None => write!(f, "{HIDDEN}@{host_port}"),
            },
        }
    }
}

/// Shows a URI as errors, logs and `Debug` may: its password replaced by `***`
/// (see [`HIDDEN`]). Writes without allocating.
pub(crate) struct Redacted<'a>(pub &'a Uri);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let uri = self.0;
        let Some(authority) = uri.authority().filter(|a| a.as_str().contains('@')) else {
            return fmt::Display::fmt(uri, f);
        };
        // The same parts, in the same order, as `Uri`'s own `Display`.
        if let Some(scheme) = uri.scheme() {
            write!(f, "{scheme}://")?;
        }
        write!(f, "{}", RedactedAuthority(authority.as_str()))?;
        f.write_str(uri.path())?;
        if let Some(query) = uri.query() {
            write!(f, "?{query}")?;
        }
        Ok(())
    }
}

/// A URL string that did not parse, shown with everything between the scheme and
/// the last `@` treated as userinfo (see [`RedactedAuthority`]): without a parser's
/// word on where the authority ends, hide too much rather than too little.
pub(crate) fn redact_str(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i.saturating_add("://".len())),
        None => match url.strip_prefix("//") {
            Some(rest) => ("//", rest),
            None => ("", url),
        },
    };
    format!("{scheme}{}", RedactedAuthority(rest))
}

/// `uri` without its password (see [`Redacted`]), for [`Response::url`]: the URI
/// itself when it has no userinfo, which is the common case and costs nothing.
///
/// [`Response::url`]: crate::Response::url
pub(crate) fn without_password(uri: Uri) -> Uri {
    let Some(authority) = uri.authority().filter(|a| a.as_str().contains('@')) else {
        return uri;
    };
    let host_port = authority.as_str().rsplit('@').next().unwrap_or_default();
    let shown = Authority::try_from(RedactedAuthority(authority.as_str()).to_string())
        .or_else(|_| Authority::try_from(host_port));
    let mut parts = uri.into_parts();
    // `***` is valid userinfo, so the first never fails; if it did, drop the userinfo.
    parts.authority = shown.ok();
    Uri::from_parts(parts).unwrap_or_default()
}

/// `uri` in absolute form without userinfo, as a proxy's request line names it
/// (RFC 9110 §4.2.4: a sender must not put userinfo in a target URI).
pub(crate) fn absolute_form(uri: &Uri) -> String {
    match uri.authority().and_then(|a| a.as_str().rsplit_once('@')) {
        None => uri.to_string(),
        Some((_, host_port)) => {
            let scheme = uri.scheme_str().unwrap_or("http");
            match uri.query() {
                Some(query) => format!("{scheme}://{host_port}{}?{query}", uri.path()),
                None => format!("{scheme}://{host_port}{}", uri.path()),
            }
        }
    }
}

/// `name` without one trailing dot: `example.com.` is the fully qualified spelling
/// of `example.com`.
pub(crate) fn without_trailing_dot(name: &str) -> &str {
    name.strip_suffix('.').unwrap_or(name)
}

/// The `host:port` part of an authority, without userinfo.
pub(crate) fn host_port(authority: &str) -> &str {
    authority.rsplit('@').next().unwrap_or(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_asking_the_same_host_again_shares_its_name() {
        let netloc = |url: &str| Netloc::from_uri(&url.parse().unwrap()).unwrap();
        let a = netloc("https://Api.Example:8443/x");
        let b = netloc("https://api.example:8443/y");
        assert_eq!(a, b);
        assert_eq!(&*b.host, "api.example");
        assert!(
            Arc::ptr_eq(&a.host, &b.host),
            "the name was allocated again"
        );
        let other_port = netloc("https://api.example:8444/");
        assert_eq!(other_port.port, 8444);
        let http = netloc("http://api.example:8444/");
        assert_eq!(http.scheme, Scheme::Http);
        let other = netloc("https://OTHER.example/");
        assert_eq!((&*other.host, other.port), ("other.example", 443));
    }

    fn netloc(s: &str) -> Result<Netloc> {
        Netloc::from_uri(&s.parse().unwrap())
    }

    #[test]
    fn host_header_of_any_parsed_url_is_valid() {
        for b in 0..=u8::MAX {
            let c = char::from(b);
            for url in [
                format!("http://a{c}b/"),
                format!("https://a{c}b:8443/"),
                format!("http://[::{c}1]/"),
            ] {
                if let Ok(uri) = url.parse::<Uri>() {
                    if let Ok(n) = Netloc::from_uri(&uri) {
                        let _ = n.host_header();
                    }
                }
            }
        }
    }

    #[test]
    fn default_ports_follow_the_scheme() {
        assert_eq!(netloc("https://a.example/x").unwrap().port, 443);
        assert_eq!(netloc("http://a.example/x").unwrap().port, 80);
        assert_eq!(netloc("HTTPS://A.Example:8443").unwrap().port, 8443);
    }

    #[test]
    fn host_is_lowercased_and_ipv6_unbracketed() {
        let n = netloc("https://API.Example.COM/").unwrap();
        assert_eq!(&*n.host, "api.example.com");
        let n = netloc("http://[::1]:8080/").unwrap();
        assert_eq!(&*n.host, "::1");
        assert_eq!(n.to_string(), "http://[::1]:8080");
    }

    #[test]
    fn trailing_dot_is_kept_and_case_folded() {
        let n = netloc("https://Device-API.Example.com.:8443/").unwrap();
        assert_eq!(&*n.host, "device-api.example.com.");
        assert_ne!(n, netloc("https://device-api.example.com:8443/").unwrap());
    }

    #[test]
    fn host_header_names_the_port_only_when_not_the_default() {
        assert_eq!(
            netloc("https://a.example/").unwrap().host_header(),
            "a.example"
        );
        assert_eq!(
            netloc("https://a.example:8443/").unwrap().host_header(),
            "a.example:8443"
        );
        assert_eq!(netloc("http://[::1]/").unwrap().host_header(), "[::1]");
        assert_eq!(
            netloc("http://[::1]:81/").unwrap().host_header(),
            "[::1]:81"
        );
    }

    #[test]
    fn userinfo_is_not_taken_for_a_port() {
        let n = netloc("https://user:pw@a.example/").unwrap();
        assert_eq!((&*n.host, n.port), ("a.example", 443));
        assert_eq!(netloc("http://user:pw@[::1]/").unwrap().port, 80);
        assert!(netloc("http://user:pw@a.example:99999/").is_err());
    }

    #[test]
    fn other_schemes_and_relative_urls_are_refused() {
        for bad in [
            "ftp://a.example/",
            "/just/a/path",
            "https://a.example:0/",
            "http://127.0.0.1:99999/",
            "http://[::1]:70000/",
        ] {
            let err = netloc(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidUrl { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn passwords_are_hidden_and_the_rest_is_shown() {
        let shown = |s: &str| Redacted(&s.parse().unwrap()).to_string();
        assert_eq!(
            shown("http://user:pw@a.example:81/p?q=1"),
            "http://user:***@a.example:81/p?q=1"
        );
        assert_eq!(
            shown("https://a:b:c@a.example/"),
            "https://a:***@a.example/"
        );
        assert_eq!(
            shown("https://token@a.example/x"),
            "https://***@a.example/x"
        );
        assert_eq!(shown("https://a.example/x@y"), "https://a.example/x@y");
        assert_eq!(shown("https://u:p@[::1]:8/"), "https://u:***@[::1]:8/");
        for s in [
            "https://a.example/x?y",
            "http://[::1]:8080/",
            "/just/a/path",
        ] {
            assert_eq!(shown(s), s.parse::<Uri>().unwrap().to_string());
        }
        assert_eq!(redact_str("http://u:p w@h/"), "http://u:***@h/");
        assert_eq!(redact_str("//u:pw@h/"), "//u:***@h/");
        assert_eq!(redact_str("u:pw@h"), "u:***@h");
        assert_eq!(redact_str("http://u:pa/ss@h/"), "http://u:***@h/");
        assert_eq!(redact_str("http://h/ x"), "http://h/ x");
    }

    #[test]
    fn response_url_and_proxy_target_carry_no_password() {
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        assert_eq!(
            without_password(uri("http://u:pw@h:81/p?q")).to_string(),
            "http://u:***@h:81/p?q"
        );
        assert_eq!(
            without_password(uri("http://h:81/p?q")).to_string(),
            "http://h:81/p?q"
        );
        assert_eq!(
            absolute_form(&uri("http://u:pw@h:81/p?q")),
            "http://h:81/p?q"
        );
        assert_eq!(absolute_form(&uri("http://u:pw@h")), "http://h/");
        assert_eq!(absolute_form(&uri("http://h:81/p")), "http://h:81/p");
        assert_eq!(host_port("u:pw@h:81"), "h:81");
        assert_eq!(host_port("h:81"), "h:81");
    }
}
