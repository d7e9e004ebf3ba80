//! The command line of the `kms-mock` binary, shared with `kms mock`. Only with the `cli`
//! feature, so that the library builds without clap.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::Parser;

use crate::{MockConfig, MockServer};

/// Run a local emulator of Huawei Cloud KMS ShowUserInstances.
///
/// Prints `listening on <url>` as its first line on stdout (and `ca certificate: <path>`
/// with --tls, then one `credentials: ...` line per credential endpoint served, then an
/// `iam: ...` and an `sts: ...` line with --iam, then a `clock: ...` line with a non-zero
/// --clock-offset), then serves until killed. The credentials, tokens and passwords given
/// here are test values the emulator accepts, not real ones; it never prints them.
#[derive(Clone, Parser)]
#[command(name = "kms-mock", version)]
#[command(group(clap::ArgGroup::new("credential_endpoint").multiple(true)))]
#[command(group(clap::ArgGroup::new("iam_endpoint").multiple(true)))]
pub struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// Serve HTTPS with a certificate from a CA generated at start-up.
    #[arg(long)]
    pub tls: bool,

    /// Where to write the CA certificate (PEM) with --tls. Default: a file in the
    /// temporary directory.
    #[arg(long, value_name = "PATH", requires = "tls")]
    pub ca_out: Option<PathBuf>,

    /// A project and its number of instances, and the region IAM names it after (with
    /// --iam); repeatable. Several projects may share a region.
    #[arg(long = "project", value_name = "ID=COUNT[@REGION]", value_parser = parse_project)]
    pub projects: Vec<(String, u64, Option<String>)>,

    /// An access key id to accept (with --sk).
    #[arg(long, value_name = "AK", requires = "sk")]
    pub ak: Option<String>,

    /// The secret key of --ak.
    #[arg(long, value_name = "SK", requires = "ak")]
    pub sk: Option<String>,

    /// Makes --ak a temporary credential that must carry this X-Security-Token.
    #[arg(long, value_name = "TOKEN", requires = "ak")]
    pub security_token: Option<String>,

    /// Restricts --ak to these signing algorithms (comma-separated wire names, any case:
    /// SDK-HMAC-SHA256, SDK-HMAC-SM3, SDK-ECDSA-P256-SHA256, SDK-SM2-SM3). Default: all.
    #[arg(long, value_name = "NAMES", requires = "ak", value_parser = parse_algorithms)]
    pub signing_algorithms: Option<SigningAlgorithms>,

    /// An IAM token to accept for a project; repeatable.
    #[arg(long = "token", value_name = "TOKEN@PROJECT", value_parser = Secret(parse_token))]
    pub tokens: Vec<(String, String)>,

    /// Lock an AK after this many failed signatures in a row (0: never).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub lockout_after: u32,

    /// How long a locked AK stays locked.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub lockout_seconds: u64,

    /// Throttle each credential to N requests in any SECONDS (429 APIG.0308 with
    /// Retry-After beyond), or `kms`: as the service does, 20 requests per second
    /// (--throttle 20/1). Default: no throttling.
    #[arg(long, value_name = "N/SECONDS|kms", value_parser = parse_throttle)]
    pub throttle: Option<(u32, u64)>,

    /// Hold at most N connections open at once; further ones wait in the listen backlog.
    #[arg(long, value_name = "N", default_value_t = crate::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Also serve the ECS metadata service: PUT /meta-data/latest/api/token and
    /// GET /openstack/latest/securitykey, which issues temporary credentials.
    #[arg(long, group = "credential_endpoint")]
    pub metadata: bool,

    /// Also serve CCE pod identity: POST /pod-identity/credentials with this exact
    /// Authorization issues temporary credentials.
    #[arg(long, value_name = "TOKEN", group = "credential_endpoint", value_parser = Secret(parse_pod_token))]
    pub pod_identity_token: Option<String>,

    /// How long issued temporary credentials stay valid (for IAM and STS: at most; they
    /// issue the duration asked for when shorter). Default: 21600 (6 hours).
    #[arg(
        long,
        value_name = "SECONDS",
        requires = "credential_endpoint",
        value_parser = parse_lifetime
    )]
    pub credential_lifetime: Option<u64>,

    /// Also serve IAM and STS: GET /v3/projects (signed or with a token), POST
    /// /v3/auth/tokens (password tokens), POST /v3.0/OS-AUTH/id-token/tokens (federation),
    /// POST /v3.0/OS-CREDENTIAL/securitytokens and POST /v5/agencies/assume-with-oidc
    /// (temporary credentials). Implied by --idp, --oidc-provider and --user.
    #[arg(long, groups = ["credential_endpoint", "iam_endpoint"])]
    pub iam: bool,

    /// An identity provider whose OIDC id token IAM federation accepts (X-Idp-Id: IDP_ID);
    /// repeatable.
    #[arg(
        long = "idp",
        value_name = "IDP_ID=ID_TOKEN",
        groups = ["credential_endpoint", "iam_endpoint"],
        value_parser = Secret(parse_idp)
    )]
    pub idps: Vec<(String, String)>,

    /// An OIDC provider whose id token STS accepts, for any agency; repeatable.
    #[arg(
        long = "oidc-provider",
        value_name = "PROVIDER_URN=ID_TOKEN",
        groups = ["credential_endpoint", "iam_endpoint"],
        value_parser = Secret(parse_oidc_provider)
    )]
    pub oidc_providers: Vec<(String, String)>,

    /// An IAM user whose password gets tokens at POST /v3/auth/tokens; repeatable.
    #[arg(
        long = "user",
        value_name = "DOMAIN/NAME=PASSWORD",
        groups = ["credential_endpoint", "iam_endpoint"],
        value_parser = Secret(parse_user)
    )]
    pub users: Vec<(String, String, String)>,

    /// How long the IAM tokens issued stay valid. Default: 86400 (24 hours).
    #[arg(
        long,
        value_name = "SECONDS",
        requires = "iam_endpoint",
        value_parser = parse_lifetime
    )]
    pub token_lifetime: Option<u64>,

    /// Run the emulator's clock SECONDS ahead of this machine's (negative: behind), to see
    /// what a client does with a skewed clock; at most 10 years (315360000) either way.
    ///
    /// It is the one clock of every decision the emulator makes by time: the 15-minute
    /// signature window and the server time a "signature expired" 401 names, token and
    /// credential expiry, lockouts, throttle windows. With --clock-offset 1200, a request
    /// signed with this machine's time is refused 401 APIGW.0301 "calc aksk signature
    /// fail:signature expired, signature time:(its X-Sdk-Date),server time:(20 minutes
    /// later)", as the service refuses a client whose clock is 20 minutes behind; an offset
    /// of 900 or less leaves a fresh signature within the window.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 0,
        allow_hyphen_values = true,
        value_parser = parse_clock_offset
    )]
    pub clock_offset: i64,
}

impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets (SK, tokens, passwords) by whether they are set, never their values.
        let idps: Vec<&String> = self.idps.iter().map(|(idp, _)| idp).collect();
        let providers: Vec<&String> = self.oidc_providers.iter().map(|(urn, _)| urn).collect();
        let users: Vec<String> = self
            .users
            .iter()
            .map(|(domain, name, _)| format!("{domain}/{name}"))
            .collect();
        let tokens: Vec<&String> = self.tokens.iter().map(|(_, project)| project).collect();
        f.debug_struct("Args")
            .field("listen", &self.listen)
            .field("tls", &self.tls)
            .field("ca_out", &self.ca_out)
            .field("projects", &self.projects)
            .field("ak", &self.ak)
            .field("sk", &self.sk.is_some())
            .field("security_token", &self.security_token.is_some())
            .field("token_projects", &tokens)
            .field("lockout_after", &self.lockout_after)
            .field("lockout_seconds", &self.lockout_seconds)
            .field("throttle", &self.throttle)
            .field("max_connections", &self.max_connections)
            .field("metadata", &self.metadata)
            .field("pod_identity", &self.pod_identity_token.is_some())
            .field("credential_lifetime", &self.credential_lifetime)
            .field("iam", &self.iam)
            .field("idps", &idps)
            .field("oidc_providers", &providers)
            .field("users", &users)
            .field("token_lifetime", &self.token_lifetime)
            .field("clock_offset", &self.clock_offset)
            .finish()
    }
}

