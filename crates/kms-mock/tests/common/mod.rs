//! A small raw HTTP/1.1 client over `std::net::TcpStream` (plain or rustls) that reports
//! precisely how a response went wrong, and the requests and credentials the tests share.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking
#![allow(dead_code, reason = "each test binary uses a part of these helpers")]

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use http::Request;
use kms_proto::sign::{self, SignableRequest};
use kms_proto::{AkSk, AuthToken, Credentials, Endpoint, ProjectId, SdkDate, ShowUserInstances};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

// ---------------------------------------------------------------------------------------
// Test values
// ---------------------------------------------------------------------------------------

/// The project most tests ask about.
pub(crate) const PID: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";
/// A second project.
pub(crate) const OTHER_PID: &str = "5c6f0a1e9b2d4e8f8a7b6c5d4e3f2a1b";
/// How many instances [`PID`] has in [`config`].
pub(crate) const COUNT: u64 = 15;
/// How many instances [`OTHER_PID`] has in [`config`].
pub(crate) const OTHER_COUNT: u64 = 3;
/// A permanent AK/SK pair.
pub(crate) const AK: &str = "AKEXAMPLE0000000000";
pub(crate) const SK: &str = "SKEXAMPLEsecretkey000000000000000000000";
/// A temporary AK/SK pair and its security token.
pub(crate) const TEMP_AK: &str = "AKTEMPORARY00000000";
pub(crate) const TEMP_SK: &str = "SKTEMPORARYsecret0000000000000000000000";
pub(crate) const SECURITY_TOKEN: &str = "SECURITYTOKENgQpEXAMPLE0000000000000000";
/// An IAM token for [`PID`].
pub(crate) const TOKEN: &str = "MIIEhQYJKoZIhvcNAQcCoIIEdjCCBHICAQExDTALBglghkgBZQMEAgEwggKX";

/// How long any single read or write may block before the test fails instead of hanging.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Two projects, one permanent and one temporary AK, one token for [`PID`].
pub(crate) fn config() -> kms_mock::MockConfig {
    kms_mock::MockConfig::new()
        .with_project(PID, COUNT)
        .with_project(OTHER_PID, OTHER_COUNT)
        .with_aksk(AK, SK)
        .with_temporary_aksk(TEMP_AK, TEMP_SK, SECURITY_TOKEN)
        .with_token(TOKEN, PID)
}

/// A blocking emulator with [`config`].
pub(crate) fn start() -> kms_mock::BlockingMockServer {
    kms_mock::BlockingMockServer::start(config()).expect("the emulator starts")
}

/// A clock for the emulator that moves only when the test moves it, so that lockout and
/// throttle windows pass without sleeping. It starts at the real time when it is made, so
/// that requests signed then are within the signature window either way.
#[derive(Clone)]
pub(crate) struct TestClock {
    start: SystemTime,
    /// Milliseconds moved forward since `start`.
    offset_ms: Arc<AtomicU64>,
}

