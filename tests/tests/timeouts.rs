//! Every attempt ends within its timeout against servers that never send a final answer,
//! on every transport, and leaves nothing behind: the connection is closed when the call
//! returns (no task or thread keeps reading from it). The servers here are raw sockets on
//! 127.0.0.1, so the test sees exactly when the client let go of the connection.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kms_conformance::Transport;
use kms_conformance::client::SharedClient;
use kms_proto::call::ErrorKind;
use kms_proto::{AuthToken, ClientConfig, Endpoint, ProjectId, RetryPolicy};

const PROJECT: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";
const ATTEMPT: Duration = Duration::from_millis(500);
/// What a call may take beyond its attempt timeout, and how long after it returns its
/// connection may still be open: 2 s. Only the call is timed (the client is built
/// before), so this is scheduling on a loaded 2-core machine running a debug build, which
/// has no bound the test can rely on; generous, and still far below what a broken timer
/// would show, since every hostile server here goes on for 10 s (an attempt timer reset
/// by each byte, or a task left reading the connection, lasts until then).
const MARGIN: Duration = Duration::from_secs(2);

/// A timeout can never fire before the attempt's time is up, so a call that ends with
/// `timeout` took at least [`ATTEMPT`]: exact, whatever the load.
fn too_soon(kind: ErrorKind, took: Duration) -> bool {
    kind == ErrorKind::Timeout && took < ATTEMPT
}

/// How a hostile server answers the one request it reads.
#[derive(Debug, Clone, Copy)]
enum Hostile {
    /// `102 Processing` heads back to back, as fast as the client takes them: kms-hyper
    /// fails `io` once 256 KiB arrived after its request (hyper reads 1xx heads without
    /// end, and its connection task would not notice the attempt was over); kms-ureq reads
    /// them until the attempt times out, or fails `io` sooner if more than its 128 KiB
    /// bound arrives unread, as the machine's speed decides.
    InformationalFlood,
    /// One `103 Early Hints` head every 50 ms.
    InformationalDrip,
    /// The status line and then one header byte every 50 ms.
    HeadDrip,
}

/// Serves one connection as `behaviour` says, until the client closes it; reports how
/// long after `started` the client let go (or `None` if it never did within 10 s).
fn hostile_server(behaviour: Hostile) -> (String, mpsc::Receiver<Option<Instant>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        stream
            .set_write_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let flood = b"HTTP/1.1 102 Processing\r\n\r\n".repeat(64);
        let until = Instant::now() + Duration::from_secs(10);
        let mut first = true;
        let closed = loop {
            if Instant::now() > until {
                break None;
            }
            let written = match behaviour {
                Hostile::InformationalFlood => stream.write_all(&flood),
                Hostile::InformationalDrip => {
                    std::thread::sleep(Duration::from_millis(50));
                    stream.write_all(b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n")
                }
                Hostile::HeadDrip => {
                    if first {
                        first = false;
                        stream.write_all(b"HTTP/1.1 200 OK\r\n")
                    } else {
                        std::thread::sleep(Duration::from_millis(50));
                        stream.write_all(b"x")
                    }
                }
            };
            match written {
                Ok(()) => {}
                // A full socket buffer: the client is not reading (yet); keep trying.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => break Some(Instant::now()),
            }
        };
        let _ = tx.send(closed);
    });
    (url, rx)
}

#[test]
fn attempts_end_on_time_and_close_their_connection() {
    let mut failures = Vec::new();
    for behaviour in [
        Hostile::InformationalFlood,
        Hostile::InformationalDrip,
        Hostile::HeadDrip,
    ] {
        for transport in Transport::ALL {
            let (url, closed) = hostile_server(behaviour);
            let config = ClientConfig::new(
                Endpoint::parse(&url).unwrap(),
                ProjectId::new(PROJECT).unwrap(),
                AuthToken::new("timeouts-test-token").unwrap().into(),
            )
            .with_attempt_timeout(ATTEMPT)
            .with_retry(RetryPolicy::never());
            let client = SharedClient::new(transport, config).unwrap();
            let started = Instant::now();
            let result = client.call();
            let took = started.elapsed();
            let returned = Instant::now();
            let name = format!("{behaviour:?} [{}]", transport.name());
            let want: &[ErrorKind] = match (behaviour, transport) {
                (Hostile::InformationalFlood, Transport::Hyper) => &[ErrorKind::Io],
                (Hostile::InformationalFlood, Transport::Ureq) => {
                    &[ErrorKind::Timeout, ErrorKind::Io]
                }
                (Hostile::InformationalDrip | Hostile::HeadDrip, _) => &[ErrorKind::Timeout],
            };
            match result {
                Err(e) if too_soon(e.kind(), took) => {
                    failures.push(format!(
                        "{name}: timed out after {took:?}, before {ATTEMPT:?}"
                    ));
                }
                Err(e) if want.contains(&e.kind()) => {}
                other => failures.push(format!("{name}: want {want:?}, got {other:?}")),
            }
            if took > ATTEMPT + MARGIN {
                failures.push(format!(
                    "{name}: took {took:?} for a {ATTEMPT:?} attempt timeout"
                ));
            }
            match closed.recv_timeout(Duration::from_secs(12)) {
                Ok(Some(at)) => {
                    let after = at.saturating_duration_since(returned);
                    if after > MARGIN {
                        failures.push(format!(
                            "{name}: the connection was closed {after:?} after the call returned"
                        ));
                    }
                }
                _ => failures.push(format!(
                    "{name}: the connection was still open 10 s after the call"
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The emulator's endless `102 Processing` (one every two milliseconds or so): each
/// transport ends the attempt at its timeout, and the emulator sees the connection closed.
#[test]
fn the_emulators_endless_informational_answers() {
    let server = kms_mock::BlockingMockServer::start(
        kms_mock::MockConfig::new().with_token("timeouts-test-token", PROJECT),
    )
    .unwrap();
    for transport in Transport::ALL {
        server
            .faults()
            .next(1, kms_mock::Fault::EndlessInformational);
        let config = ClientConfig::new(
            Endpoint::parse(&server.url()).unwrap(),
            ProjectId::new(PROJECT).unwrap(),
            AuthToken::new("timeouts-test-token").unwrap().into(),
        )
        .with_attempt_timeout(ATTEMPT)
        .with_retry(RetryPolicy::never());
        let client = SharedClient::new(transport, config).unwrap();
        let started = Instant::now();
        let err = client.call().unwrap_err();
        let took = started.elapsed();
        let name = transport.name();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{name}: {err}");
        assert!(
            !too_soon(err.kind(), took),
            "{name}: timed out after {took:?}"
        );
        assert!(took <= ATTEMPT + MARGIN, "{name}: took {took:?}");
        let closed = Instant::now();
        while server.open_connections() > 0 && closed.elapsed() < MARGIN {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            server.open_connections(),
            0,
            "{name}: the connection outlived the call by {MARGIN:?}"
        );
    }
}