impl Args {
    /// The emulator configuration these arguments describe.
    pub fn config(&self) -> MockConfig {
        let mut config = MockConfig::new()
            .with_listen(self.listen)
            .with_lockout(
                self.lockout_after,
                Duration::from_secs(self.lockout_seconds),
            )
            .with_max_connections(self.max_connections);
        if self.tls {
            config = config.with_tls();
        }
        for (id, count, region) in &self.projects {
            config = match region {
                Some(region) => config.with_project_in(id, *count, region),
                None => config.with_project(id, *count),
            };
        }
        if let (Some(ak), Some(sk)) = (&self.ak, &self.sk) {
            config = match &self.security_token {
                Some(token) => config.with_temporary_aksk(ak, sk, token),
                None => config.with_aksk(ak, sk),
            };
            if let Some(SigningAlgorithms(algorithms)) = &self.signing_algorithms {
                config = config.with_aksk_algorithms(ak, algorithms);
            }
        }
        for (token, project) in &self.tokens {
            config = config.with_token(token, project);
        }
        if let Some((limit, secs)) = self.throttle {
            config = config.with_throttle(limit, Duration::from_secs(secs));
        }
        if self.metadata {
            config = config.with_metadata();
        }
        if let Some(token) = &self.pod_identity_token {
            config = config.with_pod_identity_token(token);
        }
        if let Some(secs) = self.credential_lifetime {
            config = config.with_credential_lifetime(Duration::from_secs(secs));
        }
        if self.iam {
            config = config.with_iam();
        }
        for (idp, token) in &self.idps {
            config = config.with_idp(idp, token);
        }
        for (urn, token) in &self.oidc_providers {
            config = config.with_oidc_provider(urn, token);
        }
        for (domain, name, password) in &self.users {
            config = config.with_user(domain, name, password);
        }
        if let Some(secs) = self.token_lifetime {
            config = config.with_token_lifetime(Duration::from_secs(secs));
        }
        if self.clock_offset != 0 {
            let offset = self.clock_offset;
            config = config.with_clock(move || shifted(SystemTime::now(), offset));
        }
        config
    }

    /// The start-up line that says how far the emulator's clock is from this machine's;
    /// none without an offset.
    fn clock_line(&self) -> Option<String> {
        let offset = self.clock_offset;
        (offset != 0).then(|| {
            format!(
                "clock: {} s {} this machine's (--clock-offset {offset}): requests signed \
                 with this machine's time are {}",
                offset.unsigned_abs(),
                if offset > 0 { "ahead of" } else { "behind" },
                if offset.unsigned_abs() > kms_proto::verify::MAX_CLOCK_SKEW.as_secs() {
                    "refused 401 APIGW.0301 (signature expired)"
                } else {
                    "accepted (within the 15-minute signature window)"
                },
            )
        })
    }

    /// Whether IAM and STS are served.
    fn serves_iam(&self) -> bool {
        self.iam
            || !self.idps.is_empty()
            || !self.oidc_providers.is_empty()
            || !self.users.is_empty()
    }

    /// The start-up lines that say where IAM and STS are served and for how many users and
    /// providers (never their tokens or passwords), for the emulator at `url`.
    fn iam_lines(&self, url: &str) -> Vec<String> {
        if !self.serves_iam() {
            return Vec::new();
        }
        let token_lifetime = self
            .token_lifetime
            .unwrap_or(crate::DEFAULT_TOKEN_LIFETIME.as_secs());
        let credential_lifetime = self
            .credential_lifetime
            .unwrap_or(crate::DEFAULT_CREDENTIAL_LIFETIME.as_secs());
        vec![
            format!(
                "iam: IAM at {url} (projects at /v3/projects, password tokens for {} users at \
                 /v3/auth/tokens, federation with {} identity providers at \
                 /v3.0/OS-AUTH/id-token/tokens, credentials at \
                 /v3.0/OS-CREDENTIAL/securitytokens), tokens valid {token_lifetime} s",
                self.users.len(),
                self.idps.len(),
            ),
            format!(
                "sts: STS at {url}/v5/agencies/assume-with-oidc for {} OIDC providers, \
                 credentials valid up to {credential_lifetime} s",
                self.oidc_providers.len(),
            ),
        ]
    }

