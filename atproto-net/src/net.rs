//! The SSRF guard: every outbound request to a host the network names (a PLC directory, a did:web host, a
//! PDS, a relay) goes through [`GuardedHttp`], which resolves the host itself, refuses non-global addresses
//! (loopback, private, link-local, unique-local, ...) unless allowed, pins the connection to the checked
//! addresses, and follows redirects one hop at a time, checking each hop the same way before any
//! connection is made.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use url::{Host, Url};

/// Redirect hops followed before giving up.
pub const MAX_REDIRECTS: usize = 5;

/// Errors of outbound HTTP.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("refused to connect to {target}: {reason}")]
    Refused { target: String, reason: &'static str },
    #[error("invalid url: {0}")]
    InvalidUrl(String),
    #[error("too many redirects")]
    TooManyRedirects,
    #[error("could not resolve {host}: {message}")]
    Resolve { host: String, message: String },
    #[error("timed out")]
    Timeout,
    #[error("http error: {0}")]
    Http(String),
}

impl NetError {
    /// A reqwest error as one message naming every cause (reqwest's own says only "error sending request").
    pub fn from_reqwest(err: reqwest::Error) -> Self {
        if err.is_timeout() {
            return Self::Timeout;
        }
        let mut message = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(inner) = source {
            message.push_str(": ");
            message.push_str(&inner.to_string());
            source = inner.source();
        }
        Self::Http(message)
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Timeout | Self::Http(_) | Self::Resolve { .. })
    }
}

/// Which addresses outbound requests may reach.
#[derive(Debug, Clone, Default)]
pub struct NetPolicy {
    /// Allow every address, global or not.
    pub allow_private_networks: bool,
    /// Exact addresses allowed even though they are not global (e.g. a PDS on this host).
    pub allowed_addrs: Vec<SocketAddr>,
}

impl NetPolicy {
    /// Why `addr` may not be reached, or `None` when it may.
    pub fn refusal(&self, addr: SocketAddr) -> Option<&'static str> {
        if self.allow_private_networks || self.allowed_addrs.contains(&addr) {
            return None;
        }
        non_global_reason(addr.ip())
    }
}

/// Why `ip` is not a global unicast address, or `None` when it is.
pub fn non_global_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, ..) => "unspecified address",
        (127, ..) => "loopback address",
        (10, ..) | (192, 168, _) => "private address",
        (172, 16..=31, _) => "private address",
        (169, 254, _) => "link-local address",
        (100, 64..=127, _) => "shared address space",
        (192, 0, 0) => "ietf protocol assignment",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation address",
        (198, 18..=19, _) => "benchmarking address",
        (224..=239, ..) => "multicast address",
        (240..=255, ..) => "reserved address",
        _ => return None,
    })
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reason(v4);
    }
    let s = ip.segments();
    Some(match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => "unspecified address",
        [0, 0, 0, 0, 0, 0, 0, 1] => "loopback address",
        [0, 0, 0, 0, 0, 0, ..] => "ipv4-compatible address",
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => {
            let [a, b] = hi.to_be_bytes();
            let [c, d] = lo.to_be_bytes();
            return v4_reason(Ipv4Addr::new(a, b, c, d));
        }
        [0x2002, hi, lo, ..] => {
            let [a, b] = hi.to_be_bytes();
            let [c, d] = lo.to_be_bytes();
            return v4_reason(Ipv4Addr::new(a, b, c, d));
        }
        [0x2001, 0, ..] => "teredo address",
        [0x2001, 0xdb8, ..] => "documentation address",
        [0x2001, 2, 0, ..] => "benchmarking address",
        [0x100, 0, 0, 0, ..] => "discard-only address",
        [x, ..] if x & 0xfe00 == 0xfc00 => "unique-local address",
        [x, ..] if x & 0xffc0 == 0xfe80 => "link-local address",
        [x, ..] if x & 0xffc0 == 0xfec0 => "site-local address",
        [x, ..] if x & 0xff00 == 0xff00 => "multicast address",
        _ => return None,
    })
}

/// A resolver that resolves nothing: every host reqwest connects to is pinned beforehand, so anything that
/// reaches this resolver bypassed the guard and is refused.
struct RefuseAll;

impl reqwest::dns::Resolve for RefuseAll {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            Err(Box::new(NetError::Refused { target: host, reason: "host was not checked" }) as _)
        })
    }
}

/// Outbound HTTP GET behind the SSRF guard.
#[derive(Debug, Clone)]
pub struct GuardedHttp {
    policy: Arc<NetPolicy>,
    connect_timeout: Duration,
    read_timeout: Duration,
}

