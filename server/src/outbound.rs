//! The outbound HTTP client for everything Liaison sends to third parties (token and revoke
//! endpoints, webhooks, discovery on reqwest; the scripts' API calls on hyper-util's client, in
//! [`hop`]). It promises, for both: no redirect is ever followed (a 3xx comes back as
//! a response), every call has a total and a connect time limit, a response body larger than the
//! limit is refused, only http and https are spoken, and no connection is made to a loopback,
//! private, link-local or otherwise internal address the operator did not allow (`private`:
//! none, all but the cloud metadata endpoints, or named ranges), whether the URL names it
//! literally or a DNS name resolves to it.

use bytes::{Bytes, BytesMut};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::error::Error as StdError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

mod hop;
mod private;
pub use hop::HopBody;
pub use private::{metadata_address, Cidr, PrivateNetwork, METADATA};

/// How outbound calls are limited.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// The loopback, private and other internal destinations allowed (tests, on-premises providers).
    pub allow_private: PrivateNetwork,
    /// The whole call, from connecting to the last byte of the body.
    pub timeout: Duration,
    /// The largest response body accepted.
    pub max_response_bytes: usize,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            allow_private: PrivateNetwork::Off,
            timeout: Duration::from_secs(30),
            max_response_bytes: 10 * 1024 * 1024,
        }
    }
}

/// The most a connection reads ahead (hyper's read buffer, ~400 KB by default), for the scripts'
/// calls both ways and for every request Liaison serves: a large body streams through in pieces
/// of at most this size, so it holds little memory (and a request's head must fit in it).
pub const READ_BUFFER_BYTES: usize = 64 * 1024;

/// The longest a TCP (and TLS) connect may take, whatever the total time limit.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A response, read in full (within the size limit).
#[derive(Debug)]
pub struct OutboundResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// Why an outbound call failed. The texts name at most the host, never a path, query or secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutboundError {
    #[error(
        "{host} is a loopback, private, link-local or otherwise internal address, and calls to such \
         addresses are refused; use a public address, or ask the operator to allow private addresses"
    )]
    HostNotAllowed { host: String },
    #[error("the remote server did not answer in time; try again later, or ask the operator to raise the time limit")]
    Timeout,
    #[error(
        "the remote server's answer is larger than the limit of {limit} bytes; ask the operator to raise \
         the response size limit"
    )]
    TooLarge { limit: usize },
    #[error("{0}")]
    Connect(String),
    #[error("{0}")]
    InvalidUrl(String),
}

impl OutboundError {
    /// What a person reads when a call to `service`'s `endpoint` (`token endpoint`, `API`) failed
    /// this way: the one wording of these errors outside the log (which has `Display`).
    pub fn sentence(&self, service: &str, endpoint: &str) -> String {
        match self {
            OutboundError::HostNotAllowed { host } => format!(
                "{service}'s {endpoint} is at {host}, a private or local address Liaison is not allowed to call. \
                 An operator can allow it with allow_private_network."
            ),
            OutboundError::Timeout => format!("{service} did not answer in time. Try again in a moment."),
            OutboundError::Connect(m) => format!("{service} could not be reached: {m}."),
            OutboundError::TooLarge { .. } | OutboundError::InvalidUrl(_) => {
                format!("{service} could not be used: {self}.")
            }
        }
    }
}

/// The outbound client: cheap to clone; every clone shares reqwest's pool and the API calls'
/// pools (one per thread).
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    hop: hop::Hop,
    cfg: Arc<OutboundConfig>,
}