    /// The start-up lines that say which credential endpoints are served (never the pod
    /// identity token), for the emulator at `url`.
    fn credential_lines(&self, url: &str) -> Vec<String> {
        let lifetime = self
            .credential_lifetime
            .unwrap_or(crate::DEFAULT_CREDENTIAL_LIFETIME.as_secs());
        let mut lines = Vec::new();
        if self.metadata {
            lines.push(format!(
                "credentials: ECS metadata at {url}/openstack/latest/securitykey \
                 (session tokens at {url}/meta-data/latest/api/token), valid {lifetime} s"
            ));
        }
        if self.pod_identity_token.is_some() {
            lines.push(format!(
                "credentials: CCE pod identity at {url}/pod-identity/credentials \
                 (Authorization: the --pod-identity-token value), valid {lifetime} s"
            ));
        }
        lines
    }
}

/// Starts the emulator, prints where it listens on `out`, and serves until the process is
/// killed.
///
/// # Errors
/// The address cannot be bound, TLS set-up failed, or `out` / the CA file cannot be written.
pub async fn run(args: &Args, mut out: impl Write) -> io::Result<()> {
    let context =
        |what: String| move |e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"));
    let server = MockServer::start(args.config())
        .await
        .map_err(context(format!("cannot listen on {}", args.listen)))?;
    // The CA file is written before anything is printed, so that a wrapper reading the
    // first line never sees "listening" from an emulator that is about to fail.
    let ca_path = match server.ca_pem() {
        None => None,
        Some(pem) => {
            let path = args.ca_out.clone().unwrap_or_else(|| {
                std::env::temp_dir().join(format!("kms-mock-{}-ca.pem", std::process::id()))
            });
            std::fs::write(&path, pem).map_err(context(format!(
                "cannot write the CA certificate to {}",
                path.display()
            )))?;
            Some(path)
        }
    };
    writeln!(out, "listening on {}", server.url())?;
    if let Some(path) = ca_path {
        writeln!(out, "ca certificate: {}", path.display())?;
    }
    for line in args.credential_lines(&server.url()) {
        writeln!(out, "{line}")?;
    }
    for line in args.iam_lines(&server.url()) {
        writeln!(out, "{line}")?;
    }
    if let Some(line) = args.clock_line() {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    std::future::pending::<()>().await;
    Ok(())
}

/// A value parser for flags that hold a secret: clap repeats a value it refuses in its
/// error message, so these refuse theirs with an error that names the flag and the problem
/// only.
#[derive(Clone)]
struct Secret<T>(fn(&str) -> Result<T, String>);

impl<T: Clone + Send + Sync + 'static> clap::builder::TypedValueParser for Secret<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        let flag = arg.map_or_else(|| "the value".to_owned(), |a| format!("'{a}'"));
        let refuse = |problem: &str| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value for {flag} (not repeated: it holds a secret): {problem}\n"),
            )
            .with_cmd(cmd)
        };
        let text = value.to_str().ok_or_else(|| refuse("it is not UTF-8"))?;
        (self.0)(text).map_err(|problem| refuse(&problem))
    }
}

fn parse_project(text: &str) -> Result<(String, u64, Option<String>), String> {
    let (id, rest) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not ID=COUNT or ID=COUNT@REGION"))?;
    kms_proto::ProjectId::new(id).map_err(|e| e.to_string())?;
    let (count, region) = match rest.split_once('@') {
        Some((count, region)) => (count, Some(region)),
        None => (rest, None),
    };
    let count = count.parse::<u64>().map_err(|_| {
        format!(
            "count {count:?} is not a whole number from 0 to {}",
            u64::MAX
        )
    })?;
    if let Some(region) = region {
        let valid = !region.is_empty()
            && region.len() <= 64
            && region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(format!(
                "region {region:?} is not a region name (1 to 64 letters, digits, '-' and '_')"
            ));
        }
    }
    Ok((id.to_owned(), count, region.map(str::to_owned)))
}

