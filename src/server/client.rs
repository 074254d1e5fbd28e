//! Who the client is: the one function that decides a request's client
//! address, used alike by the audit trail, sign-in throttling, rate limits and
//! token last-use records.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// The networks whose `X-Forwarded-For` hops are believed: the reverse
/// proxies in front of Latchkey. Empty (the default) means none, so the
/// socket peer is the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Comma-separated addresses or CIDR networks (`10.0.0.0/8, ::1`).
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                IpNet::from_str(s)
                    .or_else(|_| IpAddr::from_str(s).map(IpNet::from))
                    .map_err(|_| format!("{s:?} is not an IP address or CIDR network"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The client's address. A request from a trusted proxy is traced back
/// through `X-Forwarded-For` from the right: each proxy appends the address
/// it was called from, so the right-most hop that is not itself a trusted
/// proxy is the client. Entries to its left were written by the client and
/// are ignored. A request from anywhere else is its socket peer, whatever
/// headers it sends.
pub fn client_ip(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = peer?.ip().to_canonical();
    if !trusted.contains(peer) {
        return Some(peer);
    }
    let mut client = peer;
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    for hop in hops.iter().rev() {
        // An unreadable hop ends the trail: the last address known is kept.
        let Some(ip) = parse_hop(hop) else { break };
        client = ip;
        if !trusted.contains(ip) {
            break;
        }
    }
    Some(client)
}

/// One `X-Forwarded-For` entry: an address, possibly with a port
/// (`203.0.113.9:4711`, `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    IpAddr::from_str(hop)
        .or_else(|_| SocketAddr::from_str(hop).map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// What limits and throttles count by: an IPv4 address, or an IPv6 client's
/// /64 network, since one host commonly holds a whole /64.
pub fn throttle_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & (u128::MAX << 64);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn forwarded(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_static(value));
        }
        headers
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().unwrap(), 40_000))
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = TrustedProxies::default();
        let spoofed = forwarded(&["1.2.3.4"]);
        assert_eq!(
            client_ip(&spoofed, peer("198.51.100.7"), &none),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_spoofed_header_from_an_untrusted_peer_is_ignored() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let spoofed = forwarded(&["1.2.3.4"]);
        assert_eq!(
            client_ip(&spoofed, peer("198.51.100.7"), &trusted),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 192.168.1.1").unwrap();
        // The client claims to be 1.2.3.4; the proxy appended its real
        // address, 203.0.113.9.
        let chained = forwarded(&["1.2.3.4, 203.0.113.9"]);
        assert_eq!(
            client_ip(&chained, peer("10.0.0.2"), &trusted),
            ip("203.0.113.9")
        );
        // Two proxies, and the header split over two lines.
        let two = forwarded(&["1.2.3.4, 203.0.113.9", "192.168.1.1"]);
        assert_eq!(
            client_ip(&two, peer("10.0.0.2"), &trusted),
            ip("203.0.113.9")
        );
        // Only proxies: the left-most is as far as the trail goes.
        let internal = forwarded(&["10.1.1.1, 10.2.2.2"]);
        assert_eq!(
            client_ip(&internal, peer("10.0.0.2"), &trusted),
            ip("10.1.1.1")
        );
        // No header: the proxy itself.
        assert_eq!(
            client_ip(&HeaderMap::new(), peer("10.0.0.2"), &trusted),
            ip("10.0.0.2")
        );
        // Garbage ends the trail at the last address known.
        let garbage = forwarded(&["1.2.3.4, not-an-ip"]);
        assert_eq!(
            client_ip(&garbage, peer("10.0.0.2"), &trusted),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn ipv6_hops_with_ports_and_mapped_addresses_are_read() {
        let trusted = TrustedProxies::parse("::1, fd00::/8").unwrap();
        let headers = forwarded(&["[2001:db8::7]:443, fd00::2"]);
        assert_eq!(
            client_ip(&headers, peer("::1"), &trusted),
            ip("2001:db8::7")
        );
        let mapped = forwarded(&["::ffff:203.0.113.9"]);
        assert_eq!(client_ip(&mapped, peer("::1"), &trusted), ip("203.0.113.9"));
    }

    #[test]
    fn ipv6_clients_are_throttled_per_64() {
        let a = throttle_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = throttle_key("2001:db8:1:2:bbbb::9".parse().unwrap());
        let other = throttle_key("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(a, "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        let v4: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(throttle_key(v4), v4);
    }

    #[test]
    fn trusted_proxy_lists_are_validated() {
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(TrustedProxies::parse("10.0.0.0/8,").is_ok());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.internal").is_err());
    }
}
