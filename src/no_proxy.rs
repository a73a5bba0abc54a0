//! `NO_PROXY`: the hosts reached directly although a proxy is set, with the rules
//! curl follows.

use std::net::IpAddr;

use crate::netloc::{without_trailing_dot, Netloc};

/// Bits in an IPv4 address, the longest IPv4 prefix.
const IPV4_BITS: u8 = 32;

/// Bits in an IPv6 address, the longest IPv6 prefix.
const IPV6_BITS: u8 = 128;

/// One entry of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    /// `*`: every host.
    All,
    /// `example.com`, `.example.com` or `*.example.com`: that name and every name
    /// below it; only on `port` if one is given.
    Domain { name: Box<str>, port: Option<u16> },
    /// `10.1.2.3`, `::1`, `[::1]`, `[::1]:8080`: that address, only on `port` if
    /// one is given.
    Ip { addr: IpAddr, port: Option<u16> },
    /// `10.0.0.0/8`, `fd00::/8`: every address in the range, on any port.
    Range { net: IpAddr, prefix: u8 },
}

/// A parsed `NO_PROXY` list. Names never match an IP address, nor ranges a name:
/// nothing is resolved to decide.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NoProxy {
    rules: Vec<Rule>,
}

impl NoProxy {
    /// Parses a comma-separated list (case and spaces ignored); an entry that
    /// means nothing (`10.0.0.0/33`, `host:port` with a bad port) is skipped with a
    /// debug log.
    pub fn parse(list: &str) -> NoProxy {
        let rules = list
            .split(',')
            .map(|entry| entry.trim().to_ascii_lowercase())
            .filter(|entry| !entry.is_empty())
            .filter_map(|entry| {
                let rule = Rule::parse(&entry);
                if rule.is_none() {
                    debug!("ignoring NO_PROXY entry {entry:?}: not a host, address or range");
                }
                rule
            })
            .collect();
        NoProxy { rules }
    }

    /// Whether `netloc` is reached without the proxy.
    pub fn matches(&self, netloc: &Netloc) -> bool {
        if self.rules.is_empty() {
            return false;
        }
        let host = without_trailing_dot(&netloc.host);
        let ip = host.parse::<IpAddr>().ok();
        let port_ok = |port: &Option<u16>| port.is_none_or(|p| p == netloc.port);
        self.rules.iter().any(|rule| match rule {
            Rule::All => true,
            Rule::Domain { name, port } => {
                ip.is_none()
                    && port_ok(port)
                    && (host == &**name
                        || host
                            .strip_suffix(&**name)
                            .is_some_and(|rest| rest.ends_with('.')))
            }
            Rule::Ip { addr, port } => ip == Some(*addr) && port_ok(port),
            Rule::Range { net, prefix } => ip.is_some_and(|ip| in_range(ip, *net, *prefix)),
        })
    }
}

impl Rule {
    /// One lower-cased, trimmed, non-empty entry.
    fn parse(entry: &str) -> Option<Rule> {
        if entry == "*" {
            return Some(Rule::All);
        }
        if let Some((net, prefix)) = entry.split_once('/') {
            let net = unbracket(net).parse::<IpAddr>().ok()?;
            let prefix = prefix.parse::<u8>().ok()?;
            let max = if net.is_ipv4() { IPV4_BITS } else { IPV6_BITS };
            return (prefix <= max).then_some(Rule::Range { net, prefix });
        }
        if let Some(rest) = entry.strip_prefix('[') {
            let (addr, after) = rest.split_once(']')?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':')?.parse().ok()?),
            };
            let addr = addr.parse().ok()?;
            return Some(Rule::Ip { addr, port });
        }
        if let Ok(addr) = entry.parse::<IpAddr>() {
            // Also a bare IPv6 address: its colons are not a port.
            return Some(Rule::Ip { addr, port: None });
        }
        let (host, port) = match entry.rsplit_once(':') {
            Some((host, port)) => (host, Some(port.parse::<u16>().ok()?)),
            None => (entry, None),
        };
        if let Ok(addr) = host.parse::<IpAddr>() {
            return Some(Rule::Ip { addr, port });
        }
        let name = host.trim_start_matches("*.").trim_start_matches('.');
        let name = without_trailing_dot(name);
        if name.is_empty() || name.contains(['*', ':', '[', ']']) {
            return None;
        }
        Some(Rule::Domain {
            name: name.into(),
            port,
        })
    }
}

