//! Who the client is when the portal runs behind the hospital's TLS-terminating proxy.
//!
//! Behind a proxy the socket's peer is the proxy, so rate limits, lock-outs, audit rows and
//! sessions would all see one address, and twenty wrong passwords from anyone would lock sign-in
//! for everyone. The `trusted_proxies` setting lists the proxies (CIDR blocks); when the peer is
//! one of them, the client is the right-most `X-Forwarded-For` (or `Forwarded`) hop that is not.
//! Headers from anyone else are ignored: a client cannot name its own address.
//!
//! The [`client_address`] middleware decides once per request and replaces the request's
//! `ConnectInfo` with the client's address, so every later reader (the rate limit, the audit
//! trail's `RequestMeta`, sessions, signed authorizations) sees the same client.

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// One block of addresses: `10.0.0.0/8`, `2001:db8::/32`, or one address (`10.1.2.3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `address[/prefix]`; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| format!("`{text}` is not an IP address or CIDR block"))?;
        let network = network.to_canonical();
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| format!("`{text}`: the prefix must be 0 to {max}"))?,
        };
        Ok(Cidr { network, prefix })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_matches(&n.octets(), &a.octets(), self.prefix),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_matches(&n.octets(), &a.octets(), self.prefix),
            _ => false,
        }
    }
}

fn prefix_matches(network: &[u8], address: &[u8], prefix: u8) -> bool {
    let (whole, bits) = (usize::from(prefix / 8), prefix % 8);
    if network[..whole] != address[..whole] {
        return false;
    }
    bits == 0 || {
        let mask = 0xffu8 << (8 - bits);
        network[whole] & mask == address[whole] & mask
    }
}

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    pub fn new(blocks: Vec<Cidr>) -> Self {
        TrustedProxies(blocks)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|block| block.contains(address))
    }

    /// The client behind `peer`: the peer itself unless it is a trusted proxy; then, walking the
    /// forwarding hops from the right, the first address that is not a trusted proxy. A hop a
    /// trusted proxy could not name (`unknown`, an obfuscated id, garbage) stops the walk at the
    /// last address known: better one proxy's bucket than a forged one.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        for hop in forwarded_hops(headers).into_iter().rev() {
            match hop {
                Some(address) => {
                    client = address.to_canonical();
                    if !self.trusts(client) {
                        break;
                    }
                }
                None => break,
            }
        }
        client
    }
}

/// The hops, left (the original client) to right (the last proxy), from `X-Forwarded-For` when
/// present, else from `Forwarded` (RFC 7239 `for=`). Several header lines are one list in order.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name: &str| headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim).collect::<Vec<_>>();
    let xff = values("x-forwarded-for");
    if !xff.is_empty() {
        return xff.into_iter().map(parse_hop).collect();
    }
    values("forwarded")
        .into_iter()
        .map(|element| {
            element
                .split(';')
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(key, _)| key.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, value)| parse_hop(value.trim().trim_matches('"')))
        })
        .collect()
}

/// One hop: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(address);
    }
    if let Ok(socket) = hop.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    hop.strip_prefix('[').and_then(|h| h.split_once(']')).and_then(|(a, _)| a.parse().ok())
}

/// Middleware (outermost but for logging): replaces `ConnectInfo` with the client's address.
pub async fn client_address(State(proxies): State<Arc<TrustedProxies>>, mut request: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let client = proxies.client(peer.ip(), request.headers());
        if client != peer.ip() {
            // The client's port is not known (a proxy's forwarded port is not trusted either).
            request.extensions_mut().insert(ConnectInfo(SocketAddr::new(client, 0)));
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().expect("header value"));
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn blocks_parse_and_match_by_prefix() {
        let block = Cidr::parse("10.0.0.0/8").expect("valid");
        assert!(block.contains(ip("10.200.1.1")));
        assert!(!block.contains(ip("11.0.0.1")));
        assert!(Cidr::parse("192.168.1.7").expect("one address").contains(ip("192.168.1.7")));
        assert!(!Cidr::parse("192.168.1.7").expect("one address").contains(ip("192.168.1.8")));
        assert!(Cidr::parse("10.1.0.0/20").expect("valid").contains(ip("10.1.15.255")));
        assert!(!Cidr::parse("10.1.0.0/20").expect("valid").contains(ip("10.1.16.0")));
        assert!(Cidr::parse("2001:db8::/32").expect("v6").contains(ip("2001:db8:1::9")));
        assert!(Cidr::parse("0.0.0.0/0").expect("all").contains(ip("8.8.8.8")));
        // An IPv4 peer seen through a dual-stack socket is still the IPv4 address.
        assert!(block.contains(ip("::ffff:10.0.0.1")));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("proxy.internal").is_err());
    }

    #[test]
    fn without_trusted_proxies_the_headers_are_ignored() {
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("203.0.113.9"), &headers(&[("x-forwarded-for", "1.2.3.4")])), ip("203.0.113.9"));
    }

    #[test]
    fn the_client_is_the_rightmost_hop_that_is_not_a_trusted_proxy() {
        let proxies = TrustedProxies::new(vec![Cidr::parse("10.0.0.0/8").expect("valid")]);
        // The client forged a first hop; the proxy appended the address it saw.
        let forged = headers(&[("x-forwarded-for", "9.9.9.9, 198.51.100.7")]);
        assert_eq!(proxies.client(ip("10.0.0.2"), &forged), ip("198.51.100.7"));
        // Two proxies in the chain, on two header lines.
        let chained = headers(&[("x-forwarded-for", "198.51.100.7"), ("x-forwarded-for", "10.0.0.5")]);
        assert_eq!(proxies.client(ip("10.0.0.2"), &chained), ip("198.51.100.7"));
        // A peer that is not a proxy cannot choose its address.
        assert_eq!(proxies.client(ip("198.51.100.8"), &forged), ip("198.51.100.8"));
        // RFC 7239, with a port and an IPv6 address.
        let standard = headers(&[("forwarded", "for=192.0.2.60;proto=https, for=\"[2001:db8::1]:4711\"")]);
        assert_eq!(proxies.client(ip("10.0.0.2"), &standard), ip("2001:db8::1"));
        // What the proxy could not name leaves the proxy as the client.
        assert_eq!(proxies.client(ip("10.0.0.2"), &headers(&[("x-forwarded-for", "unknown")])), ip("10.0.0.2"));
        assert_eq!(proxies.client(ip("10.0.0.2"), &HeaderMap::new()), ip("10.0.0.2"));
    }
}
