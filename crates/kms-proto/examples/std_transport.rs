//! The client machine ([`kms_proto::client`]) driven by std::net alone: one ShowUserInstances
//! call on one thread, over blocking plain HTTP/1.1 (no TLS: `https` is refused; no proxy).
//! Retries, `Retry-After`, failover, clock-skew correction, the deadline and credential
//! refresh all come from the machine: this file only does what each [`Io`] asks.
//!
//! `std_transport <URL>[,<URL>...]` prints the count, or the error on stderr and exits 1.
//! Credentials: the default chain (`HUAWEICLOUD_SDK_AK`, `_SK`, `_SECURITY_TOKEN` or
//! `_AUTH_TOKEN`, ..., ECS metadata); the project: `HUAWEICLOUD_SDK_PROJECT_ID`.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a CLI")]

use std::hash::BuildHasher;
use std::io::ErrorKind::{InvalidData, TimedOut, UnexpectedEof, WouldBlock};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use kms_proto::call::{Now, TransportErrorKind, TransportFailure};
use kms_proto::client::{Client, Exchange, Io, RefreshIo, Route};
use kms_proto::credentials::{Provider, SOURCE_CONNECT_TIMEOUT};
use kms_proto::env::ENV_PROJECT_ID;
use kms_proto::operation::UserInstances;
use kms_proto::{ClientConfig, Endpoints, MAX_RESPONSE_HEAD, ProjectId};

type Answer = (StatusCode, HeaderMap, Vec<u8>);

fn main() -> ExitCode {
    let printed = run().map(|count| println!("{count}"));
    let printed = printed.map_err(|error| eprintln!("std_transport: {error}"));
    printed.map_or(ExitCode::FAILURE, |()| ExitCode::SUCCESS)
}

