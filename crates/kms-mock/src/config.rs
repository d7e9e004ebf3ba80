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
    /// When the key stops being accepted (issued temporary credentials); `None`: never.
    pub(crate) expires_at: Option<SystemTime>,
    /// The signing algorithms the key may sign with; `None`: every one.
    pub(crate) algorithms: Option<Vec<kms_proto::SigningAlgorithm>>,
}

/// How the ECS metadata service behaves, when the emulator serves it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MetadataConfig {
    /// `GET /openstack/latest/securitykey` without `X-Metadata-Token` is refused.
    pub(crate) token_required: bool,
    /// `PUT /meta-data/latest/api/token` answers 404.
    pub(crate) v2_unavailable: bool,
    /// The instance has no agency: the security key is refused.
    pub(crate) no_agency: bool,
}

/// A project: its number of instances and the region IAM names it after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProjectEntry {
    pub(crate) count: u64,
    /// `None`: a project IAM knows by its id only (it is listed with its id as its name).
    pub(crate) region: Option<String>,
}

impl ProjectEntry {
    /// The name IAM gives the project `id`: its region, else its id.
    pub(crate) fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.region.as_deref().unwrap_or(id)
    }
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
/// [`BODY_READ_TIMEOUT`](crate::BODY_READ_TIMEOUT) (30 s) for a request body, no credential
/// endpoints (no ECS metadata, no CCE pod identity), and
/// [`DEFAULT_CREDENTIAL_LIFETIME`](crate::DEFAULT_CREDENTIAL_LIFETIME) (6 hours) for the
/// temporary credentials they would issue, and no IAM or STS (no users, identity providers
/// or OIDC providers), with [`DEFAULT_TOKEN_LIFETIME`](crate::DEFAULT_TOKEN_LIFETIME) (24
/// hours) for the tokens IAM would issue, and no echo operation.
#[derive(Clone)]
pub struct MockConfig {
    pub(crate) listen: SocketAddr,
    pub(crate) tls: bool,
    pub(crate) projects: HashMap<String, ProjectEntry>,
    pub(crate) aksks: HashMap<String, AkSkEntry>,
    pub(crate) tokens: HashMap<String, TokenEntry>,
    pub(crate) lockout: Lockout,
    pub(crate) throttle: Option<Throttle>,
    pub(crate) clock: Clock,
    pub(crate) max_connections: usize,
    pub(crate) body_read_timeout: Duration,
    pub(crate) metadata: Option<MetadataConfig>,
    pub(crate) pod_identity_token: Option<String>,
    pub(crate) credential_lifetime: Duration,
    /// Whether IAM and STS are served.
    pub(crate) iam: bool,
    /// Identity provider id → the OIDC id token it accepts.
    pub(crate) idps: HashMap<String, String>,
    /// OIDC provider URN → the id token STS accepts from it.
    pub(crate) oidc_providers: HashMap<String, String>,
    /// (domain name, user name) → password.
    pub(crate) users: HashMap<(String, String), String>,
    pub(crate) token_lifetime: Duration,
    /// Whether the echo operation (`POST /v1.0/{project_id}/kms/echo`) is served.
    pub(crate) echo: bool,
}

/// How many connections the emulator holds open at once unless
/// [`MockConfig::with_max_connections`] says otherwise.
///
/// Chosen to stay under the common soft limit of 1024 file descriptors per process only
/// together with the process's other descriptors; raise the limit (`ulimit -n`) for more.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// How long a request body may take to arrive once its head has, unless
/// [`MockConfig::with_body_read_timeout`] says otherwise; the same as
/// [`HEADER_READ_TIMEOUT`](crate::HEADER_READ_TIMEOUT) for the head.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long issued temporary credentials stay valid unless
/// [`MockConfig::with_credential_lifetime`] says otherwise: 6 hours.
pub const DEFAULT_CREDENTIAL_LIFETIME: Duration = Duration::from_secs(6 * 60 * 60);

