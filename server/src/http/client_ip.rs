//! Who the client is, behind reverse proxies: the address rate limits, audit rows and sessions record.
//!
//! Forwarding headers are believed only from trusted proxies (`trusted_proxies`). Walking the hops from the
//! nearest (the socket's peer) outwards, the client is the first address that is not a trusted proxy: anything
//! to the left of it was written by the client itself and proves nothing.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use app::ssr::ClientAddress;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The reverse proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<Vec<IpNet>>);

impl TrustedProxies {
    /// Proxies in `networks`.
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(Arc::new(networks))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|network| network.contains(&ip))
    }

    /// The client of a request that arrived from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        // `Forwarded` (RFC 7239) when present, else `X-Forwarded-For`; each in header order, left to right.
        let forwarded = forwarded_for(headers);
        let hops = if forwarded.is_empty() { x_forwarded_for(headers) } else { forwarded };
        let mut client = peer;
        for hop in hops.iter().rev() {
            // An unreadable hop was written by someone beyond the last trusted proxy: stop at what is known.
            let Some(ip) = hop.map(canonical) else { return client };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 addresses as the IPv4 addresses they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|value| value.to_str().unwrap_or("?").split(','))
        .map(|hop| parse_node(hop.trim()))
        .collect()
}

fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("forwarded")
        .iter()
        .flat_map(|value| value.to_str().unwrap_or("for=?").split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                key.trim().eq_ignore_ascii_case("for").then(|| parse_node(value.trim().trim_matches('"')))
            })
        })
        .collect()
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_node(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Some(address.ip());
    }
    text.strip_prefix('[').and_then(|rest| rest.split_once(']')).and_then(|(ip, _)| ip.parse().ok())
}

/// Middleware: puts the [`ClientAddress`] of the request into its extensions.
pub async fn resolve(State(proxies): State<TrustedProxies>, mut request: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let client = proxies.client(peer.ip(), request.headers());
        request.extensions_mut().insert(ClientAddress(client));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn headers_from_untrusted_peers_are_ignored() {
        let proxies = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let forged = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(proxies.client(ip("203.0.113.9"), &forged), ip("203.0.113.9"));
        assert_eq!(TrustedProxies::default().client(ip("10.0.0.1"), &forged), ip("10.0.0.1"));
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_hop() {
        let proxies = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        // The client wrote 6.6.6.6 itself; the proxy appended the real address.
        let spoofed = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7")]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &spoofed), ip("198.51.100.7"));
        let chained = headers(&[("x-forwarded-for", "198.51.100.7"), ("x-forwarded-for", "10.1.1.1")]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &chained), ip("198.51.100.7"), "two trusted proxies in a row");
        let all_trusted = headers(&[("x-forwarded-for", "10.9.9.9")]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &all_trusted), ip("10.9.9.9"));
        let junk = headers(&[("x-forwarded-for", "nonsense, 198.51.100.7")]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &junk), ip("198.51.100.7"));
    }

    #[test]
    fn forwarded_is_read_with_ports_quotes_and_ipv6() {
        let proxies = TrustedProxies::new(vec!["::1/128".parse().unwrap(), "127.0.0.0/8".parse().unwrap()]);
        let forwarded = headers(&[("forwarded", r#"for=6.6.6.6, for="[2001:db8::7]:4711";proto=https"#)]);
        assert_eq!(proxies.client(ip("::1"), &forwarded), ip("2001:db8::7"));
        let with_port = headers(&[("forwarded", "for=192.0.2.60:8080;by=127.0.0.1")]);
        assert_eq!(proxies.client(ip("::ffff:127.0.0.1"), &with_port), ip("192.0.2.60"), "mapped peers count");
    }
}
