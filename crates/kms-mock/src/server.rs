//! Running the emulator: from async tests, from blocking tests, and for the binary.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::task::JoinSet;

use crate::config::MockConfig;
use crate::faults::FaultScript;
use crate::io::{FaultIo, OutputControl};
use crate::record::RecordedRequest;
use crate::service::State;
use crate::tls::{self, TlsSetup};

/// The largest request head (request line and headers) accepted, in bytes; hyper answers
/// 431 beyond it.
pub const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// How long a connection may take to send a request head before it is dropped.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What both kinds of server handle expose.
#[derive(Clone)]
struct Shared {
    state: Arc<State>,
    addr: SocketAddr,
    ca_pem: Option<String>,
}

impl Shared {
    fn url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }
}

/// A running emulator, for async tests. Stops when [`shutdown`](Self::shutdown) is awaited
/// or when it is dropped.
pub struct MockServer {
    shared: Shared,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("url", &self.url())
            .finish()
    }
}

macro_rules! accessors {
    () => {
        /// The base URL clients use: `http://127.0.0.1:<port>`, or `https://...` with TLS.
        pub fn url(&self) -> String {
            self.shared.url()
        }

        /// The address it listens on.
        pub fn local_addr(&self) -> SocketAddr {
            self.shared.addr
        }

        /// The PEM of the CA that issued its certificate, when it serves HTTPS.
        pub fn ca_pem(&self) -> Option<&str> {
            self.shared.ca_pem.as_deref()
        }

        /// The requests received so far, oldest first, as far as the recorder's bounds
        /// allow: the most recent ones within [`MAX_RECORDED_REQUESTS`](crate::MAX_RECORDED_REQUESTS)
        /// (10 000) requests and [`MAX_RECORDED_BYTES`](crate::MAX_RECORDED_BYTES) (8 MiB);
        /// older ones are forgotten first.
        ///
        /// A request counts as its path and query, its request id, and its header names
        /// and values (each value held in an allocation of its own), plus an estimate of
        /// 256 bytes per request and 128 per header for the structures that hold them
        /// (close to what they really take): so about 530 requests with 15 KiB heads, or
        /// about 6 000 of this workspace's clients' requests (1.4 KiB each, as counted).
        /// Bodies are not kept, only their lengths.
        pub fn requests(&self) -> Vec<RecordedRequest> {
            self.shared.state.recorder.snapshot()
        }

        /// Forgets the requests recorded so far.
        pub fn clear_requests(&self) {
            self.shared.state.recorder.clear()
        }

        /// How many connections have been accepted so far.
        pub fn connections(&self) -> u64 {
            self.shared.state.connections.load(Ordering::Relaxed)
        }

        /// How many connections are open now: each counts from the moment it is accepted
        /// until the emulator closes its socket (when it answers with `Connection: close`,
        /// times out, or notices that the client closed it).
        ///
        /// The emulator notices a client's close only when it next reads, and accepts
        /// connections in batches under load: a client that closes connections itself (a
        /// timeout, a body it stopped reading) may for a moment be counted for more than it
        /// holds. With a client that closes nothing, the count is exact.
        pub fn open_connections(&self) -> u64 {
            self.shared.state.open_connections.load(Ordering::Relaxed)
        }

        /// The most connections that have been open at once since the emulator started, as
        /// [`open_connections`](Self::open_connections) counts them; never more than
        /// [`MockConfig::with_max_connections`] allows.
        pub fn peak_open_connections(&self) -> u64 {
            self.shared
                .state
                .peak_open_connections
                .load(Ordering::Relaxed)
        }

        /// How many temporary credentials the credential endpoints
        /// ([`MockConfig::with_metadata`], [`MockConfig::with_pod_identity_token`]) and IAM
        /// and STS ([`MockConfig::with_iam`]) have issued since the emulator started: one per
        /// credential document (or STS answer) they sent. A scripted [`Fault`](crate::Fault)
        /// that replaces the answer (a status, a closed connection...) issues none; one that
        /// only delays or cuts short the answer ([`Fault::DelayHeaders`](crate::Fault::DelayHeaders),
        /// [`Fault::StallBody`](crate::Fault::StallBody), [`Fault::CloseMidBody`](crate::Fault::CloseMidBody))
        /// does. Cheaper than counting [`requests`](Self::requests), and not bounded by the
        /// recorder. 0 when none of these is served.
        pub fn issued_credentials(&self) -> u64 {
            self.shared.state.issued.count()
        }

        /// How many IAM tokens IAM ([`MockConfig::with_iam`]) has issued since the emulator
        /// started: one per password or federation token it sent (in `X-Subject-Token`),
        /// counted as [`issued_credentials`](Self::issued_credentials) counts credentials (a
        /// fault that replaces the answer issues none). Not bounded by the recorder; 0 when
        /// IAM is not served.
        pub fn issued_tokens(&self) -> u64 {
            self.shared.state.issued.token_count()
        }

        /// The faults scripted for the coming requests.
        pub fn faults(&self) -> &FaultScript {
            &self.shared.state.faults
        }
    };
}