/// How long the IAM tokens the emulator issues (password and federation tokens) stay valid
/// unless [`MockConfig::with_token_lifetime`] says otherwise: 24 hours, as IAM's do.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

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
            body_read_timeout: BODY_READ_TIMEOUT,
            metadata: None,
            pod_identity_token: None,
            credential_lifetime: DEFAULT_CREDENTIAL_LIFETIME,
            iam: false,
            idps: HashMap::new(),
            oidc_providers: HashMap::new(),
            users: HashMap::new(),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            echo: false,
        }
    }
}

impl fmt::Debug for MockConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Credentials are listed by their public half only.
        let mut aks: Vec<&String> = self.aksks.keys().collect();
        aks.sort();
        // Identity providers, OIDC providers and users by name, never their tokens or
        // passwords.
        let mut idps: Vec<&String> = self.idps.keys().collect();
        idps.sort();
        let mut providers: Vec<&String> = self.oidc_providers.keys().collect();
        providers.sort();
        let mut users: Vec<String> = self
            .users
            .keys()
            .map(|(domain, name)| format!("{domain}/{name}"))
            .collect();
        users.sort();
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
            .field("metadata", &self.metadata)
            // Whether it is served, never the token.
            .field("pod_identity", &self.pod_identity_token.is_some())
            .field("credential_lifetime", &self.credential_lifetime)
            .field("iam", &self.iam)
            .field("idps", &idps)
            .field("oidc_providers", &providers)
            .field("users", &users)
            .field("token_lifetime", &self.token_lifetime)
            .field("echo", &self.echo)
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

    /// A project and the number of instances it has (default: no projects). IAM
    /// ([`with_iam`](Self::with_iam)) knows it by its id only: it lists it with its id as
    /// its name, so no region name finds it; see [`with_project_in`](Self::with_project_in).
    /// Configuring the same id again replaces it.
    pub fn with_project(mut self, id: &str, count: u64) -> Self {
        self.projects.insert(
            id.to_owned(),
            ProjectEntry {
                count,
                region: None,
            },
        );
        self
    }

    /// A project, the number of instances it has, and the region it is in: IAM
    /// ([`with_iam`](Self::with_iam)) names it after the region, as it names every regional
    /// project, so `GET /v3/projects?name=<region>` lists it and a password token can be
    /// scoped to it by that name. Several projects may share a region name, to test a client
    /// that must refuse an ambiguous answer (IAM itself never lists two). Configuring the
    /// same id again replaces it.
    pub fn with_project_in(mut self, id: &str, count: u64, region: &str) -> Self {
        self.projects.insert(
            id.to_owned(),
            ProjectEntry {
                count,
                region: Some(region.to_owned()),
            },
        );
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
                expires_at: None,
                algorithms: None,
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
                expires_at: None,
                algorithms: None,
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

    /// Restricts an AK (configured before) to these signing algorithms: a request it signs
    /// correctly with another one gets the gateway's 401. Default: every algorithm
    /// (`SDK-HMAC-SHA256`, `SDK-HMAC-SM3`, `SDK-ECDSA-P256-SHA256`, `SDK-SM2-SM3`), each
    /// verified with the key it derives from the SK.
    pub fn with_aksk_algorithms(
        mut self,
        ak: &str,
        algorithms: &[kms_proto::SigningAlgorithm],
    ) -> Self {
        if let Some(entry) = self.aksks.get_mut(ak) {
            entry.algorithms = Some(algorithms.to_vec());
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
    /// `Retry-After` beyond it). Default: no throttling.
    ///
    /// A request is admitted when fewer than `limit` requests of its credential (AK or
    /// token) were admitted in the `per` before it, by the emulator's clock
    /// ([`with_clock`](Self::with_clock)): a sliding window, so no span of `per` ever holds
    /// more than `limit` admitted requests, even across what a fixed window would take as
    /// its edge. A refused request is not counted; its `Retry-After` is the whole seconds,
    /// rounded up, until the oldest admission leaves the window, after which a request is
    /// admitted again. For the service's own limit, see
    /// [`with_kms_throttle`](Self::with_kms_throttle).
    ///
    /// The emulator keeps the time of each admission for `per`, at most `limit` of them per
    /// credential: mind the memory of a large `limit` with a long `per` under heavy load.
    pub fn with_throttle(mut self, limit: u32, per: Duration) -> Self {
        self.throttle = Some(Throttle { limit, per });
        self
    }

    /// Throttles each credential as KMS throttles a user: 20 requests per second
    /// ([`Throttle::KMS`]), the limit the Data Encryption Workshop (DEW) API guide gives
    /// ("KMS allows each user about 20 requests per second"). Beyond it the emulator answers
    /// as the API gateway does: 429, the flat error `APIG.0308` ("The throttling threshold
    /// has been reached: policy user over ratelimit,limit:20,time:1 second") and
    /// `Retry-After: 1`. The same as `with_throttle(20, Duration::from_secs(1))`, and
    /// `kms-mock --throttle kms`. Default: no throttling (the emulator throttles only when
    /// asked).
    ///
    /// Where it differs from the service: the service counts per user, all of a user's
    /// access keys and tokens together, where the emulator counts each credential (each AK,
    /// each IAM token, each set of issued temporary credentials) on its own; and the
    /// gateway's counting method is not published, where the emulator's is exact, at most
    /// 20 admitted in any second (see [`with_throttle`](Self::with_throttle)). A client that
    /// stays under this limit here is under the documented one.
    pub fn with_kms_throttle(self) -> Self {
        self.with_throttle(Throttle::KMS.limit, Throttle::KMS.per)
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

    /// Also serves the ECS metadata service's credential endpoints on the emulator's own
    /// listener (default: not served; those paths then get the gateway's 404):
    ///
    /// - `PUT /meta-data/latest/api/token` with `X-Metadata-Token-Ttl-Seconds: N` (1 to
    ///   21600; anything else is 400): 200 with a fresh session token (`text/plain`), valid
    ///   for N seconds by the emulator's clock.
    /// - `GET /openstack/latest/securitykey`: 200 with a credential document
    ///   `{"credential":{"access","secret","securitytoken","expires_at"}}` of freshly issued
    ///   temporary credentials (see [`with_credential_lifetime`](Self::with_credential_lifetime)),
    ///   which the KMS path then accepts. With `X-Metadata-Token`, the token must be live,
    ///   else 401 (`text/plain`, without the "Please configure Cloud Service Agency first"
    ///   of [`with_metadata_no_agency`](Self::with_metadata_no_agency), so that a client
    ///   gets a new session token and tries again). Without it, the request is answered
    ///   (token-less access is allowed) unless
    ///   [`with_metadata_token_required`](Self::with_metadata_token_required).
    ///
    /// Another method on either path is 405 with `Allow`. Requests there are recorded, and
    /// scripted faults apply to them, exactly as on the KMS path.
    pub fn with_metadata(mut self) -> Self {
        self.metadata.get_or_insert_with(MetadataConfig::default);
        self
    }

    /// Serves the metadata service ([`with_metadata`](Self::with_metadata)) and refuses a
    /// security key request without `X-Metadata-Token` with the same 401 as a stale token
    /// (default: token-less requests are answered).
    pub fn with_metadata_token_required(mut self) -> Self {
        self.metadata
            .get_or_insert_with(MetadataConfig::default)
            .token_required = true;
        self
    }

    /// Serves the metadata service ([`with_metadata`](Self::with_metadata)) as an instance
    /// without the session token service: `PUT /meta-data/latest/api/token` answers 404, so
    /// clients must use the token-less path (default: the token service answers). Together
    /// with [`with_metadata_token_required`](Self::with_metadata_token_required) no client
    /// can get credentials.
    pub fn with_metadata_v2_unavailable(mut self) -> Self {
        self.metadata
            .get_or_insert_with(MetadataConfig::default)
            .v2_unavailable = true;
        self
    }

    /// Serves the metadata service ([`with_metadata`](Self::with_metadata)) as an instance
    /// with no agency bound: the security key request (with a valid session token or
    /// none) answers 401 with a body containing `Please configure Cloud Service Agency
    /// first`, the text the official SDKs look for to stop asking (default: an agency is
    /// bound and credentials are issued).
    pub fn with_metadata_no_agency(mut self) -> Self {
        self.metadata
            .get_or_insert_with(MetadataConfig::default)
            .no_agency = true;
        self
    }

    /// Also serves CCE pod identity (default: not served): `POST /pod-identity/credentials`
    /// with `Authorization: token` exactly and a JSON object as its body (the SDKs send
    /// `{}`) answers 200 with the same credential document as the metadata service, of
    /// freshly issued temporary credentials. Another or no `Authorization` is 401 with an
    /// IAM-shaped body (`{"error_code":"IAM.0001","error_msg":...}`); a body that is not a
    /// JSON object is 400 (`IAM.0011`); another method is 405 with `Allow: POST`.
    pub fn with_pod_identity_token(mut self, token: &str) -> Self {
        self.pod_identity_token = Some(token.to_owned());
        self
    }

    /// How long the temporary credentials the credential endpoints issue stay valid, from
    /// the emulator's clock when they are issued (default
    /// [`DEFAULT_CREDENTIAL_LIFETIME`](crate::DEFAULT_CREDENTIAL_LIFETIME), 6 hours). IAM's
    /// `securitytokens` and STS ([`with_iam`](Self::with_iam)) issue them for the shorter
    /// of this and the `duration_seconds` the request asks for (IAM's default 900, STS's
    /// 3600).
    ///
    /// Their `expires_at` is that time in whole microseconds (rounded down), kept to what
    /// RFC 3339 can write (a lifetime too large ends at 9999-12-31T23:59:59.999999Z). The
    /// KMS path accepts them, signed with their security token in `X-Security-Token`, on
    /// every configured project while the emulator's clock reads earlier than
    /// `expires_at`, and refuses them from then on with 401 `APIGW.0301` (`Incorrect IAM
    /// authentication information: security token expires, expires_at: ...`). A zero
    /// lifetime issues credentials that are already expired.
    pub fn with_credential_lifetime(mut self, lifetime: Duration) -> Self {
        self.credential_lifetime = lifetime;
        self
    }

    /// Also serves IAM and STS on the emulator's own listener (default: not served; those
    /// paths then get the gateway's 404 `APIGW.0101`). Every answer on these paths carries an
    /// `X-IAM-Trace-Id` (32 random hex digits); errors come in IAM's two shapes, Keystone's
    /// `{"error":{"code":401,"message","title"}}` and the flat
    /// `{"error_code":"IAM.0011","error_msg"}`:
    ///
    /// - `GET /v3/projects[?name=<region>]`: the projects ([`with_project_in`](Self::with_project_in)),
    ///   filtered by exact name, to a caller authenticated as on the KMS path: an AK/SK
    ///   signature (configured or issued credentials, with their security token; the
    ///   lockout counts failures here too), or an `X-Auth-Token` the emulator accepts
    ///   (configured or issued, of any scope). 401 Keystone-shaped otherwise.
    /// - `POST /v3/auth/tokens`: a password token for a [`with_user`](Self::with_user).
    /// - `POST /v3.0/OS-AUTH/id-token/tokens`: IAM federation, for a [`with_idp`](Self::with_idp).
    /// - `POST /v3.0/OS-CREDENTIAL/securitytokens`: temporary credentials for a token the
    ///   emulator accepts.
    /// - `POST /v5/agencies/assume-with-oidc`: STS, for a [`with_oidc_provider`](Self::with_oidc_provider).
    ///
    /// Tokens are valid for [`with_token_lifetime`](Self::with_token_lifetime) (24 hours);
    /// temporary credentials for the shorter of the `duration_seconds` asked for and
    /// [`with_credential_lifetime`](Self::with_credential_lifetime) (6 hours). The KMS path
    /// accepts both until they expire. Another method on these paths is 405 (Keystone's
    /// shape, with `Allow`). Requests there are recorded (the body, with any password or id
    /// token, never is), and scripted faults apply to them, exactly as on the KMS path; the
    /// gateway's throttle does not. The crate documentation lists every answer.
    pub fn with_iam(mut self) -> Self {
        self.iam = true;
        self
    }

    /// Serves IAM ([`with_iam`](Self::with_iam)) and an OIDC identity provider for IAM
    /// federation (default: none): `POST /v3.0/OS-AUTH/id-token/tokens` with `X-Idp-Id:
    /// idp_id` and the body `{"auth":{"id_token":{"id":id_token}}}` (optionally with a
    /// `scope` of a project by `id` or `name`, or of the domain) answers 201 with a fresh
    /// IAM token in `X-Subject-Token` (unscoped unless a scope is asked for), which
    /// `POST /v3.0/OS-CREDENTIAL/securitytokens` exchanges for temporary credentials. Another
    /// identity provider id is 404 `IAM.0004`, another token 401 `IAM.0001`. Repeatable,
    /// one token per identity provider (configuring one again replaces its token).
    pub fn with_idp(mut self, idp_id: &str, id_token: &str) -> Self {
        self.iam = true;
        self.idps.insert(idp_id.to_owned(), id_token.to_owned());
        self
    }

    /// Serves IAM and STS ([`with_iam`](Self::with_iam)) and an OIDC provider STS trusts
    /// (default: none): `POST /v5/agencies/assume-with-oidc` with `provider_urn` and
    /// `id_token` equal to these, for any `agency_urn`, answers 200 with temporary
    /// credentials (`{"credentials":{"access_key_id","secret_access_key","security_token","expiration"},...}`).
    /// Another provider URN is 404 `IAM.0004`, another token 401 `IAM.0001`. Repeatable, one
    /// token per provider (configuring one again replaces its token).
    pub fn with_oidc_provider(mut self, provider_urn: &str, id_token: &str) -> Self {
        self.iam = true;
        self.oidc_providers
            .insert(provider_urn.to_owned(), id_token.to_owned());
        self
    }

    /// Serves IAM ([`with_iam`](Self::with_iam)) and an IAM user of the account `domain`
    /// (default: none): `POST /v3/auth/tokens` with this domain name, user name and
    /// password answers 201 with a fresh token in `X-Subject-Token`, scoped to the project
    /// asked for by `id` or by `name` (a region name, as IAM allows), which the KMS path then
    /// accepts as `X-Auth-Token` for that project until it expires. Another password or user
    /// is 401 `{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}`.
    /// Every domain name names the emulator's one account. Repeatable (configuring a user
    /// again replaces the password).
    pub fn with_user(mut self, domain: &str, name: &str, password: &str) -> Self {
        self.iam = true;
        self.users
            .insert((domain.to_owned(), name.to_owned()), password.to_owned());
        self
    }

    /// How long the IAM tokens the emulator issues (password and federation tokens) stay
    /// valid, from the emulator's clock when they are issued (default
    /// [`DEFAULT_TOKEN_LIFETIME`](crate::DEFAULT_TOKEN_LIFETIME), 24 hours). Their
    /// `expires_at` is written as for credentials (whole microseconds, within RFC 3339's
    /// years); from then on the KMS path answers 401 `KMS.0303` and IAM refuses them. At most
    /// [`MAX_ISSUED_TOKENS`](crate::MAX_ISSUED_TOKENS) (10 000) are remembered, expired ones
    /// forgotten first.
    pub fn with_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Also serves an operation KMS does not have, for testing a client's own operations
    /// (a signed POST with a JSON body) end to end (default: not served; the path then gets
    /// the gateway's 404 `APIGW.0101`): `POST /v1.0/{project_id}/kms/echo`.
    ///
    /// It is checked exactly as ShowUserInstances is, in the same order and with the same
    /// answers: `Host`, the credentials (an IAM token, or an AK/SK signature verified by
    /// [`kms_proto::verify`] over the method, path, query, signed headers *and the body*,
    /// so a body changed after signing is 401 `APIGW.0301` `verify aksk signature fail`;
    /// the lockout, security tokens and the expiry of issued credentials included),
    /// `X-Project-Id` against the path, the throttle, then the project (403 `KMS.0307` for
    /// one not configured or not allowed to the AK). Then it answers 200
    /// `{"echo":<the body>}` when the body is a JSON object, and 400 with KMS's nested
    /// `{"error":{"error_code":"KMS.0202","error_msg":"Invalid request body: ..."}}` when
    /// it is not (empty, not JSON, or another JSON value).
    ///
    /// Requests there are recorded (the body's length, not the body: the answer echoes it),
    /// and scripted faults apply to them, exactly as on the ShowUserInstances path. Another
    /// method on the path is the gateway's 404, as for ShowUserInstances.
    pub fn with_echo(mut self) -> Self {
        self.echo = true;
        self
    }
}
