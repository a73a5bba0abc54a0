//! Following redirects: where a `Location` points, what method and headers go there.

use http::{header, HeaderMap, Method, StatusCode, Uri};

use crate::error::{Error, Result};
use crate::netloc::{Netloc, Redacted};

/// Whether a status asks to be followed (304 is not a redirect: it has no target).
pub(crate) fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Whether the method (and so the body) is kept: 307/308 keep it, 303 always turns into
/// GET (HEAD stays HEAD), 301/302 turn a POST into GET as browsers do.
pub(crate) fn keeps_method(status: StatusCode, method: &Method) -> bool {
    match status.as_u16() {
        307 | 308 => true,
        303 => *method == Method::HEAD,
        _ => *method != Method::POST,
    }
}

/// Caller-set headers dropped on a redirect to another origin (scheme, host or
/// port): credentials meant for the first server, and a `Host` naming it (each hop
/// then gets its own, from its URL). Keep in step with the docs of
/// [`ClientBuilder::redirects`](crate::ClientBuilder::redirects) and the README.
const ORIGIN_BOUND: [header::HeaderName; 4] = [
    header::HOST,
    header::AUTHORIZATION,
    header::COOKIE,
    header::PROXY_AUTHORIZATION,
];

/// Headers that describe a body that is no longer sent.
const BODY_HEADERS: [header::HeaderName; 3] = [
    header::CONTENT_LENGTH,
    header::CONTENT_TYPE,
    header::TRANSFER_ENCODING,
];

/// Adjusts headers for the next hop: [`ORIGIN_BOUND`] headers dropped when the
/// scheme, host or port changes, body headers dropped when the body is.
pub(crate) fn next_headers(headers: &mut HeaderMap, from: &Uri, to: &Uri, keeps_body: bool) {
    if !same_origin(from, to) {
        for h in &ORIGIN_BOUND {
            headers.remove(h);
        }
    }
    if !keeps_body {
        for h in &BODY_HEADERS {
            headers.remove(h);
        }
    }
}

/// Same scheme, host (any case) and port (a default one named or not); userinfo
/// aside, as a credential it is only ever sent with a URL that names it.
fn same_origin(from: &Uri, to: &Uri) -> bool {
    match (Netloc::from_uri(from), Netloc::from_uri(to)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Resolves a `Location` value against the URL that answered (RFC 3986 §5.2), and
/// refuses a step down from https to http.
pub(crate) fn target(base: &Uri, location: &str, host: &str) -> Result<Uri> {
    let location = location.trim();
    let bad = |why: &'static str| Error::protocol(host, format!("{why}: Location {location:?}"));
    let base_scheme = base.scheme_str().unwrap_or("http");
    let base_authority = base.authority().map(|a| a.as_str()).unwrap_or("");
    let joined = if has_scheme(location) {
        location.to_string()
    } else if let Some(rest) = location.strip_prefix("//") {
        format!("{base_scheme}://{rest}")
    } else if location.starts_with('/') {
        let (path, query) = split_query(location);
        format!(
            "{base_scheme}://{base_authority}{}{query}",
            remove_dots(path)
        )
    } else if location.starts_with('?') {
        format!("{base_scheme}://{base_authority}{}{location}", base.path())
    } else {
        let path = base.path();
        let dir = path
            .rfind('/')
            .and_then(|i| path.get(..=i))
            .unwrap_or_default();
        let dir = if dir.is_empty() { "/" } else { dir };
        let (path, query) = split_query(location);
        format!(
            "{base_scheme}://{base_authority}{}{query}",
            remove_dots(&format!("{dir}{path}"))
        )
    };
    // A fragment is not sent.
    let joined = joined.split('#').next().unwrap_or_default();
    let uri: Uri = joined.parse().map_err(|_| bad("malformed redirect"))?;
    match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("https") => Ok(uri),
        Some(s) if s.eq_ignore_ascii_case("http") => {
            if base_scheme.eq_ignore_ascii_case("https") {
                Err(Error::InsecureRedirect {
                    from: Redacted(base).to_string().into(),
                    to: Redacted(&uri).to_string().into(),
                })
            } else {
                Ok(uri)
            }
        }
        _ => Err(bad("redirect to an unsupported scheme")),
    }
}

fn has_scheme(s: &str) -> bool {
    match s.split_once(':') {
        Some((scheme, _)) => {
            scheme
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic())
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        }
        _ => false,
    }
}