/// `NAME=SECRET` with both sides non-empty; `what` names the left side. The secret is
/// never repeated in an error.
fn parse_named_secret(text: &str, what: &str, form: &str) -> Result<(String, String), String> {
    let (name, secret) = text
        .split_once('=')
        .ok_or_else(|| format!("expected {form}"))?;
    if name.is_empty() || secret.is_empty() {
        return Err(format!("expected {form}, with both sides non-empty"));
    }
    if name.chars().any(char::is_control) || secret.chars().any(char::is_control) {
        return Err(format!("the {what} and its secret must be printable text"));
    }
    Ok((name.to_owned(), secret.to_owned()))
}

fn parse_idp(text: &str) -> Result<(String, String), String> {
    let (idp, token) = parse_named_secret(text, "identity provider id", "IDP_ID=ID_TOKEN")?;
    // It is sent as X-Idp-Id.
    if http::HeaderValue::from_str(&idp).is_err() {
        return Err("the identity provider id must be a valid header value".to_owned());
    }
    Ok((idp, token))
}

fn parse_oidc_provider(text: &str) -> Result<(String, String), String> {
    parse_named_secret(text, "provider URN", "PROVIDER_URN=ID_TOKEN")
}

fn parse_user(text: &str) -> Result<(String, String, String), String> {
    let (user, password) = parse_named_secret(text, "user", "DOMAIN/NAME=PASSWORD")?;
    match user.split_once('/') {
        Some((domain, name)) if !domain.is_empty() && !name.is_empty() => {
            Ok((domain.to_owned(), name.to_owned(), password))
        }
        _ => Err("expected DOMAIN/NAME=PASSWORD, with a domain and a user name".to_owned()),
    }
}

fn parse_token(text: &str) -> Result<(String, String), String> {
    let (token, project) = text
        .rsplit_once('@')
        .ok_or_else(|| "expected TOKEN@PROJECT".to_owned())?;
    if token.is_empty() {
        return Err("the token is empty".into());
    }
    kms_proto::ProjectId::new(project).map_err(|e| e.to_string())?;
    Ok((token.to_owned(), project.to_owned()))
}

/// `N/SECONDS`, or `kms` (any case) for [`Throttle::KMS`](crate::Throttle::KMS).
fn parse_throttle(text: &str) -> Result<(u32, u64), String> {
    if text.eq_ignore_ascii_case("kms") {
        let kms = crate::Throttle::KMS;
        return Ok((kms.limit, kms.per.as_secs()));
    }
    let (n, secs) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not N/SECONDS or kms"))?;
    let n = n
        .parse::<u32>()
        .map_err(|_| format!("{n:?} is not a number of requests"))?;
    let secs = secs
        .parse::<u64>()
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| format!("{secs:?} is not a number of seconds above 0"))?;
    Ok((n, secs))
}

fn parse_pod_token(text: &str) -> Result<String, String> {
    // It is sent as a header value, so it must be one; its text is never repeated here.
    let valid = !text.is_empty() && http::HeaderValue::from_str(text).is_ok();
    if valid {
        Ok(text.to_owned())
    } else {
        Err("the token must be non-empty printable text (a valid header value)".to_owned())
    }
}

fn parse_lifetime(text: &str) -> Result<u64, String> {
    text.parse::<u64>()
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| format!("{text:?} is not a number of seconds above 0"))
}

/// The largest --clock-offset either way: 10 years of 365 days, in seconds.
pub const MAX_CLOCK_OFFSET_SECS: i64 = 10 * 365 * 24 * 60 * 60;

/// A whole number of seconds from -[`MAX_CLOCK_OFFSET_SECS`] to [`MAX_CLOCK_OFFSET_SECS`].
fn parse_clock_offset(text: &str) -> Result<i64, String> {
    text.parse::<i64>()
        .ok()
        .filter(|secs| secs.unsigned_abs() <= MAX_CLOCK_OFFSET_SECS.unsigned_abs())
        .ok_or_else(|| {
            format!(
                "{text:?} is not a whole number of seconds from -{MAX_CLOCK_OFFSET_SECS} to \
                 {MAX_CLOCK_OFFSET_SECS} (10 years either way)"
            )
        })
}

