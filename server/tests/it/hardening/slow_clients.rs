//! Slow clients (issue 17): 2,000 idle or half-sent connections do not stop the health check or
//! the API from answering promptly; the server closes them after the header read timeout (a head
//! trickled byte by byte too); a request body sent too slowly gets its answer after the request
//! timeout; connections beyond the cap wait in the queue until one is free; and SIGTERM still
//! lets a request in flight finish.

use crate::harness::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const IDLE: usize = 2_000;

/// Lets this process (and the servers it starts, which inherit the limit) hold the idle
/// connections: the soft open-files limit is raised to the hard one.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain system calls on a local struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
    let needed = (IDLE + 1_000) as libc::rlim_t;
    assert!(limit.rlim_cur >= needed, "the open-files limit ({}) is below {needed}: raise `ulimit -n`", limit.rlim_cur);
}

fn address(server: &Server) -> String {
    server.url.trim_start_matches("http://").trim_end_matches('/').to_string()
}

/// `n` connections, opened 100 at a time: every other one has sent half a request line, the
/// others nothing at all. Each comes with the moment it was opened.
async fn open_idle(addr: &str, n: usize) -> Vec<(TcpStream, Instant)> {
    let mut all = Vec::with_capacity(n);
    while all.len() < n {
        let batch = (n - all.len()).min(100);
        let opened = futures_util::future::join_all((0..batch).map(|i| async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let at = Instant::now();
            if i % 2 == 0 {
                s.write_all(b"GET /healthz HT").await.unwrap();
            }
            (s, at)
        }))
        .await;
        all.extend(opened);
    }
    all
}

/// Reads until the server closes the connection (or resets it); `None` if it is still open after
/// `limit`. The time is measured from `opened`.
async fn closed_after(stream: &mut TcpStream, opened: Instant, limit: Duration) -> Option<Duration> {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::from_std(opened + limit);
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(opened.elapsed()),
            Ok(Ok(_)) => continue,
        }
    }
}

/// Whether the server still holds the connection open (nothing to read, no end of stream).
async fn still_open(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 16];
    tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await.is_err()
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
    samples[i]
}

