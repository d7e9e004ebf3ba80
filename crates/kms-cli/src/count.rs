//! `kms count`: one ShowUserInstances call, configured from flags and the environment.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use kms_proto::env::{ENV_AK, ENV_AUTH_TOKEN, ENV_PROJECT_ID, ENV_SK, credentials_from_env};
use kms_proto::{
    AuthToken, CaBundle, ClientConfig, Credentials, Endpoint, ProjectId, ProxyUrl, Region,
    RetryPolicy, TrustRoots,
};

use crate::file;
use crate::output::{self, Format};

/// Which transport crate sends the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum TransportChoice {
    /// kms-ureq (blocking).
    Ureq,
    /// kms-hyper (async, tokio).
    Hyper,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Region id, e.g. cn-north-4 (any well-formed id works; the endpoint override
    /// HUAWEICLOUD_SDK_REGION_KMS_<REGION> is honoured).
    #[arg(long, value_name = "ID", conflicts_with = "endpoint")]
    region: Option<String>,

    /// Explicit endpoint URL, e.g. https://kms.example.com:8443 (plain http only to loopback).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,

    /// Project id [default: HUAWEICLOUD_SDK_PROJECT_ID].
    #[arg(long, value_name = "ID")]
    project_id: Option<String>,

    /// Read an IAM token (sent as X-Auth-Token) from this file instead of the environment.
    #[arg(long, value_name = "PATH")]
    auth_token_file: Option<PathBuf>,

    /// The transport crate to use.
    #[arg(long, value_enum, default_value_t = TransportChoice::Ureq)]
    transport: TransportChoice,

    /// Timeout of each attempt, in seconds, headers and body included.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    timeout: f64,

    /// Retries after the first attempt (0 disables retries).
    #[arg(long, value_name = "N", default_value_t = 3)]
    retries: u32,

    /// Trust the CA certificates of this PEM file too (private clouds).
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,

    /// Send through this HTTP proxy (http://[user:password@]host:port).
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    output: Format,

    /// Log what happens on stderr (-v: calls and attempts, -vv: more). Never logs a secret.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    init_logging(args.verbose);
    let config = match config(args, |name| {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }) {
        Ok(config) => config,
        Err(message) => return output::config_failure(args.output, &message),
    };
    let result = match args.transport {
        TransportChoice::Ureq => {
            kms_ureq::Client::new(config).and_then(|client| client.show_user_instances())
        }
        TransportChoice::Hyper => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime
                .block_on(async { kms_hyper::Client::new(config)?.show_user_instances().await }),
            Err(e) => {
                return output::config_failure(
                    args.output,
                    &format!("cannot start the async runtime: {e}"),
                );
            }
        },
    };
    match result {
        Ok(count) => output::success(args.output, &count),
        Err(error) => output::failure(args.output, &error),
    }
}

/// Everything from flags and `env`, validated before any connection is made.
fn config(
    args: &Args,
    env: impl Fn(&str) -> Option<String> + Copy,
) -> Result<ClientConfig, String> {
    let endpoint = match (&args.endpoint, &args.region) {
        (Some(url), _) => Endpoint::parse(url).map_err(|e| e.to_string())?,
        (None, Some(region)) => {
            let region = Region::new(region).map_err(|e| e.to_string())?;
            Endpoint::resolve(&region, env).map_err(|e| e.to_string())?
        }
        (None, None) => {
            return Err(
                "say where KMS is: --region <id> (e.g. cn-north-4) or --endpoint <url>".into(),
            );
        }
    };
    let project = match (&args.project_id, env(ENV_PROJECT_ID)) {
        (Some(id), _) => ProjectId::new(id).map_err(|e| e.to_string())?,
        (None, Some(id)) => {
            ProjectId::new(&id).map_err(|e| e.with_origin(ENV_PROJECT_ID).to_string())?
        }
        (None, None) => {
            return Err(format!(
                "no project id: pass --project-id or set {ENV_PROJECT_ID}"
            ));
        }
    };
    let credentials = credentials(args, env)?;
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| {
            format!(
                "--timeout {} is not a positive number of seconds",
                args.timeout
            )
        })?;
    let mut config = ClientConfig::new(endpoint, project, credentials)
        .with_attempt_timeout(timeout)
        .with_retry(RetryPolicy::default().with_max_attempts(args.retries.saturating_add(1)));
    if let Some(path) = &args.ca_file {
        let pem = file::read_bounded(path, &file::CA_FILE).map_err(|e| e.to_string())?;
        let bundle = CaBundle::from_pem(&pem)
            .map_err(|e| e.with_origin(file::one_line(path)).to_string())?;
        config = config.with_trust(TrustRoots::WebPkiAnd(bundle));
    }
    if let Some(proxy) = &args.proxy {
        config = config.with_proxy(ProxyUrl::parse(proxy).map_err(|e| e.to_string())?);
    }
    Ok(config)
}

fn credentials(args: &Args, env: impl Fn(&str) -> Option<String>) -> Result<Credentials, String> {
    let Some(path) = &args.auth_token_file else {
        return credentials_from_env(env).map_err(|e| e.to_string());
    };
    if env(ENV_AK).is_some() || env(ENV_SK).is_some() || env(ENV_AUTH_TOKEN).is_some() {
        return Err(format!(
            "--auth-token-file and credentials in the environment ({ENV_AK}/{ENV_SK} or {ENV_AUTH_TOKEN}) are both given; use one"
        ));
    }
    let bytes = file::read_bounded(path, &file::TOKEN_FILE).map_err(|e| e.to_string())?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        format!(
            "the auth token file {} is not text (byte {} is not UTF-8); an IAM token is printable ASCII",
            file::one_line(path),
            e.valid_up_to()
        )
    })?;
    // A file ends with a newline more often than not; nothing else is trimmed.
    let token = text.trim_end_matches(['\r', '\n']);
    AuthToken::new(token)
        .map(Credentials::from)
        .map_err(|e| e.with_origin(file::one_line(path)).to_string())
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let level = match verbose {
        0 => return,
        1 => LevelFilter::INFO,
        _ => LevelFilter::DEBUG,
    };
    // Only this workspace's crates: their events are written never to carry a secret.
    let targets = Targets::new()
        .with_target("kms_ureq", level)
        .with_target("kms_hyper", level)
        .with_target("kms_proto", level);
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false),
        )
        .with(targets)
        .try_init();
}