impl Outbound {
    pub fn new(cfg: OutboundConfig) -> Result<Outbound, OutboundError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Self::with_roots(cfg, roots)
    }

    /// The client whose API calls trust `roots` (the webpki roots, or a test's own).
    fn with_roots(cfg: OutboundConfig, roots: rustls::RootCertStore) -> Result<Outbound, OutboundError> {
        let hop = hop::Hop::new(&cfg, roots)?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(MAX_CONNECT_TIMEOUT))
            // A proxy would resolve names itself, around the guard below.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { allow_private: cfg.allow_private.clone() }))
            .user_agent(concat!("Liaison/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OutboundError::Connect(format!("the outbound HTTP client could not be set up: {e}")))?;
        Ok(Outbound { client, hop, cfg: Arc::new(cfg) })
    }

    /// The client, to build requests with; send them with [`Outbound::execute`], never directly.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn config(&self) -> &OutboundConfig {
        &self.cfg
    }

    /// Sends a request under the rules of this module and reads the whole body.
    pub async fn execute(&self, req: reqwest::Request) -> Result<OutboundResponse, OutboundError> {
        self.execute_limited(req, self.cfg.max_response_bytes).await
    }

    /// Sends a request under the rules of this module and returns the response with its body
    /// unread, for streaming (or for [`read_limited`]). The request's own timeout, when set,
    /// replaces the client's.
    pub async fn send(&self, req: reqwest::Request) -> Result<reqwest::Response, OutboundError> {
        let host = check_url(req.url(), &self.cfg.allow_private)?;
        self.client.execute(req).await.map_err(|e| map_error(e, &host))
    }

    /// Sends one of the scripts' API calls under the rules of this module (within `timeout`,
    /// the answer's body included) and returns the answer with its body unread, for streaming or
    /// for [`read_limited`].
    pub async fn send_api(
        &self,
        method: http::Method,
        url: &url::Url,
        headers: http::HeaderMap,
        body: axum::body::Body,
        timeout: Duration,
    ) -> Result<http::Response<HopBody>, OutboundError> {
        self.hop.send(&self.cfg, method, url, headers, body, timeout).await
    }

    /// Checks a destination before it is saved (a webhook endpoint): the scheme, and that the
    /// host, named literally or by every address its name resolves to now, is one this client
    /// may reach. The guard still applies at each call (a name may resolve elsewhere later).
    pub async fn check_destination(&self, url: &url::Url) -> Result<(), OutboundError> {
        let host = check_url(url, &self.cfg.allow_private)?;
        let Some(url::Host::Domain(name)) = url.host() else { return Ok(()) };
        let port = url.port_or_known_default().unwrap_or(443);
        let found: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
            .await
            .map_err(|_| OutboundError::Connect(format!("the name {host} does not resolve")))?
            .collect();
        if found.is_empty() {
            return Err(OutboundError::Connect(format!("the name {host} does not resolve")));
        }
        if found.iter().any(|a| !self.cfg.allow_private.allows(a.ip())) {
            return Err(OutboundError::HostNotAllowed { host });
        }
        Ok(())
    }

    /// Like [`Outbound::execute`], with another limit on the body.
    pub async fn execute_limited(
        &self,
        req: reqwest::Request,
        limit: usize,
    ) -> Result<OutboundResponse, OutboundError> {
        let host = check_url(req.url(), &self.cfg.allow_private)?;
        let resp = self.client.execute(req).await.map_err(|e| map_error(e, &host))?;
        read_limited(http::Response::from(resp), limit, |e| map_error(e, &host)).await
    }
}

/// Reads a whole answer (reqwest's, or an API call's), refusing a body over `limit` bytes;
/// `error` says what a failed read was.
pub async fn read_limited<B: http_body::Body<Data = Bytes>>(
    resp: http::Response<B>,
    limit: usize,
    error: impl Fn(B::Error) -> OutboundError,
) -> Result<OutboundResponse, OutboundError> {
    use http_body_util::BodyExt as _;
    let (parts, body) = resp.into_parts();
    // The body's own length, not the header's: an answer to HEAD, a 204 or a 304 has no body,
    // whatever Content-Length it states.
    if body.size_hint().exact().is_some_and(|len| len > limit as u64) {
        return Err(OutboundError::TooLarge { limit });
    }
    let mut body = std::pin::pin!(body);
    let mut read = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(chunk) = frame.map_err(&error)?.into_data() else { continue };
        if read.len() + chunk.len() > limit {
            return Err(OutboundError::TooLarge { limit });
        }
        read.extend_from_slice(&chunk);
    }
    Ok(OutboundResponse { status: parts.status.as_u16(), headers: parts.headers, body: read.freeze() })
}

/// Checks scheme and host before anything is sent; returns the host for messages.
fn check_url(url: &url::Url, allow_private: &PrivateNetwork) -> Result<String, OutboundError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(OutboundError::InvalidUrl(format!(
            "the URL scheme \"{}\" is not allowed for outbound calls; use https (or http)",
            url.scheme()
        )));
    }
    let ip = match url.host() {
        None => return Err(OutboundError::InvalidUrl("the URL has no host; use an absolute https URL".into())),
        Some(url::Host::Domain(d)) => return Ok(d.to_string()),
        // The URL parser already turned decimal, octal and hex IPv4 forms into an address.
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
    };
    if !allow_private.allows(ip) {
        return Err(OutboundError::HostNotAllowed { host: ip.to_string() });
    }
    Ok(ip.to_string())
}

