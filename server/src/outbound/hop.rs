//! The scripts' API calls (the proxy and `invoke`) go out here: hyper-util's pooled client, under
//! the same rules as every other outbound call of [`super`] — the scheme and literal-address check
//! before anything is sent, the guarded resolver for names, the connect and total time limits, no
//! redirect (hyper follows none: a 3xx comes back as it is), HTTP/1.1 over rustls with the webpki
//! roots. It skips reqwest's per-request layers, which cost a proxied call more than a third of its CPU
//! (tools/bench/NOTES.md). The answer's body carries the call's deadline: reading it past the time
//! limit fails as a timeout, as reqwest's total timeout did. Each thread has a pool of its own, so
//! a connection's task runs on the runtime of the thread that uses it (the API's own listener runs
//! one runtime per core, `crate::api_listen`).

use super::{check_url, guarded_lookup, OutboundConfig, OutboundError, MAX_CONNECT_TIMEOUT};
use axum::body::Body;
use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, USER_AGENT};
use http::{HeaderMap, Method, Request, Response, Uri};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::error::Error as StdError;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use thread_local::ThreadLocal;
use tokio::time::{Instant, Sleep};

type BoxError = Box<dyn StdError + Send + Sync>;

type Connector = Timed<HttpsConnector<HttpConnector<Resolver>>>;

/// The pooled clients, one per thread that calls; cheap to clone.
#[derive(Clone)]
pub(super) struct Hop {
    connector: Connector,
    clients: Arc<ThreadLocal<Client<Connector, Body>>>,
    user_agent: HeaderValue,
}

impl Hop {
    /// The client trusting `roots` (the webpki roots; a test adds its own).
    pub(super) fn new(cfg: &OutboundConfig, roots: rustls::RootCertStore) -> Result<Hop, OutboundError> {
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| OutboundError::Connect(format!("the outbound TLS settings could not be made: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new_with_resolver(Resolver { cfg: Arc::new(cfg.clone()) });
        http.enforce_http(false);
        http.set_nodelay(true);
        let connect_limit = cfg.timeout.min(MAX_CONNECT_TIMEOUT);
        // Shared out between a name's addresses, so that one that never answers leaves time for
        // the next; `Timed` bounds the lookup, the connects and the TLS handshake together.
        http.set_connect_timeout(Some(connect_limit));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Hop {
            // The name lookup, the TCP connect and the TLS handshake together.
            connector: Timed { inner: https, limit: connect_limit },
            clients: Arc::new(ThreadLocal::new()),
            user_agent: HeaderValue::from_static(concat!("Liaison/", env!("CARGO_PKG_VERSION"))),
        })
    }

    /// Sends one call and returns its answer with the body unread. Liaison's User-Agent and
    /// `Accept: */*` are added where the call has none (as for every other outbound call).
    pub(super) async fn send(
        &self,
        cfg: &OutboundConfig,
        method: Method,
        url: &url::Url,
        mut headers: HeaderMap,
        body: Body,
        timeout: Duration,
    ) -> Result<Response<HopBody>, OutboundError> {
        let host = check_url(url, &cfg.allow_private)?;
        let uri: Uri = url
            .as_str()
            .parse()
            .map_err(|_| OutboundError::InvalidUrl("the request could not be built from its URL and headers".into()))?;
        headers.entry(USER_AGENT).or_insert_with(|| self.user_agent.clone());
        headers.entry(ACCEPT).or_insert_with(|| HeaderValue::from_static("*/*"));
        let mut req = Request::new(body);
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        let deadline = Instant::now() + timeout;
        let client = self.clients.get_or(|| {
            Client::builder(TokioExecutor::new())
                .http1_max_buf_size(super::READ_BUFFER_BYTES)
                // Idle connections are closed after 90 s (as reqwest's were): without a timer
                // hyper-util never reaps them.
                .pool_timer(TokioTimer::new())
                .pool_idle_timeout(Duration::from_secs(90))
                .build(self.connector.clone())
        });
        let resp = match tokio::time::timeout_at(deadline, client.request(req)).await {
            Err(_) => return Err(OutboundError::Timeout),
            Ok(Err(e)) => return Err(super::from_chain(&e, e.is_connect(), &host)),
            Ok(Ok(resp)) => resp,
        };
        Ok(resp.map(|inner| HopBody { inner, deadline: Box::pin(tokio::time::sleep_until(deadline)), host }))
    }
}

/// An answer's body, failing as [`OutboundError::Timeout`] once the call's time limit has passed.
pub struct HopBody {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
    host: String,
}

impl http_body::Body for HopBody {
    type Data = Bytes;
    type Error = OutboundError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, OutboundError>>> {
        // The deadline first: a body that always has more ready is cut off too.
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(OutboundError::Timeout)));
        }
        Pin::new(&mut self.inner)
            .poll_frame(cx)
            .map(|frame| frame.map(|f| f.map_err(|e| super::from_chain(&e, false, &self.host))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A connector whose every connection is made within `limit`, or fails with [`ConnectTimedOut`]
/// (which `from_chain` reads as a timeout).
#[derive(Clone)]
pub(super) struct Timed<C> {
    inner: C,
    limit: Duration,
}

#[cfg(test)]
impl<C> Timed<C> {
    pub(super) fn new(inner: C, limit: Duration) -> Self {
        Timed { inner, limit }
    }
}

/// A connection not made within the connect time limit.
#[derive(Debug, thiserror::Error)]
#[error("the connection was not made in time")]
pub(super) struct ConnectTimedOut;

impl<C> tower::Service<Uri> for Timed<C>
where
    C: tower::Service<Uri> + Send,
    C::Future: Send + 'static,
    C::Error: Into<BoxError>,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let limit = self.limit;
        Box::pin(async move {
            match tokio::time::timeout(limit, connecting).await {
                Ok(done) => done.map_err(Into::into),
                Err(_) => Err(Box::new(ConnectTimedOut) as BoxError),
            }
        })
    }
}

/// hyper-util's resolver over [`guarded_lookup`]: a name with only forbidden addresses is refused.
#[derive(Clone)]
struct Resolver {
    cfg: Arc<OutboundConfig>,
}

impl tower::Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let cfg = self.cfg.clone();
        let host = name.as_str().to_string();
        Box::pin(async move { guarded_lookup(host, &cfg.allow_private).await.map(Vec::into_iter) })
    }
}
