//! `MockServer` on the test's own tokio runtime: start, serve, shut down, and afterwards the
//! port refuses connections.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

mod common;

use std::io;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use kms_mock::MockServer;

#[tokio::test]
async fn async_server_serves_then_shutdown_closes_connections_and_refuses_new_ones() {
    let server = MockServer::start(config()).await.unwrap();
    let url = server.url();
    let addr = server.local_addr();
    assert_eq!(url, format!("http://{addr}"));
    assert!(addr.ip().is_loopback());
    assert_ne!(addr.port(), 0);

    // The client blocks, so it runs off the runtime the server is on.
    let request = token_request(&url, TOKEN, PID);
    let (response, conn) = tokio::task::spawn_blocking(move || {
        let mut conn = connect(addr);
        (conn.send(&request), conn)
    })
    .await
    .unwrap();
    assert_count(&response.unwrap(), COUNT);
    assert_eq!(server.requests().len(), 1);
    assert_eq!(server.connections(), 1);

    server.shutdown().await;

    // The keep-alive connection opened before the shutdown is closed by it...
    let closed = tokio::task::spawn_blocking(move || {
        let mut conn = conn;
        conn.is_closed_by_peer()
    })
    .await
    .unwrap();
    assert!(closed, "an open connection survived the shutdown");
    // ...and the port no longer accepts connections.
    let error = TcpStream::connect(addr).expect_err("the port still accepts connections");
    assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
}

#[tokio::test]
async fn dropping_the_async_server_stops_it() {
    let server = MockServer::start(config()).await.unwrap();
    let addr = server.local_addr();
    drop(server);
    // The accept loop is aborted when the runtime next runs it.
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        tokio::time::sleep(Duration::from_millis(10)).await;
        match TcpStream::connect(addr) {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => break,
            other => assert!(
                Instant::now() < deadline,
                "still accepting after drop: {other:?}"
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_server_answers_concurrent_connections() {
    let server = MockServer::start(config()).await.unwrap();
    let url = server.url();
    let addr = server.local_addr();
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let request = if i % 2 == 0 {
                token_request(&url, TOKEN, PID)
            } else {
                aksk_request(&url, AK, SK, OTHER_PID)
            };
            tokio::task::spawn_blocking(move || (i, send(addr, &request)))
        })
        .collect();
    for client in clients {
        let (i, response) = client.await.unwrap();
        let count = if i % 2 == 0 { COUNT } else { OTHER_COUNT };
        assert_count(&response.unwrap(), count);
    }
    assert_eq!(server.connections(), 8);
    let mut ids: Vec<u64> = server.requests().iter().map(|r| r.connection_id).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=8).collect::<Vec<u64>>());
    server.shutdown().await;
}
