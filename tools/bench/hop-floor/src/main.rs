//! What a bare proxy hop (GET in, GET to the upstream, its body out) costs on each stack, with
//! none of Liaison's work: the floor any change of Liaison's hot path can reach. A measuring tool:
//! it panics on any error.
//!   HOP: axum-reqwest (axum's router and reqwest, as Liaison), hyper-reqwest (hyper's server
//!        connection without a router), hyper-hyper (hyper-util's client instead of reqwest)
//!   RT:  multi (tokio's multi-thread runtime, as Liaison), single (one current-thread runtime),
//!        tpc (one current-thread runtime per core, each with its own listener on the same port
//!        through SO_REUSEPORT, and its own client)

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::service::service_fn;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::net::SocketAddr;

type HyperClient = Client<HttpConnector, Empty<Bytes>>;

fn hyper_client() -> HyperClient {
    let mut c = HttpConnector::new();
    c.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(c)
}

async fn serve(addr: SocketAddr, reuse_port: bool, up: String) {
    let hop = std::env::var("HOP").unwrap_or_default();
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    sock.set_reuseaddr(true).expect("SO_REUSEADDR");
    if reuse_port {
        sock.set_reuseport(true).expect("SO_REUSEPORT");
    }
    sock.bind(addr).expect("bind");
    let listener = sock.listen(1024).expect("listen");
    let url = format!("{up}/v1/me");
    let rq = reqwest::Client::new();
    let hc = hyper_client();
    if hop == "axum-reqwest" {
        let app = axum::Router::new().route(
            "/p/{*rest}",
            axum::routing::any(move || {
                let (rq, url) = (rq.clone(), url.clone());
                async move { rq.get(url).send().await.expect("send").bytes().await.expect("body") }
            }),
        );
        use axum::serve::ListenerExt as _;
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app).await.expect("serve");
        return;
    }
    loop {
        let (stream, _) = listener.accept().await.expect("accept");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let (rq, hc, url, hop) = (rq.clone(), hc.clone(), url.clone(), hop.clone());
        tokio::spawn(async move {
            let svc = service_fn(move |_req: hyper::Request<hyper::body::Incoming>| {
                let (rq, hc, url, hop) = (rq.clone(), hc.clone(), url.clone(), hop.clone());
                async move {
                    let body: Bytes = if hop == "hyper-reqwest" {
                        rq.get(url).send().await.expect("send").bytes().await.expect("body")
                    } else {
                        let answer = hc.get(url.parse().expect("uri")).await.expect("send");
                        answer.into_body().collect().await.expect("body").to_bytes()
                    };
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(body)))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}

fn main() {
    let addr: SocketAddr = std::env::var("ADDR").expect("ADDR").parse().expect("ADDR: host:port");
    let up = std::env::var("UP").expect("UP: the upstream's base URL");
    let single = || tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    match std::env::var("RT").unwrap_or_default().as_str() {
        "single" => single().block_on(serve(addr, false, up)),
        "tpc" => {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            let threads: Vec<_> = (0..cores)
                .map(|_| {
                    let up = up.clone();
                    std::thread::spawn(move || single().block_on(serve(addr, true, up)))
                })
                .collect();
            for t in threads {
                t.join().expect("thread");
            }
        }
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(serve(addr, false, up)),
    }
}