#[tokio::test]
async fn two_thousand_idle_connections_do_not_stop_the_health_check_or_the_api() {
    raise_open_files_limit();
    let db = sqlite().await;
    // A long header timeout: the idle connections stay open for the whole measurement.
    let server = Server::start_with(&db, &[("LIAISON_HEADER_READ_TIMEOUT_SECONDS", "300")]);
    let client = server.client();
    assert_eq!(setup(&client).await.status, 200);
    let r = client.call("create_api_token", serde_json::json!({ "name": "probe" })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["token"].as_str().unwrap().to_string();

    let mut idle = open_idle(&address(&server), IDLE).await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let mut samples = Vec::new();
    for i in 0..50 {
        let started = Instant::now();
        let r = http.get(format!("{}/healthz", server.url)).send().await.unwrap();
        assert_eq!(r.status(), 200, "health check {i}");
        samples.push(started.elapsed());
        let started = Instant::now();
        let r = http
            .get(format!("{}/api/v1/connections/nothing-here/proxy/x", server.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "API call {i}");
        samples.push(started.elapsed());
    }
    let (p50, p99) = (percentile(&mut samples, 0.5), percentile(&mut samples, 0.99));
    eprintln!("with {IDLE} idle connections: p50 {p50:?}, p99 {p99:?} over {} calls", samples.len());
    assert!(p99 < Duration::from_secs(1), "p99 {p99:?} (p50 {p50:?}) with {IDLE} idle connections");
    // The idle connections were really held by the server all along, not refused.
    let mut open = 0;
    for (s, _) in &mut idle {
        open += usize::from(still_open(s).await);
    }
    assert_eq!(open, IDLE, "the server dropped idle connections before their header timeout");
}

#[tokio::test]
async fn idle_and_half_sent_connections_are_closed_after_the_header_read_timeout() {
    raise_open_files_limit();
    let db = sqlite().await;
    let server = Server::start_with(&db, &[("LIAISON_HEADER_READ_TIMEOUT_SECONDS", "2")]);
    let addr = address(&server);
    let mut idle = open_idle(&addr, IDLE).await;
    // Slowloris proper: a head trickled a byte every 200 ms never completes, so it does not
    // keep its connection alive either.
    let mut tricklers = Vec::new();
    for _ in 0..10 {
        let mut s = TcpStream::connect(addr.as_str()).await.unwrap();
        let opened = Instant::now();
        let trickle = tokio::spawn(async move {
            for b in
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            {
                if s.write_all(&[*b]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            s
        });
        tricklers.push((trickle, opened));
    }
    let limit = Duration::from_secs(2 + 20);
    let closed = futures_util::future::join_all(idle.iter_mut().map(|(s, at)| closed_after(s, *at, limit))).await;
    let still = closed.iter().filter(|c| c.is_none()).count();
    assert_eq!(still, 0, "{still} of {IDLE} idle connections were still open {limit:?} after they were opened");
    let mut times: Vec<Duration> = closed.into_iter().flatten().collect();
    let (first, last) = (percentile(&mut times, 0.0), percentile(&mut times, 1.0));
    eprintln!("idle connections closed between {first:?} and {last:?} after opening");
    assert!(first >= Duration::from_millis(1500), "closed after {first:?}: before the header timeout");
    for (trickle, opened) in tricklers {
        let mut s = trickle.await.unwrap();
        let at = closed_after(&mut s, opened, limit).await;
        assert!(at.is_some_and(|t| t < limit), "a trickled head kept its connection for {at:?}");
    }
    // The server is still well.
    assert_eq!(server.client().get("/healthz").await.status, 200);
}

#[tokio::test]
async fn a_request_body_sent_too_slowly_is_answered_after_the_request_timeout() {
    let db = sqlite().await;
    let server =
        Server::start_with(&db, &[("LIAISON_OUTBOUND_TIMEOUT_SECONDS", "1"), ("LIAISON_REQUEST_TIMEOUT_SECONDS", "2")]);
    let addr = address(&server);
    let mut s = TcpStream::connect(addr.as_str()).await.unwrap();
    let opened = Instant::now();
    let head = format!(
        "POST /rpc/sign_in HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\nemail=ada"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    // The rest of the body never comes.
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2 + 10), s.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(read.is_ok(), "no answer and the connection still open after {:?}: {answer}", opened.elapsed());
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains(r#""code":"busy""#), "{answer}");
    assert!(answer.contains("Try again shortly"), "{answer}");
    // With the headers every answer carries (HTTP header names are case-insensitive).
    assert!(answer.to_ascii_lowercase().contains("x-content-type-options: nosniff"), "{answer}");
    assert!(opened.elapsed() >= Duration::from_millis(1500), "answered after {:?}", opened.elapsed());
    // Pages and server functions sent at a normal pace are not affected.
    assert_eq!(server.client().get("/setup").await.status, 200);
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_is_free() {
    let db = sqlite().await;
    let server =
        Server::start_with(&db, &[("LIAISON_MAX_CONNECTIONS", "16"), ("LIAISON_HEADER_READ_TIMEOUT_SECONDS", "300")]);
    // A new connection for every call: a kept-alive one would skip the queue.
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).pool_max_idle_per_host(0).build().unwrap();
    let health = || http.get(format!("{}/healthz", server.url)).send();
    assert_eq!(health().await.unwrap().status(), 200);
    let idle = open_idle(&address(&server), 16).await;
    // All 16 places are taken: the next connection waits in the queue, unanswered.
    let waiting = tokio::spawn(
        reqwest::Client::new().get(format!("{}/healthz", server.url)).timeout(Duration::from_secs(30)).send(),
    );
    assert!(health().await.is_err(), "a 17th connection was served while 16 were held");
    // Once the idle ones go, the waiting one is served.
    let freed = Instant::now();
    drop(idle);
    let r = waiting.await.unwrap().unwrap();
    assert_eq!(r.status(), 200);
    assert!(freed.elapsed() < Duration::from_secs(10), "served {:?} after places were freed", freed.elapsed());
    assert_eq!(health().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_request_in_flight_at_sigterm_is_finished_before_the_server_exits() {
    let db = sqlite().await;
    let server = Server::start(&db);
    let addr = address(&server);
    let mut s = TcpStream::connect(addr.as_str()).await.unwrap();
    let body = "email=ada%40acme.example&password=not+the+password";
    let head = format!(
        "POST /rpc/sign_in HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body.as_bytes()[..10]).await.unwrap();
    // An idle connection too: it is closed at once, not waited for.
    let mut idle = TcpStream::connect(addr.as_str()).await.unwrap();
    assert!(still_open(&mut idle).await);
    // In flight: the server has the head and waits for the rest of the body.
    eventually("the server handling the sign-in", || async {
        let log = server.log();
        log.lines().any(|l| l.contains("path=/rpc/sign_in") && l.contains("started processing request")).then_some(())
    })
    .await;
    let status = std::process::Command::new("kill").args(["-TERM", &server.pid().to_string()]).status().unwrap();
    assert!(status.success());
    let closed = closed_after(&mut idle, Instant::now(), Duration::from_secs(10)).await;
    assert!(closed.is_some(), "the idle connection was kept open after SIGTERM");
    // The request in flight is finished and answered.
    s.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("invalid_credentials"), "{answer}");
    assert!(server.stop().success(), "a clean exit after the last request");
}