fn unbracket(s: &str) -> &str {
    s.strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s)
}

/// Whether `ip` is in `net/prefix` (same family only; `prefix` already checked
/// against the family's width).
fn in_range(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX
                .checked_shl(u32::from(IPV4_BITS.saturating_sub(prefix)))
                .unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX
                .checked_shl(u32::from(IPV6_BITS.saturating_sub(prefix)))
                .unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_to_rules() {
        let rules = NoProxy::parse(" *.Example.COM:8443, [::1]:80, 10.0.0.0/8 ,,localhost").rules;
        assert_eq!(
            rules,
            [
                Rule::Domain {
                    name: "example.com".into(),
                    port: Some(8443)
                },
                Rule::Ip {
                    addr: "::1".parse().unwrap(),
                    port: Some(80)
                },
                Rule::Range {
                    net: "10.0.0.0".parse().unwrap(),
                    prefix: 8
                },
                Rule::Domain {
                    name: "localhost".into(),
                    port: None
                },
            ]
        );
        for meaningless in ["a.lan:x", "[::1", "[::1]x", "a*.lan", ".", "10.0.0.0/-1"] {
            assert!(
                NoProxy::parse(meaningless).rules.is_empty(),
                "{meaningless}"
            );
        }
    }

    #[test]
    fn names_never_match_addresses() {
        let netloc = |s: &str| Netloc::from_uri(&s.parse().unwrap()).unwrap();
        assert!(!NoProxy::parse("0.1").matches(&netloc("https://10.0.0.1/")));
        assert!(!NoProxy::parse("").matches(&netloc("https://a.lan/")));
    }

    /// Whether `url` is reached directly under `NO_PROXY=rules`.
    fn bypassed(rules: &str, url: &str) -> bool {
        NoProxy::parse(rules).matches(&Netloc::from_uri(&url.parse().unwrap()).unwrap())
    }

    #[test]
    fn cidr_ranges_match_addresses_only() {
        assert!(bypassed("10.0.0.0/8", "https://10.1.2.3/"));
        assert!(!bypassed("10.0.0.0/8", "https://11.0.0.1/"));
        assert!(bypassed(
            "192.168.1.0/24, 127.0.0.1",
            "https://192.168.1.77:8443/"
        ));
        assert!(!bypassed("192.168.1.0/24", "https://192.168.2.1/"));
        assert!(bypassed("fd00::/8", "https://[fd12:3456::1]/"));
        assert!(!bypassed("fd00::/8", "https://[fe80::1]/"));
        assert!(bypassed("0.0.0.0/0", "https://8.8.8.8/"));
        assert!(!bypassed("10.0.0.0/8", "https://ten.example/"));
        // Not a range: ignored, never a panic.
        for bad in ["10.0.0.0/33", "fd00::/129", "10.0.0.0/x", "/8"] {
            assert!(!bypassed(bad, "https://10.0.0.1/"), "{bad}");
        }
    }

    #[test]
    fn ipv6_addresses_may_be_bracketed_and_carry_a_port() {
        assert!(bypassed("[::1]", "https://[::1]:8443/"));
        assert!(bypassed("::1", "https://[::1]/"));
        assert!(bypassed("[::1]:8080", "https://[::1]:8080/"));
        assert!(!bypassed("[::1]:8080", "https://[::1]:8081/"));
        assert!(!bypassed("[::1]", "https://[::2]/"));
    }

    #[test]
    fn names_match_the_domain_and_below() {
        assert!(bypassed(".example.com", "https://a.example.com/"));
        assert!(bypassed(".example.com", "https://example.com/"));
        assert!(!bypassed(".example.com", "https://badexample.com/"));
        assert!(bypassed("example.com", "https://a.b.example.com/"));
        assert!(bypassed("*.example.com", "https://a.example.com/"));
        assert!(bypassed("EXAMPLE.com.", "https://a.example.com./"));
        assert!(bypassed("example.com:8443", "https://a.example.com:8443/"));
        assert!(!bypassed("example.com:8443", "https://a.example.com/"));
        assert!(bypassed("*", "https://anything.example/"));
        assert!(bypassed("a.lan, *", "https://anything.example/"));
    }
}
