//! A loopback HTTP `CONNECT` proxy, to prove a transport really goes through the proxy it
//! is given (and authenticates to it).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

/// A `CONNECT` proxy on 127.0.0.1 that tunnels to any target and counts tunnels.
///
/// With credentials, a `CONNECT` without the matching `Proxy-Authorization: Basic ...` gets
/// 407. The proxy stops when dropped.
pub struct ConnectProxy {
    port: u16,
    tunnels: Arc<AtomicUsize>,
    targets: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl ConnectProxy {
    /// Starts the proxy; `basic` is the expected `Proxy-Authorization` value, if any.
    ///
    /// # Errors
    /// The listener cannot be bound.
    pub fn start(basic: Option<String>) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let tunnels = Arc::new(AtomicUsize::new(0));
        let targets = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (t, g, s) = (
            Arc::clone(&tunnels),
            Arc::clone(&targets),
            Arc::clone(&stop),
        );
        thread::spawn(move || {
            // Bounded: the loop ends when the proxy is dropped.
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let (t, g, basic) = (Arc::clone(&t), Arc::clone(&g), basic.clone());
                        thread::spawn(move || {
                            let _ = tunnel(client, basic.as_deref(), &t, &g);
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(ConnectProxy {
            port,
            tunnels,
            targets,
            stop,
        })
    }

    /// `http://127.0.0.1:<port>`, with `user:password@` when given.
    pub fn url(&self, userinfo: Option<&str>) -> String {
        match userinfo {
            Some(u) => format!("http://{u}@127.0.0.1:{}", self.port),
            None => format!("http://127.0.0.1:{}", self.port),
        }
    }

    /// How many tunnels were opened.
    pub fn tunnels(&self) -> usize {
        self.tunnels.load(Ordering::Relaxed)
    }

    /// The `host:port` targets of the `CONNECT` requests received.
    pub fn targets(&self) -> Vec<String> {
        self.targets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn tunnel(
    client: TcpStream,
    basic: Option<&str>,
    tunnels: &AtomicUsize,
    targets: &Mutex<Vec<String>>,
) -> io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or("").to_owned(),
    );
    let mut authorized = basic.is_none();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("proxy-authorization")
        {
            authorized = basic.is_some_and(|b| value.trim() == b);
        }
    }
    let mut client_w = client.try_clone()?;
    if method != "CONNECT" {
        client_w.write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")?;
        return Ok(());
    }
    targets
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(target.clone());
    if !authorized {
        client_w.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic\r\ncontent-length: 0\r\n\r\n")?;
        return Ok(());
    }
    let upstream = TcpStream::connect(&target)?;
    tunnels.fetch_add(1, Ordering::Relaxed);
    client_w.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")?;
    client.set_read_timeout(None)?;
    // Bytes the client sent after the CONNECT head are in the reader's buffer.
    let buffered = reader.buffer().to_vec();
    let mut up_w = upstream.try_clone()?;
    up_w.write_all(&buffered)?;
    let mut up_r = upstream.try_clone()?;
    let down = thread::spawn(move || {
        let _ = io::copy(&mut up_r, &mut client_w);
        let _ = client_w.shutdown(Shutdown::Write);
    });
    let mut client_r = client;
    let _ = copy_until_closed(&mut client_r, &mut up_w);
    let _ = up_w.shutdown(Shutdown::Write);
    let _ = down.join();
    Ok(())
}

fn copy_until_closed(from: &mut TcpStream, to: &mut TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(buf.get(..n).unwrap_or_default())?;
    }
}
