//! Tests of the outbound client: the address policy and the rules on real local servers.

use super::*;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn outbound(allow_private: impl Into<PrivateNetwork>, timeout_ms: u64, max: usize) -> Outbound {
    Outbound::new(OutboundConfig {
        allow_private: allow_private.into(),
        timeout: Duration::from_millis(timeout_ms),
        max_response_bytes: max,
    })
    .unwrap()
}

fn ranges(text: &str) -> PrivateNetwork {
    PrivateNetwork::parse(text).unwrap()
}

async fn serve(app: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn test_app() -> SocketAddr {
    let app = axum::Router::new()
        .route("/ok", get(|| async { "hello" }))
        .route("/redirect", get(|| async { Redirect::to("/ok").into_response() }))
        .route("/big", get(|| async { "x".repeat(10_000) }));
    serve(app).await
}

/// A GET through both of the client's paths (reqwest's `execute`, and `send_api` as the scripts'
/// API calls go), which must come to the same: reqwest's answer is returned.
async fn get_url(out: &Outbound, url: &str) -> Result<OutboundResponse, OutboundError> {
    let req = out.client().get(url).build().unwrap();
    let first = out.execute(req).await;
    let limit = out.config().max_response_bytes;
    let hop = match url::Url::parse(url) {
        Ok(u) => match out
            .send_api(http::Method::GET, &u, http::HeaderMap::new(), axum::body::Body::empty(), out.config().timeout)
            .await
        {
            Ok(resp) => read_limited(resp, limit, |e| e).await,
            Err(e) => Err(e),
        },
        Err(_) => Err(OutboundError::InvalidUrl("unparsable".into())),
    };
    match (&first, &hop) {
        (Ok(a), Ok(b)) => {
            assert_eq!(
                (a.status, &a.body, a.headers.get("location")),
                (b.status, &b.body, b.headers.get("location")),
                "{url}"
            );
        }
        (Err(OutboundError::Connect(_)), Err(OutboundError::Connect(b))) => {
            assert!(!b.contains("?") && !b.contains("/x"), "{b}");
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "{url}"),
        _ => panic!("{url}: reqwest {first:?}, the API's client {hop:?}"),
    }
    first
}

#[test]
fn ip_policy_table() {
    let cases: &[(&str, bool)] = &[
        ("127.0.0.1", true),
        ("127.255.255.254", true),
        ("10.1.2.3", true),
        ("172.16.0.1", true),
        ("172.31.255.255", true),
        ("172.32.0.1", false),
        ("192.168.1.1", true),
        ("169.254.169.254", true),
        ("100.64.0.1", true),
        ("100.127.255.255", true),
        ("100.128.0.1", false),
        ("0.0.0.0", true),
        ("255.255.255.255", true),
        ("224.0.0.1", true),
        ("240.0.0.1", true),
        ("192.0.2.10", true),
        ("198.51.100.7", true),
        ("203.0.113.9", true),
        ("198.18.0.1", true),
        ("192.0.0.8", true),
        ("8.8.8.8", false),
        ("1.1.1.1", false),
        ("93.184.216.34", false),
        ("::", true),
        ("::1", true),
        ("fe80::1", true),
        ("febf::1", true),
        ("fc00::1", true),
        ("fd12:3456::1", true),
        ("ff02::1", true),
        ("2001:db8::1", true),
        ("3fff::1", true),
        ("2001::1", true),
        ("100::1", true),
        ("::ffff:127.0.0.1", true),
        ("::ffff:10.0.0.1", true),
        ("::ffff:8.8.8.8", false),
        ("::127.0.0.1", true),
        ("64:ff9b::7f00:1", true),
        ("64:ff9b::808:808", false),
        ("64:ff9b:1::1", true),
        ("2002:7f00:1::", true),
        ("2002:c0a8:101::1", true),
        ("2002:808:808::1", false),
        ("2606:4700:4700::1111", false),
        ("2a00:1450:4001::200e", false),
    ];
    for (ip, forbidden) in cases {
        let parsed: IpAddr = ip.parse().unwrap();
        assert_eq!(is_forbidden_ip(parsed), *forbidden, "{ip}");
    }
}

#[tokio::test]
async fn loopback_by_literal_address_or_by_a_dns_name_is_refused_unless_private_allowed() {
    let addr = test_app().await;
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("http://{host}:{}/ok?token=sekrit", addr.port());
        let err = get_url(&outbound(false, 5000, 1000), &url).await.unwrap_err();
        assert_eq!(err, OutboundError::HostNotAllowed { host: host.into() });
        assert!(!err.to_string().contains("sekrit"));

        let resp = get_url(&outbound(true, 5000, 1000), &url).await.unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(&resp.body[..], b"hello");
    }
}

