//! Loopback endpoints that cannot be reached, without an external address: a black hole
//! (a TCP connect that never completes) and a listener that never finishes a TLS handshake.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

/// A port on 127.0.0.1 where a TCP connect never completes (nor fails): the "firewall that
/// drops packets" of a real network, made on loopback.
///
/// A listener with the smallest backlog, never accepting, its accept queue filled: Linux
/// then drops every further SYN, so a client's connect waits until its own timeout.
pub struct BlackHole {
    addr: SocketAddr,
    // Kept open: while they are, the queue stays full.
    _listener: tokio::net::TcpListener,
    _queued: Vec<TcpStream>,
}

impl BlackHole {
    /// Makes the black hole, and checks that a connect to it does not complete.
    ///
    /// # Errors
    /// The socket cannot be made, or this system completes connects beyond the backlog.
    pub fn start() -> io::Result<Self> {
        // tokio's socket is the one in the workspace's dependencies that takes a backlog.
        let _runtime = crate::runtime().enter();
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let listener = socket.listen(0)?;
        let addr = listener.local_addr()?;
        let mut queued = Vec::new();
        // Bounded: Linux queues backlog + 1 connections; a few more cannot be needed.
        for _ in 0..8 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(stream) => queued.push(stream),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return Ok(BlackHole {
                        addr,
                        _listener: listener,
                        _queued: queued,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other(
            "connects to a full listener still complete here: no black hole on this system",
        ))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `https://127.0.0.1:<port>`.
    pub fn https_url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

/// A TCP listener on 127.0.0.1 that accepts every connection and never writes a byte: a
/// TLS handshake with it never completes (its client hello gets no answer). It stops when
/// dropped.
pub struct SilentListener {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl SilentListener {
    /// Starts the listener.
    ///
    /// # Errors
    /// The listener cannot be bound.
    pub fn start() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (Arc::clone(&connections), Arc::clone(&stop));
        thread::spawn(move || {
            // Bounded: the loop ends when the listener is dropped.
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        count.fetch_add(1, Ordering::Relaxed);
                        let stopped = Arc::clone(&stopped);
                        // Read and discard until the client gives up or the listener stops.
                        thread::spawn(move || {
                            let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
                            let mut buf = [0u8; 4096];
                            while !stopped.load(Ordering::Relaxed) {
                                match stream.read(&mut buf) {
                                    Ok(0) => break,
                                    Ok(_) => {}
                                    Err(e)
                                        if matches!(
                                            e.kind(),
                                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                                        ) => {}
                                    Err(_) => break,
                                }
                            }
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(SilentListener {
            addr,
            connections,
            stop,
        })
    }

    /// `https://127.0.0.1:<port>`.
    pub fn https_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// How many connections it accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for SilentListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
