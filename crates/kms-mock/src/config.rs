//! What the emulator knows: projects, credentials, the gateway's limits.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::gateway::{Clock, Lockout, Throttle};

/// An AK/SK pair the emulator accepts.
#[derive(Clone)]
pub(crate) struct AkSkEntry {
    /// The SK, keyed for HMAC once: the emulator verifies many requests per AK.
    pub(crate) key: kms_proto::verify::PreparedKey,
    pub(crate) security_token: Option<String>,
    /// `None`: every configured project.
    pub(crate) projects: Option<Vec<String>>,
}

/// An IAM token the emulator accepts.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct TokenEntry {
    pub(crate) project: String,
    pub(crate) expires_at: Option<SystemTime>,
}

/// How the emulator is set up. Build it with the `with_*` methods, then start a
/// [`MockServer`](crate::MockServer) or [`BlockingMockServer`](crate::BlockingMockServer).
///
/// Defaults: listen on `127.0.0.1:0` (a free port), plain HTTP, no projects, no
/// credentials, lock an AK for 5 minutes after 5 failed signatures in a row, no throttling,
/// the system clock, at most [`DEFAULT_MAX_CONNECTIONS`] (1024) connections open at once,
/// and [`BODY_READ_TIMEOUT`](crate::BODY_READ_TIMEOUT) (30 s) for a request body.
#[derive(Clone)]
pub struct MockConfig {
    pub(crate) listen: SocketAddr,
    pub(crate) tls: bool,
    pub(crate) projects: HashMap<String, u64>,
    pub(crate) aksks: HashMap<String, AkSkEntry>,
    pub(crate) tokens: HashMap<String, TokenEntry>,
    pub(crate) lockout: Lockout,
    pub(crate) throttle: Option<Throttle>,
    pub(crate) clock: Clock,
    pub(crate) max_connections: usize,
    pub(crate) body_read_timeout: Duration,
}

/// How many connections the emulator holds open at once unless
/// [`MockConfig::with_max_connections`] says otherwise.
///
/// Chosen to stay under the common soft limit of 1024 file descriptors per process only
/// together with the process's other descriptors; raise the limit (`ulimit -n`) for more.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            projects: HashMap::new(),
            aksks: HashMap::new(),
            tokens: HashMap::new(),
            lockout: Lockout::default(),
            throttle: None,
            clock: Arc::new(SystemTime::now),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            body_read_timeout: crate::server::BODY_READ_TIMEOUT,
        }
    }
}

impl fmt::Debug for MockConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Credentials are listed by their public half only.
        let mut aks: Vec<&String> = self.aksks.keys().collect();
        aks.sort();
        f.debug_struct("MockConfig")
            .field("listen", &self.listen)
            .field("tls", &self.tls)
            .field("projects", &self.projects)
            .field("access_keys", &aks)
            .field("tokens", &self.tokens.len())
            .field("lockout_after", &self.lockout.after)
            .field("lockout_for", &self.lockout.duration)
            .field("throttle", &self.throttle)
            .field("max_connections", &self.max_connections)
            .field("body_read_timeout", &self.body_read_timeout)
            .finish()
    }
}

impl MockConfig {
    /// A configuration with the defaults.
    pub fn new() -> Self {
        MockConfig::default()
    }

    /// Listens on `addr` instead of `127.0.0.1:0`.
    pub fn with_listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Serves HTTPS with a certificate for `localhost`, `127.0.0.1` and `::1` issued by a CA
    /// generated at start-up; the server hands out the CA's PEM.
    pub fn with_tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// A project and the number of instances it has.
    pub fn with_project(mut self, id: &str, count: u64) -> Self {
        self.projects.insert(id.to_owned(), count);
        self
    }

    /// A permanent AK/SK pair, allowed on every configured project.
    pub fn with_aksk(mut self, ak: &str, sk: &str) -> Self {
        self.aksks.insert(
            ak.to_owned(),
            AkSkEntry {
                key: kms_proto::verify::PreparedKey::new(sk),
                security_token: None,
                projects: None,
            },
        );
        self
    }