#[tokio::test]
async fn odd_ipv4_forms_are_parsed_and_refused() {
    let out = outbound(false, 5000, 1000);
    for url in ["http://2130706433/", "http://0x7f.0.0.1/", "http://0177.0.0.1/", "http://[::ffff:127.0.0.1]/"] {
        let err = get_url(&out, url).await.unwrap_err();
        assert!(matches!(err, OutboundError::HostNotAllowed { .. }), "{url}: {err:?}");
    }
}

#[tokio::test]
async fn only_http_and_https() {
    let out = outbound(true, 5000, 1000);
    for url in ["ftp://example.com/x", "gopher://example.com/x"] {
        assert!(matches!(get_url(&out, url).await, Err(OutboundError::InvalidUrl(_))), "{url}");
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let addr = test_app().await;
    let resp =
        get_url(&outbound(true, 5000, 1000), &format!("http://127.0.0.1:{}/redirect", addr.port())).await.unwrap();
    assert_eq!(resp.status, 303);
    assert_eq!(resp.headers.get("location").unwrap(), "/ok");
}

#[tokio::test]
async fn large_body_is_refused() {
    let addr = test_app().await;
    let err = get_url(&outbound(true, 5000, 1000), &format!("http://127.0.0.1:{}/big", addr.port())).await.unwrap_err();
    assert_eq!(err, OutboundError::TooLarge { limit: 1000 });
}

/// A raw server that answers with a chunked body (no Content-Length) of `chunks` × 500 bytes.
async fn chunked_server(chunks: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let mut out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                for _ in 0..chunks {
                    out.extend_from_slice(format!("1f4\r\n{}\r\n", "y".repeat(500)).as_bytes());
                }
                out.extend_from_slice(b"0\r\n\r\n");
                let _ = sock.write_all(&out).await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn large_chunked_body_is_refused() {
    let addr = chunked_server(5).await;
    let err = get_url(&outbound(true, 5000, 1200), &format!("http://127.0.0.1:{}/", addr.port())).await.unwrap_err();
    assert_eq!(err, OutboundError::TooLarge { limit: 1200 });

    let addr = chunked_server(2).await;
    let resp = get_url(&outbound(true, 5000, 1200), &format!("http://127.0.0.1:{}/", addr.port())).await.unwrap();
    assert_eq!(resp.body.len(), 1000);
}

/// A server that accepts connections, holds them and says nothing.
async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    addr
}

#[tokio::test]
async fn silent_server_times_out() {
    let addr = silent_server().await;
    let err =
        get_url(&outbound(true, 300, 1000), &format!("http://127.0.0.1:{}/?code=abc", addr.port())).await.unwrap_err();
    assert_eq!(err, OutboundError::Timeout);
}

#[tokio::test]
async fn a_body_that_stalls_past_the_time_limit_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let _ = sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").await;
            held.push(sock);
        }
    });
    let err = get_url(&outbound(true, 300, 1000), &format!("http://127.0.0.1:{}/", addr.port())).await.unwrap_err();
    assert_eq!(err, OutboundError::Timeout);
}

