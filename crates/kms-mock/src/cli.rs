//! The command line of the `kms-mock` binary, shared with `kms mock`. Only with the `cli`
//! feature, so that the library builds without clap.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::{MockConfig, MockServer};

/// Run a local emulator of Huawei Cloud KMS ShowUserInstances.
///
/// Prints `listening on <url>` as its first line on stdout (and `ca certificate: <path>`
/// with --tls, then one `credentials: ...` line per credential endpoint served), then
/// serves until killed. The credentials given here are test values the emulator accepts,
/// not real ones.
#[derive(Debug, Clone, Parser)]
#[command(name = "kms-mock", version)]
#[command(group(clap::ArgGroup::new("credential_endpoint").multiple(true)))]
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

    /// A project and its number of instances; repeatable.
    #[arg(long = "project", value_name = "ID=COUNT", value_parser = parse_project)]
    pub projects: Vec<(String, u64)>,

    /// An access key id to accept (with --sk).
    #[arg(long, value_name = "AK", requires = "sk")]
    pub ak: Option<String>,

    /// The secret key of --ak.
    #[arg(long, value_name = "SK", requires = "ak")]
    pub sk: Option<String>,

    /// Makes --ak a temporary credential that must carry this X-Security-Token.
    #[arg(long, value_name = "TOKEN", requires = "ak")]
    pub security_token: Option<String>,

    /// An IAM token to accept for a project; repeatable.
    #[arg(long = "token", value_name = "TOKEN@PROJECT", value_parser = parse_token)]
    pub tokens: Vec<(String, String)>,

    /// Lock an AK after this many failed signatures in a row (0: never).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub lockout_after: u32,

    /// How long a locked AK stays locked.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub lockout_seconds: u64,

    /// Throttle each credential to N requests per SECONDS (429 APIG.0308 beyond).
    #[arg(long, value_name = "N/SECONDS", value_parser = parse_throttle)]
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
    #[arg(long, value_name = "TOKEN", group = "credential_endpoint", value_parser = parse_pod_token)]
    pub pod_identity_token: Option<String>,

    /// How long issued temporary credentials stay valid. Default: 21600 (6 hours).
    #[arg(
        long,
        value_name = "SECONDS",
        requires = "credential_endpoint",
        value_parser = parse_lifetime
    )]
    pub credential_lifetime: Option<u64>,
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
        for (id, count) in &self.projects {
            config = config.with_project(id, *count);
        }
        if let (Some(ak), Some(sk)) = (&self.ak, &self.sk) {
            config = match &self.security_token {
                Some(token) => config.with_temporary_aksk(ak, sk, token),
                None => config.with_aksk(ak, sk),
            };
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
        config
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
    out.flush()?;
    std::future::pending::<()>().await;
    Ok(())
}

fn parse_project(text: &str) -> Result<(String, u64), String> {
    let (id, count) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not ID=COUNT"))?;
    kms_proto::ProjectId::new(id).map_err(|e| e.to_string())?;
    let count = count.parse::<u64>().map_err(|_| {
        format!(
            "count {count:?} is not a whole number from 0 to {}",
            u64::MAX
        )
    })?;
    Ok((id.to_owned(), count))
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

fn parse_throttle(text: &str) -> Result<(u32, u64), String> {
    let (n, secs) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not N/SECONDS"))?;
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
