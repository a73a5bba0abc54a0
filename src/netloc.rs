//! `Netloc`: where a request goes (scheme, host, port), the key of the pool and of the
//! TLS config cache.

use std::fmt;
use std::sync::Arc;

use http::Uri;

use crate::error::{Error, Result};

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
        let bad = |reason| Error::InvalidUrl {
            url: uri.to_string().into(),
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
        let host: Arc<str> = if host.bytes().any(|b| b.is_ascii_uppercase()) {
            host.to_ascii_lowercase().into()
        } else {
            host.into()
        };
        Ok(Netloc { scheme, host, port })
    }

    /// The `Host` header for this netloc: the port only when it is not the default.
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
    let authority = uri.authority().map_or("", |a| a.as_str());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn netloc(s: &str) -> Result<Netloc> {
        Netloc::from_uri(&s.parse().unwrap())
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
}