impl MockServer {
    /// Binds (default `127.0.0.1:0`) and starts serving on the current tokio runtime.
    ///
    /// # Errors
    /// The address cannot be bound, or the TLS set-up failed.
    pub async fn start(config: MockConfig) -> io::Result<Self> {
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let tls = if config.tls {
            Some(tls::generate()?)
        } else {
            None
        };
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        let state = Arc::new(State::new(config));
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&state), tls, stopped));
        Ok(MockServer {
            shared: Shared {
                state,
                addr,
                ca_pem,
            },
            stop: Some(stop),
            task: Some(task),
        })
    }

    accessors!();

    /// Stops accepting, closes every connection, and waits until it is done.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A running emulator on a thread of its own, for blocking tests. Stops when dropped.
pub struct BlockingMockServer {
    shared: Shared,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for BlockingMockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingMockServer")
            .field("url", &self.url())
            .finish()
    }
}

impl BlockingMockServer {
    /// Starts the emulator on a new thread with its own single-threaded tokio runtime.
    ///
    /// # Errors
    /// The runtime could not be built, the address cannot be bound, or TLS failed.
    pub fn start(config: MockConfig) -> io::Result<Self> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("kms-mock".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match MockServer::start(config).await {
                        Ok(server) => {
                            let _ = ready_tx.send(Ok(server.shared.clone()));
                            let _ = stopped.await;
                            server.shutdown().await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })?;
        let shared = ready_rx
            .recv()
            .map_err(|_| io::Error::other("kms-mock: the server thread died while starting"))??;
        Ok(BlockingMockServer {
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    accessors!();
}

impl Drop for BlockingMockServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<State>,
    tls: Option<TlsSetup>,
    mut stopped: oneshot::Receiver<()>,
) {
    // One permit per open connection, taken before `accept`: at the cap the emulator stops
    // accepting, so further clients wait in the kernel's backlog instead of costing a file
    // descriptor each here.
    let slots = Arc::new(Semaphore::new(
        state
            .config
            .max_connections
            .clamp(1, Semaphore::MAX_PERMITS),
    ));
    let mut slot: Option<OwnedSemaphorePermit> = None;
    // Dropping the set when the loop ends aborts every connection still open.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            permit = Arc::clone(&slots).acquire_owned(), if slot.is_none() => match permit {
                Ok(permit) => slot = Some(permit),
                // The semaphore is never closed; should it be, stop rather than spin.
                Err(_) => break,
            },
            accepted = listener.accept(), if slot.is_some() => {
                let Ok((stream, _peer)) = accepted else {
                    // Out of file descriptors and the like: back off rather than spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let Some(permit) = slot.take() else { continue };
                let id = state.connections.fetch_add(1, Ordering::Relaxed) + 1;
                let stream = Tracked::new(stream, Arc::clone(&state), permit);
                let acceptor = tls.as_ref().map(|t| t.acceptor.clone());
                connections.spawn(serve_connection(stream, id, Arc::clone(&state), acceptor));
            }
            // Reap finished connections (a panicking handler ends here, contained).
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

/// An accepted socket that counts itself in [`State::open_connections`] for as long as it
/// exists, wherever it ends up (inside TLS, inside hyper, in an aborted task).
struct Tracked {
    // Declared first so that it is dropped, and the socket closed, before the count goes
    // down: a test that sees the count fall can rely on the socket being closed.
    stream: TcpStream,
    _open: OpenConnection,
}

/// One unit of [`State::open_connections`] and its slot under the cap, given back when
/// dropped (the count first, so that it never exceeds the cap).
struct OpenConnection {
    state: Arc<State>,
    _slot: OwnedSemaphorePermit,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.state.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Tracked {
    fn new(stream: TcpStream, state: Arc<State>, slot: OwnedSemaphorePermit) -> Self {
        let open = state.open_connections.fetch_add(1, Ordering::Relaxed) + 1;
        state
            .peak_open_connections
            .fetch_max(open, Ordering::Relaxed);
        Tracked {
            stream,
            _open: OpenConnection { state, _slot: slot },
        }
    }
}

impl tokio::io::AsyncRead for Tracked {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Tracked {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

async fn serve_connection(
    stream: Tracked,
    id: u64,
    state: Arc<State>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
) {
    let _ = stream.stream.set_nodelay(true);
    match acceptor {
        None => serve_http(stream, id, state).await,
        Some(acceptor) => {
            let handshake = tokio::time::timeout(HEADER_READ_TIMEOUT, acceptor.accept(stream));
            if let Ok(Ok(tls_stream)) = handshake.await {
                serve_http(tls_stream, id, state).await;
            }
        }
    }
}

async fn serve_http<S>(stream: S, id: u64, state: Arc<State>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let output: OutputControl = Arc::new(Mutex::new(Default::default()));
    let io = TokioIo::new(FaultIo::new(stream, Arc::clone(&output)));
    let service = service_fn(move |request| {
        let state = Arc::clone(&state);
        let output = Arc::clone(&output);
        async move { Ok::<_, std::convert::Infallible>(state.handle(request, id, &output).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_REQUEST_HEAD)
        .serve_connection(io, service)
        .await;
}