#[tokio::test]
async fn connection_refused_is_a_connect_error_without_the_query() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err =
        get_url(&outbound(true, 5000, 1000), &format!("http://127.0.0.1:{port}/x?secret=s3cr3t")).await.unwrap_err();
    assert!(matches!(err, OutboundError::Connect(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("127.0.0.1") && !text.contains("s3cr3t") && !text.contains("/x"), "{text}");
}

#[test]
fn allow_private_network_table() {
    // (setting, address, reachable)
    let cases: &[(&str, &str, bool)] = &[
        // false: public only.
        ("false", "8.8.8.8", true),
        ("false", "127.0.0.1", false),
        ("false", "10.1.2.3", false),
        ("false", "169.254.169.254", false),
        // true: every internal address as before, but never a metadata endpoint.
        ("true", "127.0.0.1", true),
        ("true", "10.1.2.3", true),
        ("true", "169.254.1.1", true),
        ("true", "::1", true),
        ("true", "fd00::1", true),
        ("true", "8.8.8.8", true),
        ("true", "169.254.169.254", false),
        ("true", "169.254.170.2", false),
        ("true", "169.254.170.23", false),
        ("true", "169.254.0.23", false),
        ("true", "100.100.100.200", false),
        ("true", "192.0.0.192", false),
        ("true", "fd00:ec2::254", false),
        ("true", "fd00:ec2::23", false),
        // The metadata address written inside an IPv6 one.
        ("true", "::ffff:169.254.169.254", false),
        ("true", "::ffff:a9fe:a9fe", false),
        ("true", "64:ff9b::a9fe:a9fe", false),
        ("true", "2002:a9fe:a9fe::1", false),
        ("true", "::169.254.169.254", false),
        // Ranges: public addresses and the ranges named, nothing else.
        ("127.0.0.0/8,10.1.0.0/16,::1/128", "127.0.0.1", true),
        ("127.0.0.0/8,10.1.0.0/16,::1/128", "127.9.9.9", true),
        ("127.0.0.0/8,10.1.0.0/16,::1/128", "10.1.255.255", true),
        ("127.0.0.0/8,10.1.0.0/16,::1/128", "10.2.0.1", false),
        ("127.0.0.0/8,10.1.0.0/16,::1/128", "192.168.1.1", false),
        ("127.0.0.0/8,10.1.0.0/16,::1/128", "::1", true),
        ("127.0.0.0/8,10.1.0.0/16,::1/128", "::2", false),
        ("127.0.0.0/8,10.1.0.0/16,::1/128", "::ffff:127.0.0.1", true),
        ("127.0.0.0/8,10.1.0.0/16,::1/128", "8.8.8.8", true),
        ("127.0.0.1/32", "127.0.0.1", true),
        ("127.0.0.1/32", "127.0.0.2", false),
        ("127.0.0.1", "127.0.0.1", true),
        ("127.0.0.1", "127.0.0.2", false),
        // A range that merely contains a metadata endpoint does not open it…
        ("169.254.0.0/16", "169.254.1.1", true),
        ("169.254.0.0/16", "169.254.169.254", false),
        ("169.254.0.0/16", "169.254.170.2", false),
        ("0.0.0.0/0", "169.254.169.254", false),
        ("0.0.0.0/0", "100.100.100.200", false),
        ("fd00::/8", "fd00:ec2::254", false),
        ("::/0", "fd00:ec2::23", false),
        ("::/0", "::ffff:169.254.169.254", false),
        // …naming it exactly does, and only that one.
        ("169.254.169.254/32", "169.254.169.254", true),
        ("169.254.169.254/32", "169.254.170.2", false),
        ("169.254.169.254/32", "::ffff:169.254.169.254", true),
        ("169.254.169.254", "169.254.169.254", true),
        ("fd00:ec2::254/128", "fd00:ec2::254", true),
        ("fd00:ec2::254/128", "fd00:ec2::23", false),
        ("100.100.100.200/32,10.0.0.0/8", "100.100.100.200", true),
    ];
    for (setting, ip, reachable) in cases {
        let policy = ranges(setting);
        let ip: IpAddr = ip.parse().unwrap();
        assert_eq!(policy.allows(ip), *reachable, "allow_private_network={setting}: {ip}");
    }
    // Every listed metadata endpoint is shut under `true` and under the widest ranges.
    for meta in METADATA {
        assert!(!PrivateNetwork::All.allows(*meta), "{meta}");
        assert!(!ranges("0.0.0.0/0,::/0").allows(*meta), "{meta}");
    }
}

#[test]
fn allow_private_network_parses_strictly() {
    assert_eq!(ranges("true"), PrivateNetwork::All);
    assert_eq!(ranges(" FALSE "), PrivateNetwork::Off);
    assert_eq!(ranges(""), PrivateNetwork::Off);
    assert_eq!(
        ranges(" 10.1.0.0/16 , ::1/128,"),
        PrivateNetwork::Ranges(vec![Cidr::parse("10.1.0.0/16").unwrap(), Cidr::parse("::1").unwrap()])
    );
    for (bad, says) in [
        ("10.0.0.1/8", "did you mean 10.0.0.0/8?"),
        ("10.0.0.0/33", "from 0 to 32"),
        ("::/129", "from 0 to 128"),
        ("10.0.0.0/x", "from 0 to 32"),
        ("localhost", "is not a CIDR range"),
        ("10.0.0.0/8;rm", "from 0 to 32"),
        ("tru", "is not a CIDR range"),
    ] {
        let e = PrivateNetwork::parse(bad).unwrap_err();
        assert!(e.contains(says), "{bad}: {e}");
    }
    assert_eq!(Cidr::parse("::ffff:0:0/96").unwrap().to_string(), "::ffff:0.0.0.0/96");
}

#[tokio::test]
async fn a_range_reaches_its_own_loopback_address_and_not_the_next() {
    let addr = test_app().await;
    // A second listener on 127.0.0.2 (the whole 127/8 is loopback on Linux).
    let Ok(other) = TcpListener::bind("127.0.0.2:0").await else {
        eprintln!("skipped: 127.0.0.2 cannot be bound here");
        return;
    };
    let other_addr = other.local_addr().unwrap();
    let app = axum::Router::new().route("/ok", get(|| async { "other" }));
    tokio::spawn(async move { axum::serve(other, app).await.unwrap() });
    let out = outbound(ranges("127.0.0.1/32"), 5000, 1000);
    let resp = get_url(&out, &format!("http://127.0.0.1:{}/ok", addr.port())).await.unwrap();
    assert_eq!(&resp.body[..], b"hello");
    let err = get_url(&out, &format!("http://127.0.0.2:{}/ok", other_addr.port())).await.unwrap_err();
    assert_eq!(err, OutboundError::HostNotAllowed { host: "127.0.0.2".into() });
    // `true` reaches both, as before.
    let resp = get_url(&outbound(true, 5000, 1000), &format!("http://127.0.0.2:{}/ok", other_addr.port())).await;
    assert_eq!(&resp.unwrap().body[..], b"other");
}

/// A TLS server on loopback with a certificate for `localhost` only, answering "hello" to every
/// request; the certificate returned is the one to trust.
async fn tls_server() -> (SocketAddr, rustls::pki_types::CertificateDer<'static>) {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = made.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.key_pair.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else { return };
                let mut buf = [0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, cert)
}

#[tokio::test]
async fn a_tls_handshake_that_stalls_times_out() {
    // Accepts TCP connections and says nothing: the TLS handshake never ends.
    let addr = silent_server().await;
    let err = get_url(&outbound(true, 300, 1000), &format!("https://127.0.0.1:{}/", addr.port())).await.unwrap_err();
    assert_eq!(err, OutboundError::Timeout);
}

#[tokio::test]
async fn a_connection_not_made_in_time_is_a_timeout() {
    let never = tower::service_fn(|_: http::Uri| std::future::pending::<Result<(), std::io::Error>>());
    let mut timed = hop::Timed::new(never, Duration::from_millis(50));
    let err = tower::Service::call(&mut timed, http::Uri::from_static("https://example.com/")).await.unwrap_err();
    // As hyper-util hands it on: the cause of its own error.
    #[derive(Debug, thiserror::Error)]
    #[error("client error (Connect)")]
    struct Wrapped(#[source] Box<dyn StdError + Send + Sync>);
    assert_eq!(from_chain(&Wrapped(err), true, "example.com"), OutboundError::Timeout);
    let other = Wrapped(Box::new(std::io::Error::other("refused")));
    assert!(matches!(from_chain(&other, true, "example.com"), OutboundError::Connect(_)));
}

#[tokio::test]
async fn an_answer_without_a_body_is_read_whatever_length_it_states() {
    // HEAD: the length of what a GET would send, and no body.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let _ = sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n").await;
        }
    });
    let out = outbound(true, 5000, 1000);
    let url = url::Url::parse(&format!("http://127.0.0.1:{}/big", addr.port())).unwrap();
    let resp = out
        .send_api(http::Method::HEAD, &url, http::HeaderMap::new(), axum::body::Body::empty(), Duration::from_secs(5))
        .await
        .unwrap();
    let read = read_limited(resp, 1000, |e| e).await.unwrap();
    assert_eq!((read.status, read.body.len(), read.headers["content-length"].to_str().unwrap()), (200, 0, "1000000"));
}