fn split_query(s: &str) -> (&str, &str) {
    s.find('?')
        .and_then(|i| s.split_at_checked(i))
        .unwrap_or((s, ""))
}

/// Removes `.` and `..` segments from an absolute path.
fn remove_dots(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, seg) in segments.iter().enumerate() {
        let last = i.saturating_add(1) == segments.len();
        match *seg {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(base: &str, loc: &str) -> String {
        target(&base.parse().unwrap(), loc, "h")
            .unwrap()
            .to_string()
    }

    #[test]
    fn relative_locations_resolve_against_the_request_url() {
        let base = "https://a.example/v1/items/7?x=1";
        assert_eq!(t(base, "/login"), "https://a.example/login");
        assert_eq!(t(base, "8"), "https://a.example/v1/items/8");
        assert_eq!(t(base, "../users"), "https://a.example/v1/users");
        assert_eq!(t(base, "./"), "https://a.example/v1/items/");
        assert_eq!(t(base, "?y=2"), "https://a.example/v1/items/7?y=2");
        assert_eq!(t(base, "//b.example/z"), "https://b.example/z");
        assert_eq!(
            t(base, "https://c.example:8443/q#frag"),
            "https://c.example:8443/q"
        );
        assert_eq!(t("http://a.example", "x"), "http://a.example/x");
    }

    #[test]
    fn https_to_http_is_refused() {
        let err = target(
            &"https://a.example/".parse().unwrap(),
            "http://a.example/",
            "h",
        )
        .unwrap_err();
        assert!(matches!(err, Error::InsecureRedirect { .. }), "{err}");
        assert!(target(
            &"http://a.example/".parse().unwrap(),
            "https://a.example/",
            "h"
        )
        .is_ok());
    }

    #[test]
    fn other_schemes_are_refused() {
        let err = target(&"https://a.example/".parse().unwrap(), "ftp://x/", "h").unwrap_err();
        assert!(matches!(err, Error::Protocol { .. }), "{err}");
    }

    #[test]
    fn credentials_stay_on_the_same_origin_only() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer t".parse().unwrap());
        h.insert(header::COOKIE, "s=1".parse().unwrap());
        let a: Uri = "https://a.example/x".parse().unwrap();
        let a2: Uri = "https://a.example/y".parse().unwrap();
        let b: Uri = "https://b.example/y".parse().unwrap();
        next_headers(&mut h, &a, &a2, true);
        assert_eq!(h.len(), 2);
        next_headers(&mut h, &a, &b, true);
        assert!(h.is_empty());
    }

    #[test]
    fn origin_is_scheme_host_and_port() {
        let same = |a: &str, b: &str| same_origin(&a.parse().unwrap(), &b.parse().unwrap());
        assert!(same("https://a.example/x", "https://A.EXAMPLE:443/y"));
        assert!(same("http://u:p@a.example/x", "http://a.example:80/y"));
        assert!(!same("http://a.example/", "https://a.example/"));
        assert!(!same("https://a.example/", "https://a.example:8443/"));
        assert!(!same("https://localhost:8/", "https://127.0.0.1:8/"));
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "a.example".parse().unwrap());
        h.insert(header::PROXY_AUTHORIZATION, "Basic x".parse().unwrap());
        h.insert(header::ACCEPT, "*/*".parse().unwrap());
        let a: Uri = "http://a.example/".parse().unwrap();
        next_headers(&mut h, &a, &"http://a.example/z".parse().unwrap(), true);
        assert_eq!(h.len(), 3);
        next_headers(&mut h, &a, &"https://a.example/".parse().unwrap(), true);
        assert_eq!(h.keys().collect::<Vec<_>>(), [header::ACCEPT]);
    }

    #[test]
    fn methods_follow_the_status() {
        let s = |c| StatusCode::from_u16(c).unwrap();
        assert!(keeps_method(s(307), &Method::POST));
        assert!(keeps_method(s(308), &Method::PUT));
        assert!(!keeps_method(s(303), &Method::PUT));
        assert!(keeps_method(s(303), &Method::HEAD));
        assert!(!keeps_method(s(302), &Method::POST));
        assert!(keeps_method(s(301), &Method::GET));
        assert!(!is_redirect(s(304)));
    }
}