fn run() -> Result<u64, Box<dyn std::error::Error>> {
    let usage = "usage: std_transport <URL>[,<URL>...]";
    let list = std::env::args().nth(1).ok_or(usage)?;
    let endpoints = Endpoints::parse_list(&list)?;
    if let Some(https) = endpoints.iter().find(|e| e.scheme() != "http") {
        return Err(format!("{https}: this example speaks plain HTTP only, no TLS").into());
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let id = env(ENV_PROJECT_ID).ok_or(format!("no project: set {ENV_PROJECT_ID}"))?;
    let project = ProjectId::new(&id).map_err(|e| e.with_origin(ENV_PROJECT_ID))?;
    let provider = Provider::default_chain(env);
    let client = Client::new(ClientConfig::from_provider(endpoints, project, provider));
    let mut call = client.call(UserInstances, now());
    loop {
        match call.poll(now()) {
            Io::Send(exchange) => match send(&exchange, &client) {
                Ok((status, headers, body)) => call.on_response(status, &headers, &body, now()),
                Err(failure) => call.on_failure(failure, now()),
            },
            // One thread: the refresh runs here, to its end, before the call goes on.
            Io::Refresh(mut job) => loop {
                match job.poll() {
                    RefreshIo::Read(file) => job.on_file(file.read_blocking()),
                    RefreshIo::Send(exchange) => match send(&exchange, &client) {
                        Ok((status, headers, body)) => job.on_response(status, &headers, &body),
                        Err(failure) => job.on_failure(failure),
                    },
                    RefreshIo::Done => break client.on_refreshed(job, now()),
                }
            },
            Io::Sleep(until) => std::thread::sleep(until.saturating_duration_since(Instant::now())),
            // One call, refreshes run inline: no other call to wait for, or to wake.
            Io::Wait(_) | Io::Wake => {}
            Io::Done(result) => return Ok(result?.count()),
        }
    }
}

/// "Now" for the machine, made here only; the jitter hashes the time with a random key.
fn now() -> Now {
    let jitter = std::hash::RandomState::new().hash_one(Instant::now()) as f64 / u64::MAX as f64;
    Now::new(SystemTime::now(), Instant::now(), jitter)
}

/// One exchange on a connection of its own, all within its timeout.
fn send(exchange: &Exchange, client: &Client) -> Result<Answer, TransportFailure> {
    let deadline = Instant::now() + exchange.timeout();
    let uri = exchange.request().uri();
    let (Some("http"), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(failure(io::Error::other(format!("{uri}: not http")), false));
    };
    let connect_within = match exchange.route() {
        Route::Kms | Route::Cloud => client.config().connect_timeout(),
        Route::Local => SOURCE_CONNECT_TIMEOUT,
    };
    let until = deadline.min(Instant::now() + connect_within);
    let port = authority.port_u16().unwrap_or(80);
    let addresses = format!("{}:{port}", authority.host()).to_socket_addrs();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
    for address in addresses.map_err(|e| failure(e, false))? {
        match left(until).and_then(|left| TcpStream::connect_timeout(&address, left)) {
            Ok(s) => return talk(s, exchange, deadline).map_err(|e| failure(e, true)),
            Err(e) => last = e,
        }
    }
    Err(failure(last, false))
}

/// A failure `connected` or not: a timeout, else a connect failure or other I/O.
fn failure(e: io::Error, connected: bool) -> TransportFailure {
    match e.kind() {
        TimedOut | WouldBlock => TransportFailure::timed_out(connected),
        _ if connected => TransportFailure::new(TransportErrorKind::Io, true),
        _ => TransportFailure::new(TransportErrorKind::Connect, false),
    }
    .with_source(e)
}

/// Writes the request (`Connection: close`), reads one head of at most `MAX_RESPONSE_HEAD`
/// bytes (nothing asks for a 1xx) and at most `read_limit` bytes of the body.
fn talk(stream: TcpStream, exchange: &Exchange, deadline: Instant) -> io::Result<Answer> {
    let (request, limit) = (exchange.request(), exchange.read_limit());
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut head = format!("{} {target} HTTP/1.1\r\n", request.method()).into_bytes();
    for (name, value) in request.headers() {
        head.extend([name.as_str().as_bytes(), b": ", value.as_bytes(), b"\r\n"].concat());
    }
    let (body, length) = (request.body(), request.headers().get(CONTENT_LENGTH));
    if length.is_none() && !body.is_empty() {
        head.extend(format!("content-length: {}\r\n", body.len()).bytes());
    }
    head.extend([b"connection: close\r\n\r\n", body.as_slice()].concat());
    stream.set_write_timeout(Some(left(deadline)?))?;
    (&stream).write_all(&head)?;
    let mut reader = BufReader::new(Timed(stream, deadline));
    let mut bounded = reader.by_ref().take(MAX_RESPONSE_HEAD as u64);
    let line = read_line(&mut bounded)?.unwrap_or_default();
    let http1 = line.starts_with(b"HTTP/1.") && line.get(8) == Some(&b' ');
    let code = line.get(9..12).filter(|_| http1).ok_or(InvalidData)?;
    let status = StatusCode::from_bytes(code).map_err(io::Error::other)?;
    let mut headers = HeaderMap::new();
    while let Some(line) = read_line(&mut bounded)? {
        let (name, value) = line.split_at(line.iter().position(|b| *b == b':').unwrap_or(0));
        let value = HeaderValue::from_bytes(value.get(1..).unwrap_or_default().trim_ascii());
        let name = HeaderName::from_bytes(name).map_err(io::Error::other)?;
        headers.append(name, value.map_err(io::Error::other)?);
    }
    let mut body = Vec::new();
    let last = headers.get_all(TRANSFER_ENCODING).iter().next_back();
    if last.is_some_and(|v| v.as_bytes().to_ascii_lowercase().ends_with(b"chunked")) {
        loop {
            let line = read_line(&mut reader.by_ref().take(1024))?.unwrap_or_default();
            let line = String::from_utf8_lossy(&line);
            let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16);
            let size = size.map_err(|_| InvalidData)?;
            let want = size.min(limit - body.len());
            read_n(&mut reader, &mut body, want)?;
            if size == 0 || want < size {
                break; // the last chunk (its trailers unread), or the limit reached
            }
            read_line(&mut reader.by_ref().take(2))?; // the CRLF after the data, and only it
        }
    } else if let Some(length) = headers.get(CONTENT_LENGTH) {
        let length = length.to_str().ok().and_then(|l| l.trim().parse().ok());
        let length: usize = length.ok_or(InvalidData)?;
        read_n(&mut reader, &mut body, length.min(limit))?;
    } else {
        reader.take(limit as u64).read_to_end(&mut body)?;
    }
    Ok((status, headers, body))
}

/// The time left before `deadline`, or a timeout.
fn left(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    (!left.is_zero()).then_some(left).ok_or(TimedOut.into())
}

/// A stream whose every read ends by the deadline.
struct Timed(TcpStream, Instant);

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.set_read_timeout(Some(left(self.1)?))?;
        self.0.read(buf)
    }
}

/// One line without its CRLF (`None`: an empty line), within the reader's bound.
fn read_line(reader: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    match line.strip_suffix(b"\n").map(<[u8]>::trim_ascii_end) {
        Some([]) => Ok(None),
        Some(line) => Ok(Some(line.to_vec())),
        None => Err(io::Error::other("a line cut short, or too long")),
    }
}

fn read_n(reader: &mut impl Read, body: &mut Vec<u8>, n: usize) -> io::Result<()> {
    let read = reader.by_ref().take(n as u64).read_to_end(body)?;
    (read == n).then_some(()).ok_or(UnexpectedEof.into())
}