/// `now` moved by `offset_secs` (negative: back); `now` itself if that is not a time the
/// platform can hold (never within the bounds of --clock-offset).
fn shifted(now: SystemTime, offset_secs: i64) -> SystemTime {
    let by = Duration::from_secs(offset_secs.unsigned_abs());
    let moved = if offset_secs >= 0 {
        now.checked_add(by)
    } else {
        now.checked_sub(by)
    };
    moved.unwrap_or(now)
}

/// The algorithms of `--signing-algorithms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningAlgorithms(pub Vec<kms_proto::SigningAlgorithm>);

/// `SDK-HMAC-SM3,SDK-SM2-SM3`: one or more wire names, any case.
fn parse_algorithms(text: &str) -> Result<SigningAlgorithms, String> {
    text.split(',')
        .map(|name| {
            name.trim()
                .parse()
                .map_err(|e: kms_proto::sign::UnknownAlgorithm| e.to_string())
        })
        .collect::<Result<_, _>>()
        .map(SigningAlgorithms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_kms_is_the_services_limit_and_n_per_seconds_still_parses() {
        let kms = crate::Throttle::KMS;
        assert_eq!(parse_throttle("kms"), Ok((20, 1)));
        assert_eq!(parse_throttle("KMS"), Ok((kms.limit, kms.per.as_secs())));
        assert_eq!(parse_throttle("20/1"), parse_throttle("kms"));
        assert_eq!(parse_throttle("5/60"), Ok((5, 60)));
        let refused = parse_throttle("kms2").unwrap_err();
        assert!(refused.contains("N/SECONDS or kms"), "{refused}");
    }

    #[test]
    fn throttle_kms_configures_the_same_as_with_kms_throttle() {
        let args = Args::try_parse_from(["kms-mock", "--throttle", "kms"]).unwrap();
        assert_eq!(
            format!("{:?}", args.config()),
            format!("{:?}", MockConfig::new().with_kms_throttle())
        );
        let args = Args::try_parse_from(["kms-mock"]).unwrap();
        assert_eq!(args.config().throttle, None, "no throttling unless asked");
    }

    #[test]
    fn clock_offset_moves_the_emulators_clock_either_way_within_10_years() {
        let clock_at = |offset: &str| {
            let args = Args::try_parse_from(["kms-mock", "--clock-offset", offset]).unwrap();
            let before = SystemTime::now();
            let at = (args.config().clock)();
            (before, at, SystemTime::now(), args)
        };
        for (text, secs) in [("1200", 1200_i64), ("-1200", -1200), ("+60", 60)] {
            let (before, at, after, args) = clock_at(text);
            assert_eq!(args.clock_offset, secs);
            let by = Duration::from_secs(secs.unsigned_abs());
            let (low, high) = if secs > 0 {
                (before + by, after + by)
            } else {
                (before - by, after - by)
            };
            assert!(
                at >= low && at <= high,
                "{text}: {at:?} not in {low:?}..={high:?}"
            );
            assert!(
                args.clock_line()
                    .unwrap()
                    .contains(&format!("{} s", secs.abs()))
            );
        }
        let (before, at, after, args) = clock_at("0");
        assert!(at >= before && at <= after, "0 is the machine's clock");
        assert_eq!(args.clock_line(), None, "no clock line without an offset");
        let args = Args::try_parse_from(["kms-mock"]).unwrap();
        assert_eq!(args.clock_offset, 0, "the machine's clock unless asked");

        let max = MAX_CLOCK_OFFSET_SECS;
        assert_eq!(parse_clock_offset(&max.to_string()), Ok(max));
        assert_eq!(parse_clock_offset(&(-max).to_string()), Ok(-max));
        for refused in [
            (max + 1).to_string(),
            (-max - 1).to_string(),
            i64::MIN.to_string(),
            "99999999999999999999".to_owned(),
            "1.5".to_owned(),
            "20m".to_owned(),
            String::new(),
        ] {
            let why = parse_clock_offset(&refused).unwrap_err();
            assert!(why.contains("10 years"), "{refused}: {why}");
        }
    }
}