/// Turns a reqwest error into one of ours without its URL (which may carry a query string).
fn map_error(err: reqwest::Error, host: &str) -> OutboundError {
    let err = err.without_url();
    if err.is_timeout() {
        return OutboundError::Timeout;
    }
    if err.is_builder() {
        return OutboundError::InvalidUrl("the request could not be built from its URL and headers".into());
    }
    from_chain(&err, err.is_connect(), host)
}

/// What an error and its causes say, as one of ours: a name refused by the guard, else a failed
/// connect (`connect`) or exchange, with its innermost cause (no URL: neither client puts one
/// below the top).
fn from_chain(err: &(dyn StdError + 'static), connect: bool, host: &str) -> OutboundError {
    let mut source: Option<&(dyn StdError + 'static)> = err.source();
    let mut innermost = None;
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return OutboundError::HostNotAllowed { host: refused.host.clone() };
        }
        if e.is::<hop::ConnectTimedOut>() {
            return OutboundError::Timeout;
        }
        innermost = Some(e);
        source = e.source();
    }
    let cause = innermost.map(|e| e.to_string()).unwrap_or_else(|| err.to_string());
    if connect {
        OutboundError::Connect(format!(
            "could not connect to {host} ({cause}); check the URL and that the service is up"
        ))
    } else {
        OutboundError::Connect(format!(
            "the exchange with {host} failed ({cause}); try again later, and check the URL if it persists"
        ))
    }
}

/// A DNS name whose every address is forbidden.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to internal addresses")]
struct Refused {
    host: String,
}

/// Resolves `host` with tokio and drops forbidden addresses, refusing a name that has only those
/// (the resolver of both clients).
async fn guarded_lookup(
    host: String,
    allow_private: &PrivateNetwork,
) -> Result<Vec<SocketAddr>, Box<dyn StdError + Send + Sync>> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
    let kept: Vec<SocketAddr> = found.iter().copied().filter(|a| allow_private.allows(a.ip())).collect();
    if kept.is_empty() && !found.is_empty() {
        return Err(Box::new(Refused { host }));
    }
    Ok(kept)
}

/// reqwest's resolver over [`guarded_lookup`].
struct GuardedResolver {
    allow_private: PrivateNetwork,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let allow_private = self.allow_private.clone();
        Box::pin(async move { Ok(Box::new(guarded_lookup(host, &allow_private).await?.into_iter()) as Addrs) })
    }
}

/// The destination policy: true for every address an outbound call must not reach unless private
/// addresses are allowed — anything that is not plainly a public unicast address.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0                                     // "this network", incl. 0.0.0.0
        || a == 10                             // RFC 1918
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || a == 127                            // loopback
        || (a == 169 && b == 254)              // link-local
        || (a == 172 && (16..32).contains(&b)) // RFC 1918
        || (a == 192 && b == 0 && c == 0)      // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)      // TEST-NET-1
        || (a == 192 && b == 88 && c == 99)    // 6to4 relay anycast
        || (a == 192 && b == 168)              // RFC 1918
        || (a == 198 && (b == 18 || b == 19))  // benchmarking
        || (a == 198 && b == 51 && c == 100)   // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)    // TEST-NET-3
        || a >= 224 // multicast 224/4, reserved 240/4, broadcast
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let o = ip.octets();
    let embedded = |bytes: [u8; 4]| is_forbidden_v4(Ipv4Addr::from(bytes));
    if s[..6] == [0, 0, 0, 0, 0, 0] {
        // Unspecified, loopback and IPv4-compatible (deprecated) addresses.
        return ip.is_unspecified() || ip.is_loopback() || embedded([o[12], o[13], o[14], o[15]]);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0xffff] {
        return embedded([o[12], o[13], o[14], o[15]]); // IPv4-mapped
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return embedded([o[12], o[13], o[14], o[15]]); // NAT64 well-known prefix
    }
    if s[0] == 0x2002 {
        return embedded([o[2], o[3], o[4], o[5]]); // 6to4
    }
    (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)   // local-use NAT64 64:ff9b:1::/48
        || (s[0] == 0x100 && s[1..4] == [0, 0, 0]) // discard-only 100::/64
        || (s[0] == 0x2001 && s[1] < 0x200)        // IETF protocol assignments 2001::/23 (Teredo, ORCHID…)
        || (s[0] == 0x2001 && s[1] == 0xdb8)       // documentation
        || (s[0] == 0x3fff && s[1] < 0x1000)       // documentation 3fff::/20
        || (s[0] & 0xfe00) == 0xfc00               // unique-local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80               // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0               // site-local (deprecated) fec0::/10
        || (s[0] & 0xff00) == 0xff00 // multicast
}

#[cfg(test)]
mod tests;