impl GuardedHttp {
    pub fn new(policy: NetPolicy, connect_timeout: Duration, read_timeout: Duration) -> Self {
        Self { policy: Arc::new(policy), connect_timeout, read_timeout }
    }

    pub fn policy(&self) -> &NetPolicy {
        &self.policy
    }

    /// Check a URL's scheme and, when its host is an address literal, the address. Host names are checked
    /// once resolved, in [`GuardedHttp::get`].
    pub fn check_url(&self, url: &Url) -> Result<(), NetError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(NetError::Refused { target: url.to_string(), reason: "scheme is not http or https" });
        }
        let port = url.port_or_known_default().ok_or_else(|| NetError::InvalidUrl(url.to_string()))?;
        let ip = match url.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(Host::Domain(_)) => return Ok(()),
            None => return Err(NetError::InvalidUrl(url.to_string())),
        };
        match self.policy.refusal(SocketAddr::new(ip, port)) {
            Some(reason) => Err(NetError::Refused { target: url.to_string(), reason }),
            None => Ok(()),
        }
    }

    /// Resolve `host:port` and keep only the addresses the policy allows.
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, NetError> {
        let lookup = tokio::net::lookup_host((host, port));
        let addrs: Vec<SocketAddr> = tokio::time::timeout(self.connect_timeout, lookup)
            .await
            .map_err(|_| NetError::Timeout)?
            .map_err(|e| NetError::Resolve { host: host.to_owned(), message: e.to_string() })?
            .collect();
        let mut reason = "host has no addresses";
        let allowed: Vec<SocketAddr> = addrs
            .into_iter()
            .filter(|a| match self.policy.refusal(*a) {
                Some(why) => {
                    reason = why;
                    false
                }
                None => true,
            })
            .collect();
        if allowed.is_empty() {
            return Err(NetError::Refused { target: host.to_owned(), reason });
        }
        Ok(allowed)
    }

    /// A client that can only connect to the checked addresses of `url`'s host.
    async fn client_for(&self, url: &Url) -> Result<reqwest::Client, NetError> {
        self.check_url(url)?;
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(RefuseAll))
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .user_agent(concat!("reprise/", env!("CARGO_PKG_VERSION")));
        if let Some(Host::Domain(domain)) = url.host() {
            let port = url.port_or_known_default().ok_or_else(|| NetError::InvalidUrl(url.to_string()))?;
            let addrs = self.resolve(domain, port).await?;
            builder = builder.resolve_to_addrs(domain, &addrs);
        }
        builder.build().map_err(NetError::from_reqwest)
    }

    /// GET `url`, following at most [`MAX_REDIRECTS`] redirects, each checked before it is followed.
    pub async fn get(&self, url: Url) -> Result<reqwest::Response, NetError> {
        let mut url = url;
        for _ in 0..=MAX_REDIRECTS {
            let client = self.client_for(&url).await?;
            let response = client.get(url.clone()).send().await.map_err(NetError::from_reqwest)?;
            if !response.status().is_redirection() {
                return Ok(response);
            }
            let location =
                response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).ok_or_else(
                    || NetError::Http(format!("redirect without a location ({})", response.status())),
                )?;
            url = url.join(location).map_err(|e| NetError::InvalidUrl(e.to_string()))?;
        }
        Err(NetError::TooManyRedirects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ip: &str, global: bool) {
        let ip: IpAddr = ip.parse().expect("ip");
        assert_eq!(non_global_reason(ip).is_none(), global, "{ip}: {:?}", non_global_reason(ip));
    }

    #[test]
    fn only_global_addresses_are_allowed_by_default() {
        for ip in ["127.0.0.1", "10.1.2.3", "172.20.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0"] {
            check(ip, false);
        }
        for ip in ["100.64.0.1", "224.0.0.1", "255.255.255.255", "::1", "::", "fd00::1", "fe80::1"] {
            check(ip, false);
        }
        for ip in ["::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "2002:7f00:1::", "ff02::1"] {
            check(ip, false);
        }
        for ip in ["1.1.1.1", "8.8.8.8", "172.32.0.1", "2606:4700::1111", "::ffff:1.1.1.1"] {
            check(ip, true);
        }
    }

    #[test]
    fn explicitly_allowed_addresses_pass() {
        let addr: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        let policy = NetPolicy { allow_private_networks: false, allowed_addrs: vec![addr] };
        assert_eq!(policy.refusal(addr), None);
        assert!(policy.refusal("127.0.0.1:8081".parse().expect("addr")).is_some());
        let open = NetPolicy { allow_private_networks: true, allowed_addrs: vec![] };
        assert_eq!(open.refusal(addr), None);
    }
}