#[tokio::test]
async fn the_api_client_speaks_tls_and_checks_the_certificate_and_its_name() {
    let (addr, cert) = tls_server().await;
    let cfg = OutboundConfig { allow_private: PrivateNetwork::All, ..OutboundConfig::default() };
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let trusting = Outbound::with_roots(cfg.clone(), roots).unwrap();
    let call = |out: Outbound, host: &'static str| async move {
        let url = url::Url::parse(&format!("https://{host}:{}/ok?key=k3y", addr.port())).unwrap();
        let resp = out
            .send_api(
                http::Method::GET,
                &url,
                http::HeaderMap::new(),
                axum::body::Body::empty(),
                Duration::from_secs(5),
            )
            .await?;
        read_limited(resp, 100, |e| e).await
    };
    let ok = call(trusting.clone(), "localhost").await.unwrap();
    assert_eq!((ok.status, &ok.body[..]), (200, &b"hello"[..]));
    // The same certificate under another name: refused.
    let err = call(trusting, "127.0.0.1").await.unwrap_err();
    assert!(matches!(&err, OutboundError::Connect(m) if m.contains("certificate") && !m.contains("k3y")), "{err:?}");
    // The webpki roots alone do not trust a certificate of its own making.
    let err = call(Outbound::new(cfg).unwrap(), "localhost").await.unwrap_err();
    assert!(matches!(&err, OutboundError::Connect(m) if m.contains("certificate") && !m.contains("k3y")), "{err:?}");
}

#[test]
fn a_failed_call_is_worded_the_same_for_every_endpoint() {
    let refused = OutboundError::HostNotAllowed { host: "10.0.0.1".into() };
    assert_eq!(
        refused.sentence("Acme", "API"),
        "Acme's API is at 10.0.0.1, a private or local address Liaison is not allowed to call. \
         An operator can allow it with allow_private_network."
    );
    assert!(refused.sentence("Acme", "token endpoint").starts_with("Acme's token endpoint is at 10.0.0.1, "));
    assert_eq!(OutboundError::Timeout.sentence("Acme", "API"), "Acme did not answer in time. Try again in a moment.");
    assert_eq!(OutboundError::Connect("refused".into()).sentence("Acme", "API"), "Acme could not be reached: refused.");
}
