//! The emulator's verified requests per second, per signing algorithm: a few client
//! threads on plain blocking keep-alive sockets send one pre-signed request again and
//! again, so that every answer costs the emulator a full signature check (and the
//! gateway's lockout and throttle bookkeeping), and as little as possible is spent on the
//! client side.
//!
//! Each round runs for [`ROUND`] (`KMS_BENCH_ROUNDS` rounds, default 5) and the median is
//! printed with every round's figure, so a reader sees how much the rounds agreed.
//! `-- --test` (as `cargo bench --workspace -- --test` passes it) runs one short round.
//!
//! The same signature is replayed: the emulator, like the gateway, accepts a signature
//! for 15 minutes and does not remember the ones it has seen.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::indexing_slicing,
    reason = "a bench fails by panicking and prints its result"
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime};

use kms_mock::{BlockingMockServer, MockConfig};
use kms_proto::{AkSk, Credentials, Endpoint, ProjectId, ShowUserInstances, SigningAlgorithm};

const PROJECT: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";
const AK: &str = "AKBENCH000000000000";
const SK: &str = "SKBENCHsecretkey0000000000000000000000";
/// Client threads: enough to keep the emulator's one thread busy while a client waits.
const CLIENTS: usize = 4;
/// How long each round sends.
const ROUND: Duration = Duration::from_secs(1);
/// One round of this under `--test`: proves the bench runs, measures nothing.
const TEST_ROUND: Duration = Duration::from_millis(100);

fn main() {
    let test = std::env::args().any(|a| a == "--test");
    let (round, rounds) = if test {
        (TEST_ROUND, 1)
    } else {
        let rounds = std::env::var("KMS_BENCH_ROUNDS")
            .ok()
            .and_then(|r| r.parse::<usize>().ok())
            .filter(|&r| r > 0)
            .unwrap_or(5);
        (ROUND, rounds)
    };

    let server = BlockingMockServer::start(
        MockConfig::new()
            .with_project(PROJECT, 15)
            .with_aksk(AK, SK),
    )
    .unwrap();
    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|_| Client::connect(server.local_addr()))
        .collect();
    for algorithm in SigningAlgorithm::ALL {
        let request = raw_request(&server.url(), algorithm);
        // One exchange each before timing: connections accepted, buffers grown.
        for client in &mut clients {
            client.exchange(&request);
        }
        let mut per_second: Vec<f64> = (0..rounds)
            .map(|_| run_round(&mut clients, &request, round))
            .collect();
        let shown: Vec<String> = per_second.iter().map(|r| format!("{r:.0}")).collect();
        per_second.sort_by(f64::total_cmp);
        let median = per_second[per_second.len() / 2];
        println!(
            "emulator verified requests/s, {algorithm}: median {median:.0} (rounds: {})",
            shown.join(", ")
        );
    }
}

/// Every client sends for `round`; the verified answers per second of them all.
fn run_round(clients: &mut [Client], request: &[u8], round: Duration) -> f64 {
    let start = Instant::now();
    let deadline = start + round;
    let answered: u64 = std::thread::scope(|scope| {
        let threads: Vec<_> = clients
            .iter_mut()
            .map(|client| {
                scope.spawn(move || {
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        client.exchange(request);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).sum()
    });
    answered as f64 / start.elapsed().as_secs_f64()
}

/// The request kms-proto signs, written out as HTTP/1.1 bytes once.
fn raw_request(url: &str, algorithm: SigningAlgorithm) -> Vec<u8> {
    let endpoint = Endpoint::parse(url).unwrap();
    let credentials: Credentials = AkSk::new(AK, SK)
        .unwrap()
        .with_algorithm(algorithm)
        .unwrap()
        .into();
    let request = ShowUserInstances::new(ProjectId::new(PROJECT).unwrap())
        .build(&endpoint, &credentials, SystemTime::now())
        .unwrap();
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let mut raw = format!("{} {target} HTTP/1.1\r\n", request.method()).into_bytes();
    for (name, value) in request.headers() {
        raw.extend_from_slice(name.as_str().as_bytes());
        raw.extend_from_slice(b": ");
        raw.extend_from_slice(value.as_bytes());
        raw.extend_from_slice(b"\r\n");
    }
    if !request.body().is_empty() {
        raw.extend_from_slice(format!("content-length: {}\r\n", request.body().len()).as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    raw.extend_from_slice(request.body());
    raw
}

/// One keep-alive connection and what it has read past the last answer.
struct Client {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        // A hung emulator fails the bench instead of hanging it.
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Client {
            stream,
            buffer: Vec::with_capacity(4096),
        }
    }

    /// Sends the request and reads its answer, which must be a 200.
    fn exchange(&mut self, request: &[u8]) {
        self.stream.write_all(request).unwrap();
        let head_end = loop {
            if let Some(at) = find(&self.buffer, b"\r\n\r\n") {
                break at + 4;
            }
            self.fill();
        };
        let head = std::str::from_utf8(&self.buffer[..head_end]).unwrap();
        assert!(
            head.starts_with("HTTP/1.1 200 "),
            "the emulator did not accept the request: {head}"
        );
        let body_len: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().unwrap())
            })
            .expect("a Content-Length");
        while self.buffer.len() < head_end + body_len {
            self.fill();
        }
        self.buffer.drain(..head_end + body_len);
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).unwrap();
        assert!(n > 0, "the emulator closed the connection");
        self.buffer.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