    /// A temporary AK/SK pair: requests must carry (and sign) `X-Security-Token: token`.
    pub fn with_temporary_aksk(mut self, ak: &str, sk: &str, security_token: &str) -> Self {
        self.aksks.insert(
            ak.to_owned(),
            AkSkEntry {
                key: kms_proto::verify::PreparedKey::new(sk),
                security_token: Some(security_token.to_owned()),
                projects: None,
            },
        );
        self
    }

    /// Restricts an AK (configured before) to these projects; other projects get 403.
    pub fn with_aksk_projects(mut self, ak: &str, projects: &[&str]) -> Self {
        if let Some(entry) = self.aksks.get_mut(ak) {
            entry.projects = Some(projects.iter().map(|p| (*p).to_owned()).collect());
        }
        self
    }

    /// An IAM token valid for `project`.
    pub fn with_token(mut self, token: &str, project: &str) -> Self {
        self.tokens.insert(
            token.to_owned(),
            TokenEntry {
                project: project.to_owned(),
                expires_at: None,
            },
        );
        self
    }

    /// An IAM token valid for `project` until `expires_at` (the emulator's clock).
    pub fn with_expiring_token(
        mut self,
        token: &str,
        project: &str,
        expires_at: SystemTime,
    ) -> Self {
        self.tokens.insert(
            token.to_owned(),
            TokenEntry {
                project: project.to_owned(),
                expires_at: Some(expires_at),
            },
        );
        self
    }

    /// Locks an AK for `duration` after `failures` failed signatures in a row (defaults: 5
    /// and 5 minutes, as the gateway does). `failures` = 0 disables the lockout. The
    /// duration is measured by the emulator's clock ([`with_clock`](Self::with_clock)).
    pub fn with_lockout(mut self, failures: u32, duration: Duration) -> Self {
        self.lockout = Lockout {
            after: failures,
            duration,
        };
        self
    }

    /// Throttles each credential to `limit` requests per `per` (429 `APIG.0308` with
    /// `Retry-After` beyond it). Default: no throttling. Each credential's window starts
    /// with its first request and is measured by the emulator's clock
    /// ([`with_clock`](Self::with_clock)).
    pub fn with_throttle(mut self, limit: u32, per: Duration) -> Self {
        self.throttle = Some(Throttle { limit, per });
        self
    }

    /// Replaces the emulator's clock (default: [`SystemTime::now`]), the one clock of every
    /// decision it makes by time: signature windows, token expiry, lockouts, throttle
    /// windows, and the time requests are recorded at ([`RecordedRequest::received_at`](crate::RecordedRequest::received_at)).
    /// It is read once per request. A test can move it instead of sleeping.
    ///
    /// A clock that goes backwards never ends a lockout or a throttle window early: time
    /// before a window began counts as none, so a step back lengthens the window by the
    /// step. No time or duration, however large, makes the emulator panic.
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Holds at most `n` connections open at once (default [`DEFAULT_MAX_CONNECTIONS`],
    /// 1024), so that a flood of clients cannot exhaust the process's file descriptors.
    ///
    /// Connections beyond the cap are not refused: the emulator stops accepting until one
    /// closes, so they wait in the kernel's listen backlog (their TCP handshake completes,
    /// but nothing is read or answered); clients beyond the backlog see their connection
    /// attempts retried or timed out by their own TCP stack. `0` is taken as 1.
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// How long a request body may take to arrive once its head has (default
    /// [`BODY_READ_TIMEOUT`](crate::BODY_READ_TIMEOUT), 30 s). The deadline covers the
    /// whole body, so a client sending a byte now and then cannot stretch it; a request
    /// whose body is late is answered 408 (flat `APIGW.0201`, with `Connection: close`)
    /// and its connection is closed. Tests set a short one.
    pub fn with_body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }
}