impl TestClock {
    pub(crate) fn new() -> Self {
        TestClock {
            start: SystemTime::now(),
            offset_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The emulator's time: sign requests with it.
    pub(crate) fn now(&self) -> SystemTime {
        self.start + Duration::from_millis(self.offset_ms.load(Ordering::SeqCst))
    }

    /// Moves the clock forward by `by` (whole milliseconds).
    pub(crate) fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).expect("a test moves the clock by less");
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// `config` running on this clock.
    pub(crate) fn install(&self, config: kms_mock::MockConfig) -> kms_mock::MockConfig {
        let clock = self.clone();
        config.with_clock(move || clock.now())
    }
}

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

/// The endpoint of a server URL (`http://127.0.0.1:<port>` or `https://...`).
pub(crate) fn endpoint(url: &str) -> Endpoint {
    Endpoint::parse(url).unwrap_or_else(|e| panic!("{url} is not an endpoint: {e}"))
}

/// A ShowUserInstances request for `project`, built and (for AK/SK) signed by kms-proto.
pub(crate) fn build(
    url: &str,
    credentials: impl Into<Credentials>,
    project: &str,
    now: SystemTime,
) -> Request<Vec<u8>> {
    ShowUserInstances::new(ProjectId::new(project).unwrap())
        .build(&endpoint(url), &credentials.into(), now)
        .unwrap()
}

/// A request with `X-Auth-Token: token`.
pub(crate) fn token_request(url: &str, token: &str, project: &str) -> Request<Vec<u8>> {
    build(
        url,
        AuthToken::new(token).unwrap(),
        project,
        SystemTime::now(),
    )
}

/// A request signed now with a permanent AK/SK pair.
pub(crate) fn aksk_request(url: &str, ak: &str, sk: &str, project: &str) -> Request<Vec<u8>> {
    build(url, AkSk::new(ak, sk).unwrap(), project, SystemTime::now())
}

/// The headers a hand-made client sends, as `(lower-case name, value)`: what the Python
/// SDK sends; a Go-style client sends the same but signs fewer of them.
pub(crate) fn hand_made_headers(
    url: &str,
    project: &str,
    user_agent: &str,
    now: SystemTime,
) -> Vec<(&'static str, String)> {
    let date = SdkDate::from_system_time(now).unwrap();
    vec![
        ("content-type", "application/json".to_owned()),
        ("host", endpoint(url).authority()),
        ("user-agent", user_agent.to_owned()),
        ("x-project-id", project.to_owned()),
        ("x-sdk-date", date.as_str().to_owned()),
    ]
}

/// A request with `headers`, of which those named in `signed` are signed step by step
/// with [`kms_proto::sign`], as a hand-written client in another language would.
pub(crate) fn sign_by_hand(
    project: &str,
    ak: &str,
    sk: &str,
    headers: &[(&'static str, String)],
    signed: &[&str],
) -> Request<Vec<u8>> {
    let path = format!("/v1.0/{project}/kms/user-instances");
    let signed_headers: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(name, _)| signed.contains(name))
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    let canonical = sign::canonical_request(&SignableRequest {
        method: "GET",
        path: &path,
        query: &[],
        headers: &signed_headers,
        body: b"",
    });
    assert_eq!(canonical.signed_headers, signed.join(";"));
    let date = headers
        .iter()
        .find(|(name, _)| *name == "x-sdk-date")
        .map(|(_, value)| value.as_str())
        .expect("an X-Sdk-Date header");
    let signature = sign::signature(sk, &sign::string_to_sign(date, &canonical.text));
    let mut builder = Request::get(path);
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder
        .header(
            "authorization",
            sign::authorization(ak, &canonical.signed_headers, &signature),
        )
        .body(Vec::new())
        .unwrap()
}

/// The bytes of `request` on the wire: request line with the path and query, every header
/// as given (`Content-Length` added for a body that lacks one), the body.
pub(crate) fn serialize(request: &Request<Vec<u8>>) -> Vec<u8> {
    let target = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    let mut out = format!("{} {target} HTTP/1.1\r\n", request.method()).into_bytes();
    for (name, value) in request.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !request.body().is_empty() && !request.headers().contains_key(http::header::CONTENT_LENGTH) {
        out.extend_from_slice(format!("content-length: {}\r\n", request.body().len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(request.body());
    out
}

// ---------------------------------------------------------------------------------------
// Responses and errors
// ---------------------------------------------------------------------------------------

/// A response's status line and headers.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub(crate) status: u16,
    /// `(lower-case name, value)`, in the order received.
    pub(crate) headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of a header.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The declared `Content-Length`.
    pub(crate) fn content_length(&self) -> Option<u64> {
        self.header("content-length")
            .map(|v| v.trim().parse().expect("a numeric Content-Length"))
    }

    fn is_chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    /// The `X-Request-Id`, checked to be 32 lower-case hex digits.
    pub(crate) fn request_id(&self) -> String {
        let id = self
            .header("x-request-id")
            .unwrap_or_else(|| panic!("no X-Request-Id in {:?}", self.headers));
        assert!(
            id.len() == 32
                && id
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "X-Request-Id {id:?} is not 32 lower-case hex digits"
        );
        id.to_owned()
    }
}

/// A complete response.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) head: Head,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn status(&self) -> u16 {
        self.head.status
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }

    /// See [`Head::request_id`].
    pub(crate) fn request_id(&self) -> String {
        self.head.request_id()
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {:?}", self.text()))
    }

    /// The headers as an `http::HeaderMap`, for `kms_proto::parse`.
    pub(crate) fn header_map(&self) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (name, value) in &self.head.headers {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }
}

/// How reading a response failed, precisely.
#[derive(Debug)]
pub(crate) enum ClientError {
    /// The connection was closed (or reset) before a single byte of the response came.
    ClosedBeforeAnyByte,
    /// The connection was closed in the middle of the response head.
    ClosedInHead { received: Vec<u8> },
    /// The connection was closed in the middle of the body; `expected` is the declared
    /// `Content-Length` (`None` for a chunked or close-delimited body).
    ClosedMidBody {
        head: Head,
        body: Vec<u8>,
        expected: Option<u64>,
    },
    /// What came is not an HTTP/1.x response; `received` is everything read until the
    /// connection closed (or the read timed out).
    NotHttp { received: Vec<u8> },
    /// A read timed out after `received` bytes of this response.
    Timeout { received: usize },
    /// The TLS handshake failed.
    Tls(rustls::Error),
    /// Any other I/O error.
    Io(io::Error),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::ClosedBeforeAnyByte => {
                f.write_str("connection closed before any byte of the response")
            }
            ClientError::ClosedInHead { received } => write!(
                f,
                "connection closed in the response head after {} bytes",
                received.len()
            ),
            ClientError::ClosedMidBody { body, expected, .. } => match expected {
                Some(total) => write!(
                    f,
                    "connection closed mid-body with {} of {total} bytes",
                    body.len()
                ),
                None => write!(
                    f,
                    "connection closed mid-body after {} bytes of an unsized body",
                    body.len()
                ),
            },
            ClientError::NotHttp { received } => write!(
                f,
                "not HTTP: {:?}",
                String::from_utf8_lossy(received.get(..64).unwrap_or(received))
            ),
            ClientError::Timeout { received } => {
                write!(f, "read timed out after {received} bytes of the response")
            }
            ClientError::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            ClientError::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

/// What a read of the socket gave.
enum Fill {
    Data,
    Eof,
}

// ---------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------

/// Gives access to the TCP socket under a stream, for timeouts.
pub(crate) trait Socket: Read + Write {
    fn tcp(&self) -> &TcpStream;
}

impl Socket for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Socket for StreamOwned<ClientConnection, TcpStream> {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
}

/// One HTTP/1.1 connection, reusable for several requests (keep-alive).
pub(crate) struct Conn<S: Socket> {
    stream: S,
    /// Bytes read from the socket and not consumed yet.
    buf: Vec<u8>,
    /// Bytes of the current response read so far (for error reports).
    received: usize,
}

/// A plain connection to `addr`, with [`IO_TIMEOUT`] on reads and writes.
pub(crate) fn connect(addr: SocketAddr) -> Conn<TcpStream> {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    Conn::new(stream)
}

/// A rustls client configuration (ring provider) trusting exactly the certificates of
/// `ca_pem` (none for `None`).
pub(crate) fn tls_config(ca_pem: Option<&str>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    if let Some(pem) = ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(cert.expect("a PEM certificate")).unwrap();
        }
        assert!(!roots.is_empty(), "no certificate in the PEM");
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    Arc::new(config)
}

/// A TLS connection to `addr` for `server_name`; the handshake is done before it returns.
pub(crate) fn connect_tls(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    server_name: &str,
) -> Result<Conn<StreamOwned<ClientConnection, TcpStream>>, ClientError> {
    let tcp = connect(addr).stream;
    let name = ServerName::try_from(server_name.to_owned()).unwrap();
    let tls = ClientConnection::new(config, name).map_err(ClientError::Tls)?;
    let mut stream = StreamOwned::new(tls, tcp);
    while stream.conn.is_handshaking() {
        if let Err(e) = stream.conn.complete_io(&mut stream.sock) {
            let tls_error = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .cloned();
            return Err(tls_error.map_or(ClientError::Io(e), ClientError::Tls));
        }
    }
    Ok(Conn::new(stream))
}

impl<S: Socket> Conn<S> {
    fn new(stream: S) -> Self {
        Conn {
            stream,
            buf: Vec::new(),
            received: 0,
        }
    }

    /// Replaces the read timeout (default [`IO_TIMEOUT`]).
    pub(crate) fn set_read_timeout(&self, timeout: Duration) {
        self.stream.tcp().set_read_timeout(Some(timeout)).unwrap();
    }

    /// Sends `request` and reads the whole response.
    pub(crate) fn send(&mut self, request: &Request<Vec<u8>>) -> Result<Response, ClientError> {
        self.write_request(request).map_err(ClientError::Io)?;
        self.read_response()
    }

    /// Sends `request` without reading anything.
    pub(crate) fn write_request(&mut self, request: &Request<Vec<u8>>) -> io::Result<()> {
        self.write_raw(&serialize(request))
    }

    /// Sends raw bytes.
    pub(crate) fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Reads one whole response.
    pub(crate) fn read_response(&mut self) -> Result<Response, ClientError> {
        let head = self.read_head()?;
        let body = self.read_body(&head, usize::MAX, &mut |_| {})?;
        Ok(Response { head, body })
    }

    /// Reads more bytes into the buffer.
    fn fill(&mut self) -> Result<Fill, ClientError> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(Fill::Eof),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    self.received += n;
                    return Ok(Fill::Data);
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::Interrupted => {}
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                        return Err(ClientError::Timeout {
                            received: self.received,
                        });
                    }
                    // A reset, or (TLS) a close without close_notify: the peer is gone.
                    io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::BrokenPipe => return Ok(Fill::Eof),
                    _ => return Err(ClientError::Io(e)),
                },
            }
        }
    }

    /// Reads the status line and headers of the next response.
    pub(crate) fn read_head(&mut self) -> Result<Head, ClientError> {
        const MAX_HEAD: usize = 64 * 1024;
        self.received = self.buf.len();
        loop {
            let looks_like_http = {
                let n = self.buf.len().min(5);
                self.buf[..n] == b"HTTP/"[..n]
            };
            if !looks_like_http || self.buf.len() > MAX_HEAD {
                return Err(self.not_http());
            }
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                return parse_head(&head[..end]).ok_or(ClientError::NotHttp { received: head });
            }
            if let Fill::Eof = self.fill()? {
                return Err(if self.buf.is_empty() {
                    ClientError::ClosedBeforeAnyByte
                } else {
                    ClientError::ClosedInHead {
                        received: std::mem::take(&mut self.buf),
                    }
                });
            }
        }
    }

    /// Reads everything until the peer closes (or the read times out) and reports it as
    /// not HTTP.
    fn not_http(&mut self) -> ClientError {
        while let Ok(Fill::Data) = self.fill() {}
        ClientError::NotHttp {
            received: std::mem::take(&mut self.buf),
        }
    }

    /// Reads the body that `head` announces, decoding chunked encoding, stopping early once
    /// `limit` bytes are in. `progress` is told the body length after every socket read.
    pub(crate) fn read_body(
        &mut self,
        head: &Head,
        limit: usize,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<u8>, ClientError> {
        if head.status < 200 || head.status == 204 || head.status == 304 {
            return Ok(Vec::new());
        }
        if head.is_chunked() {
            return self.read_chunked(head, limit, progress);
        }
        let expected = head.content_length();
        let want = expected.map_or(usize::MAX, |n| usize::try_from(n).unwrap());
        let mut body = Vec::new();
        loop {
            let take = self
                .buf
                .len()
                .min(want - body.len())
                .min(limit - body.len());
            body.extend(self.buf.drain(..take));
            if take > 0 {
                progress(body.len());
            }
            if body.len() == want || body.len() >= limit {
                return Ok(body);
            }
            if let Fill::Eof = self.fill()? {
                return match expected {
                    // A close-delimited body ends with the connection.
                    None => Ok(body),
                    Some(_) => Err(ClientError::ClosedMidBody {
                        head: head.clone(),
                        body,
                        expected,
                    }),
                };
            }
        }
    }

    fn read_chunked(
        &mut self,
        head: &Head,
        limit: usize,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<u8>, ClientError> {
        let mut body = Vec::new();
        let closed = |body: Vec<u8>| ClientError::ClosedMidBody {
            head: head.clone(),
            body,
            expected: None,
        };
        loop {
            // The size line.
            let line = loop {
                if let Some(end) = find(&self.buf, b"\r\n") {
                    let line: Vec<u8> = self.buf.drain(..end + 2).collect();
                    break line[..end].to_vec();
                }
                if let Fill::Eof = self.fill()? {
                    return Err(closed(body));
                }
            };
            let size_text = String::from_utf8_lossy(&line);
            let size_text = size_text.split(';').next().unwrap_or_default().trim();
            let Ok(mut size) = usize::from_str_radix(size_text, 16) else {
                return Err(ClientError::NotHttp { received: line });
            };
            if size == 0 {
                // Trailers, up to the blank line.
                loop {
                    if let Some(end) = find(&self.buf, b"\r\n") {
                        self.buf.drain(..end + 2);
                        if end == 0 {
                            return Ok(body);
                        }
                        continue;
                    }
                    if let Fill::Eof = self.fill()? {
                        return Err(closed(body));
                    }
                }
            }
            // The chunk's data, then its CRLF.
            while size > 0 {
                if self.buf.is_empty() {
                    if let Fill::Eof = self.fill()? {
                        return Err(closed(body));
                    }
                    continue;
                }
                let take = self.buf.len().min(size);
                body.extend(self.buf.drain(..take));
                size -= take;
                progress(body.len());
                if body.len() >= limit {
                    return Ok(body);
                }
            }
            while self.buf.len() < 2 {
                if let Fill::Eof = self.fill()? {
                    return Err(closed(body));
                }
            }
            self.buf.drain(..2);
        }
    }

    /// Reads raw bytes until the peer closes the connection.
    pub(crate) fn read_until_close(&mut self) -> Result<Vec<u8>, ClientError> {
        self.received = self.buf.len();
        while let Fill::Data = self.fill()? {}
        Ok(std::mem::take(&mut self.buf))
    }

    /// Whether the peer has closed the connection (waits up to the read timeout for the
    /// close; bytes that arrive meanwhile make it `false`).
    pub(crate) fn is_closed_by_peer(&mut self) -> bool {
        self.buf.is_empty() && matches!(self.fill(), Ok(Fill::Eof))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(head: &[u8]) -> Option<Head> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next()?;
    if !(version == "HTTP/1.1" || version == "HTTP/1.0") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Some(Head { status, headers })
}

/// Sends `request` on a fresh plain connection to `addr` and reads the response.
pub(crate) fn send(addr: SocketAddr, request: &Request<Vec<u8>>) -> Result<Response, ClientError> {
    connect(addr).send(request)
}

/// Like [`send`], but panics (with the precise error) unless a whole response came.
pub(crate) fn send_ok(addr: SocketAddr, request: &Request<Vec<u8>>) -> Response {
    send(addr, request).unwrap_or_else(|e| panic!("no response: {e}"))
}

/// Asserts a 200 with `{"instance_num":count}` and a request id.
pub(crate) fn assert_count(response: &Response, count: u64) {
    assert_eq!(response.status(), 200, "{}", response.text());
    assert_eq!(response.text(), format!("{{\"instance_num\":{count}}}"));
    response.request_id();
    let parsed =
        kms_proto::parse(http::StatusCode::OK, &response.header_map(), &response.body).unwrap();
    assert_eq!(parsed.count(), count);
}

/// Asserts the gateway's flat error shape with `code`, the request id in the body equal to
/// the header's, and returns the message.
pub(crate) fn assert_flat_error(response: &Response, status: u16, code: &str) -> String {
    assert_eq!(response.status(), status, "{}", response.text());
    let id = response.request_id();
    let json = response.json();
    assert_eq!(json["error_code"], code, "{json}");
    assert_eq!(json["request_id"], id.as_str(), "{json}");
    assert!(json.get("error").is_none(), "flat, not nested: {json}");
    let parsed = kms_proto::parse(
        http::StatusCode::from_u16(status).unwrap(),
        &response.header_map(),
        &response.body,
    )
    .unwrap_err();
    assert_eq!(parsed.code(), Some(code));
    json["error_msg"].as_str().unwrap().to_owned()
}

/// Asserts KMS's nested error shape with `code` (and a request id header), and returns the
/// message.
pub(crate) fn assert_nested_error(response: &Response, status: u16, code: &str) -> String {
    assert_eq!(response.status(), status, "{}", response.text());
    response.request_id();
    let json = response.json();
    assert_eq!(json["error"]["error_code"], code, "{json}");
    assert!(json.get("error_code").is_none(), "nested, not flat: {json}");
    let parsed = kms_proto::parse(
        http::StatusCode::from_u16(status).unwrap(),
        &response.header_map(),
        &response.body,
    )
    .unwrap_err();
    assert_eq!(parsed.code(), Some(code));
    json["error"]["error_msg"].as_str().unwrap().to_owned()
}

// ---------------------------------------------------------------------------------------
// Credential endpoints
// ---------------------------------------------------------------------------------------

/// The metadata service's session token path.
pub(crate) const METADATA_TOKEN_PATH: &str = "/meta-data/latest/api/token";
/// The metadata service's temporary credentials path.
pub(crate) const SECURITY_KEY_PATH: &str = "/openstack/latest/securitykey";
/// CCE pod identity's credentials path.
pub(crate) const POD_IDENTITY_PATH: &str = "/pod-identity/credentials";
/// What the metadata service says when the instance has no agency.
pub(crate) const NO_AGENCY: &str = "Please configure Cloud Service Agency first";

/// A request to `path` on the emulator at `url` with `headers` and `body`, and a `Host`.
pub(crate) fn plain_request(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Request<Vec<u8>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", endpoint(url).authority());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body.to_vec()).unwrap()
}

/// `PUT /meta-data/latest/api/token` asking for a session token of `ttl` (as sent).
pub(crate) fn metadata_token_request(url: &str, ttl: &str) -> Request<Vec<u8>> {
    plain_request(
        url,
        "PUT",
        METADATA_TOKEN_PATH,
        &[("x-metadata-token-ttl-seconds", ttl)],
        b"",
    )
}

/// `GET /openstack/latest/securitykey`, with `X-Metadata-Token` when given.
pub(crate) fn security_key_request(url: &str, token: Option<&str>) -> Request<Vec<u8>> {
    let headers: Vec<(&str, &str)> = token.map(|t| ("x-metadata-token", t)).into_iter().collect();
    plain_request(url, "GET", SECURITY_KEY_PATH, &headers, b"")
}

/// `POST /pod-identity/credentials` with body `{}`, and `Authorization` when given, as the
/// official SDKs send it.
pub(crate) fn pod_identity_request(url: &str, authorization: Option<&str>) -> Request<Vec<u8>> {
    let mut headers = vec![("content-type", "application/json; charset=utf-8")];
    headers.extend(authorization.map(|a| ("authorization", a)));
    plain_request(url, "POST", POD_IDENTITY_PATH, &headers, b"{}")
}

/// Issued temporary credentials, as a credential document gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issued {
    pub(crate) ak: String,
    pub(crate) sk: String,
    pub(crate) security_token: String,
    pub(crate) expires_at_text: String,
    pub(crate) expires_at: SystemTime,
}

impl Issued {
    /// Parses and checks a 200 credential document: its content type, exactly the four
    /// fields in the official order, the AK/SK/token alphabets and lengths, and the
    /// `expires_at` format.
    pub(crate) fn from_response(response: &Response) -> Self {
        assert_eq!(response.status(), 200, "{}", response.text());
        let content_type = response.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "content type {content_type:?}"
        );
        response.request_id();
        let text = response.text();
        assert!(
            text.starts_with(r#"{"credential":{"access":""#),
            "not the document's shape: {text}"
        );
        let json = response.json();
        let object = json.as_object().unwrap();
        assert_eq!(object.len(), 1, "{json}");
        let credential = json["credential"].as_object().unwrap();
        let keys: Vec<&str> = credential.keys().map(String::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, ["access", "expires_at", "secret", "securitytoken"]);
        let field = |name: &str| credential[name].as_str().unwrap().to_owned();
        let (ak, sk, security_token) = (field("access"), field("secret"), field("securitytoken"));
        // The official order, as written (serde_json's map would sort it).
        let positions: Vec<usize> = [
            "\"access\"",
            "\"secret\"",
            "\"securitytoken\"",
            "\"expires_at\"",
        ]
        .iter()
        .map(|k| text.find(k).unwrap())
        .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "order: {text}");
        assert_eq!(ak.len(), 20, "{ak}");
        assert!(
            ak.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
            "{ak}"
        );
        assert_eq!(sk.len(), 40, "{sk}");
        assert!(sk.bytes().all(|b| b.is_ascii_alphanumeric()), "{sk}");
        assert!(security_token.len() >= 200, "{security_token}");
        assert!(
            security_token.bytes().all(|b| b.is_ascii_graphic()),
            "{security_token}"
        );
        let expires_at_text = field("expires_at");
        let expires_at = parse_expires_at(&expires_at_text);
        Issued {
            ak,
            sk,
            security_token,
            expires_at_text,
            expires_at,
        }
    }

    /// The credentials to sign with.
    pub(crate) fn credentials(&self) -> Credentials {
        AkSk::new(&self.ak, &self.sk)
            .unwrap()
            .with_security_token(&self.security_token)
            .unwrap()
            .into()
    }
}

/// `2026-12-01T03:50:07.574000Z` (exactly: UTC, six fractional digits, `Z`) as a time.
pub(crate) fn parse_expires_at(text: &str) -> SystemTime {
    let b = text.as_bytes();
    let shape_ok = b.len() == 27
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            26 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    assert!(
        shape_ok,
        "expires_at {text:?} is not YYYY-MM-DDTHH:MM:SS.ffffffZ"
    );
    let num = |range: std::ops::Range<usize>| text[range].parse::<u64>().unwrap();
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    // Howard Hinnant's days_from_civil, for dates after 1970.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + num(11..13) * 3600 + num(14..16) * 60 + num(17..19);
    let micros = num(20..26);
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros)
}

/// `at`, rounded down to whole microseconds.
pub(crate) fn floor_micros(at: SystemTime) -> SystemTime {
    let since = at.duration_since(SystemTime::UNIX_EPOCH).unwrap();
    SystemTime::UNIX_EPOCH
        + Duration::from_secs(since.as_secs())
        + Duration::from_micros(u64::from(since.subsec_micros()))
}
