//! `kms count`: one ShowUserInstances call, configured from flags and the environment.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use kms_proto::env::{ENV_PROJECT_ID, ENV_REGION};
use kms_proto::{
    CaBundle, ClientConfig, Endpoints, ProjectId, ProxyUrl, Region, RetryPolicy, TrustRoots,
};

use crate::credentials::{self, SourceChoice};
use crate::file;
use crate::output::{self, Format};
use crate::repeat::{self, ObtainedCounter, Plan};

/// Which transport crate sends the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum TransportChoice {
    /// kms-ureq (blocking).
    Ureq,
    /// kms-hyper (async, tokio).
    Hyper,
}

/// Which certificates are trusted for HTTPS (`--trust`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum TrustChoice {
    /// Mozilla's roots, compiled in (and the CA of --ca-file, if given).
    Webpki,
    /// The operating system's store, read when the client is built (on Linux the files
    /// OpenSSL reads, or SSL_CERT_FILE and SSL_CERT_DIR when set).
    System,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Region id, e.g. cn-north-4 (any well-formed id works) [default:
    /// HUAWEICLOUD_SDK_REGION, else the profile's region]. KMS is at the endpoints of
    /// HUAWEICLOUD_SDK_REGION_KMS_<REGION> (one URL or several, comma-separated), else of
    /// the region's KMS entry in the regions file (HUAWEICLOUD_SDK_REGIONS_FILE, else
    /// ~/.huaweicloud/regions.yaml), else https://kms.<REGION>.myhuaweicloud.com. Without a
    /// project id, the project named after the region is found through IAM. With
    /// --endpoint, KMS is there and the region only names the project and IAM's endpoint.
    #[arg(long, value_name = "ID")]
    region: Option<String>,

    /// Explicit endpoint URL, e.g. https://kms.example.com:8443 (plain http only to loopback),
    /// or several separated by commas, tried in order: a call moves to the next when the
    /// request could not be sent (DNS, refused, connect timeout, TLS).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,

    /// Project id [default: HUAWEICLOUD_SDK_PROJECT_ID, else the profile's project_id, else
    /// the region's project, found through IAM (HUAWEICLOUD_SDK_IAM_ENDPOINT, else the
    /// profile's iam_endpoint, else https://iam.<REGION>.myhuaweicloud.com)].
    #[arg(long, value_name = "ID")]
    project_id: Option<String>,

    /// Read an IAM token (sent as X-Auth-Token) from this file instead of the environment
    /// (not with --credentials or --profile).
    #[arg(long, value_name = "PATH")]
    auth_token_file: Option<PathBuf>,

    /// Where credentials come from [default: chain].
    #[arg(
        long,
        value_enum,
        value_name = "SOURCE",
        conflicts_with = "auth_token_file"
    )]
    credentials: Option<SourceChoice>,

    /// The KooCLI profile to use (implies --credentials koocli) [default: KooCLI's current
    /// profile].
    #[arg(long, value_name = "NAME", conflicts_with = "auth_token_file")]
    profile: Option<String>,

    /// The transport crate to use.
    #[arg(long, value_enum, default_value_t = TransportChoice::Ureq)]
    transport: TransportChoice,

    /// Timeout of each attempt, in seconds (at most 86400), headers and body included
    /// [default: 10]. A call that retries still ends at --deadline.
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,

    /// Deadline of each call, in seconds (at most 86400): its attempts and the waits
    /// between them [default: 30, or --timeout when that is longer]. Given both, a
    /// --deadline shorter than --timeout is refused (exit 2): no attempt could run to its
    /// timeout.
    #[arg(long, value_name = "SECONDS")]
    deadline: Option<f64>,

    /// Retries after the first attempt (0 disables retries).
    #[arg(long, value_name = "N", default_value_t = 3)]
    retries: u32,

    /// How AK/SK sign, from any source: SDK-HMAC-SHA256, SDK-HMAC-SM3,
    /// SDK-ECDSA-P256-SHA256 or SDK-SM2-SM3, in any case [default:
    /// HUAWEICLOUD_SDK_SIGNING_ALGORITHM, else SDK-HMAC-SHA256]. An IAM token is sent as it
    /// is.
    #[arg(long, value_name = "NAME")]
    signing_algorithm: Option<String>,

    /// Trust the CA certificates of this PEM file too (private clouds).
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,

    /// The roots trusted for HTTPS: webpki, Mozilla's, compiled in; or system, the
    /// operating system's store (SSL_CERT_FILE and SSL_CERT_DIR honoured), which cannot be
    /// combined with --ca-file (add the CA to the store instead).
    #[arg(long, value_enum, value_name = "ROOTS", default_value_t = TrustChoice::Webpki)]
    trust: TrustChoice,

    /// Send through this HTTP proxy (http://[user:password@]host:port).
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    output: Format,

    /// Make N calls in all (1 to 1000000), through one client: one credential cache, one
    /// project lookup, one connection pool. With more than one, stdout has the count of
    /// the last call to succeed, and stderr the first failure, if any, and a summary: calls,
    /// failures by kind, p50/p99 latency, credentials obtained (with --output json, one
    /// line with `summary`, and `error` when a call failed). Exit 0 when every call
    /// succeeded, else the first failure's code.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = repeat::parse_repeat)]
    repeat: u32,

    /// Make up to C of the --repeat calls at once (1 to 256, at most N): threads with
    /// --transport ureq, tasks with hyper.
    #[arg(long, value_name = "C", default_value_t = 1, value_parser = repeat::parse_concurrency)]
    concurrency: u32,

    /// Log what happens on stderr (-v: calls and attempts, where the project is looked
    /// for and the one IAM found, and which credential source answered and when its
    /// credentials expire; -vv: more, credential refreshes included). Never logs a secret.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let obtained = init_logging(args.verbose);
    let plan = match Plan::new(args.repeat, args.concurrency) {
        Ok(plan) => plan,
        Err(message) => return output::config_failure(args.output, &message),
    };
    let (config, discovery) = match config(args, |name| {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }) {
        Ok(config) => config,
        Err(message) => return output::config_failure(args.output, &message),
    };
    let discovering = discovery.is_some();
    if args.verbose > 0
        && let Some(line) = discovery
    {
        output::stderr_line(&line);
    }
    if !plan.is_single() {
        return run_repeated(args, config, plan, discovering, &obtained);
    }
    let (result, identity, project) = match args.transport {
        TransportChoice::Ureq => match kms_ureq::Client::new(config) {
            Ok(client) => (
                client.show_user_instances(),
                client.core().identity(),
                client.core().project(),
            ),
            Err(e) => (Err(e), None, None),
        },
        TransportChoice::Hyper => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(async {
                match kms_hyper::Client::new(config) {
                    Ok(client) => (
                        client.show_user_instances().await,
                        client.core().identity(),
                        client.core().project(),
                    ),
                    Err(e) => (Err(e), None, None),
                }
            }),
            Err(e) => {
                return output::config_failure(
                    args.output,
                    &format!("cannot start the async runtime: {e}"),
                );
            }
        },
    };
    verbose_after(args.verbose, discovering, identity, project);
    match result {
        Ok(count) => output::success(args.output, &count),
        Err(error) => output::failure(args.output, &error),
    }
}

/// `--repeat` with more than one call: all of them through one client (see `repeat`).
fn run_repeated(
    args: &Args,
    config: ClientConfig,
    plan: Plan,
    discovering: bool,
    obtained: &ObtainedCounter,
) -> ExitCode {
    let (tally, identity, project) = match args.transport {
        TransportChoice::Ureq => match kms_ureq::Client::new(config) {
            Ok(client) => (
                repeat::run_blocking(&client, plan),
                client.core().identity(),
                client.core().project(),
            ),
            Err(e) => return output::failure(args.output, &e),
        },
        // Tasks on as many threads as there are calls at once, up to the cores.
        TransportChoice::Hyper => match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(
                std::thread::available_parallelism()
                    .map_or(1, usize::from)
                    .min(usize::try_from(plan.concurrency()).unwrap_or(usize::MAX)),
            )
            .enable_all()
            .build()
        {
            Ok(runtime) => {
                let outcome = runtime.block_on(async {
                    let client = kms_hyper::Client::new(config)?;
                    let tally = repeat::run_async(&client, plan).await;
                    Ok::<_, kms_proto::call::Error>((
                        tally,
                        client.core().identity(),
                        client.core().project(),
                    ))
                });
                match outcome {
                    Ok(outcome) => outcome,
                    Err(e) => return output::failure(args.output, &e),
                }
            }
            Err(e) => {
                return output::config_failure(
                    args.output,
                    &format!("cannot start the async runtime: {e}"),
                );
            }
        },
    };
    verbose_after(args.verbose, discovering, identity, project);
    output::repeated(args.output, &tally, &tally.summary(obtained.count()))
}

/// `-v`'s lines after the calls: the credentials in use, and the project IAM found.
fn verbose_after(
    verbose: u8,
    discovering: bool,
    identity: Option<std::sync::Arc<kms_proto::credentials::Identity>>,
    project: Option<ProjectId>,
) {
    if verbose > 0
        && let Some(identity) = identity
    {
        output::stderr_line(&credentials::describe(&identity));
    }
    if verbose > 0
        && discovering
        && let Some(project) = project
    {
        output::stderr_line(&format!(
            "kms: project {} found through IAM",
            project.as_str()
        ));
    }
}

/// Everything from flags and `env`, validated before any connection is made, and, when the
/// project is to be found through IAM, `-v`'s line saying where it is looked for.
///
/// The region is `--region`, else `HUAWEICLOUD_SDK_REGION`, else the profile's; it names
/// the project to find and IAM's endpoint, and the IAM-based credential sources use it
/// (and the project, when one is given). KMS is at `--endpoint`, else the region's
/// endpoint.
fn config(
    args: &Args,
    env: impl Fn(&str) -> Option<String> + Copy,
) -> Result<(ClientConfig, Option<String>), String> {
    let chosen = credentials::choose(
        credentials::Request {
            source: args.credentials,
            profile: args.profile.as_deref(),
            auth_token_file: args.auth_token_file.as_deref(),
        },
        env,
    )?;
    // HUAWEICLOUD_SDK_REGION names the region between the flag and the profile, as
    // HUAWEICLOUD_SDK_PROJECT_ID does the project id (and kms-proto's IAM-based credential
    // sources read it when given no region). The official SDKs never read it by that name:
    // to them it is only the prefix of the endpoint override
    // HUAWEICLOUD_SDK_REGION_<SERVICE>_<REGION> (Python, huaweicloudsdkcore 3.1.219,
    // huaweicloudsdkcore/region/provider.py:60, EnvRegionProvider._REGION_ENV_PREFIX; Go,
    // core/region/env_region.go:30, regionEnvPrefix, used at :63), and their region always
    // comes from code (KmsRegion.value_of, region.ValueOf). Reading it as a region is this
    // client's own (kms-proto's too); an invalid one is refused (exit 2), not skipped,
    // since here it says where KMS is.
    let region = match (&args.region, env(ENV_REGION), &chosen.region) {
        (Some(region), _, _) => Some(Region::new(region).map_err(|e| e.to_string())?),
        (None, Some(region), _) => {
            Some(Region::new(&region).map_err(|e| e.with_origin(ENV_REGION).to_string())?)
        }
        (None, None, profile) => profile.clone(),
    };
    let endpoint = match (&args.endpoint, &region) {
        (Some(urls), _) => Endpoints::parse_list(urls).map_err(|e| {
            let origin = match e.origin() {
                Some(entry) => format!("--endpoint, {entry}"),
                None => "--endpoint".to_owned(),
            };
            e.with_origin(origin).to_string()
        })?,
        (None, Some(region)) => {
            Endpoints::resolve_reading_file(region, env).map_err(|e| e.to_string())?
        }
        (None, None) => {
            return Err(format!(
                "say where KMS is: --region <id> (e.g. cn-north-4), {ENV_REGION} or --endpoint <url>"
            ));
        }
    };
    let project = match (&args.project_id, env(ENV_PROJECT_ID), &chosen.project) {
        (Some(id), _, _) => Some(ProjectId::new(id).map_err(|e| e.to_string())?),
        (None, Some(id), _) => {
            Some(ProjectId::new(&id).map_err(|e| e.with_origin(ENV_PROJECT_ID).to_string())?)
        }
        (None, None, Some(id)) => Some(id.clone()),
        (None, None, None) => None,
    };
    let mut provider = chosen.provider;
    if let Some(region) = &region {
        provider = provider.with_region(region.clone());
    }
    let (config, discovery) = match (project, region) {
        (Some(project), _) => (
            ClientConfig::from_provider(endpoint, project.clone(), provider.with_project(project)),
            None,
        ),
        (None, Some(region)) => {
            let iam =
                kms_proto::iam::iam_endpoint(Some(&region), chosen.iam_endpoint.as_deref(), env)
                    .map_err(|e| e.to_string())?;
            let line = format!(
                "kms: no project id given: asking IAM at {iam} for the project named {}",
                region.as_str()
            );
            (
                ClientConfig::discover_project(endpoint, region, iam, provider),
                Some(line),
            )
        }
        (None, None) => {
            return Err(format!(
                "no project id: pass --project-id or set {ENV_PROJECT_ID} (or project_id in the profile file), \
                 or give --region to find the region's project through IAM"
            ));
        }
    };
    let (timeout, deadline) = timeouts(
        args.timeout,
        args.deadline,
        (config.attempt_timeout(), config.deadline()),
    )?;
    let mut config = config
        .with_attempt_timeout(timeout)
        .with_deadline(deadline)
        .with_retry(RetryPolicy::default().with_max_attempts(args.retries.saturating_add(1)));
    match (args.trust, &args.ca_file) {
        (TrustChoice::Webpki, None) => {}
        (TrustChoice::Webpki, Some(path)) => {
            let pem = file::read_bounded(path, &file::CA_FILE).map_err(|e| e.to_string())?;
            let bundle = CaBundle::from_pem(&pem)
                .map_err(|e| e.with_origin(file::one_line(path)).to_string())?;
            config = config.with_trust(TrustRoots::WebPkiAnd(bundle));
        }
        (TrustChoice::System, None) => config = config.with_trust(TrustRoots::System),
        (TrustChoice::System, Some(_)) => {
            return Err(
                "--ca-file adds a CA to Mozilla's roots, not to the system's store: with \
                 --trust system, add the CA to the system's store (or point SSL_CERT_FILE at \
                 a PEM bundle holding it), or drop --trust system"
                    .to_owned(),
            );
        }
    }
    if let Some(proxy) = &args.proxy {
        config = config.with_proxy(ProxyUrl::parse(proxy).map_err(|e| e.to_string())?);
    }
    let algorithm = match &args.signing_algorithm {
        Some(name) => Some(
            name.trim()
                .parse::<kms_proto::sign::SigningAlgorithm>()
                .map_err(|_| {
                    format!(
                        "--signing-algorithm {name:?} is not one of SDK-HMAC-SHA256, SDK-HMAC-SM3, \
                     SDK-ECDSA-P256-SHA256, SDK-SM2-SM3"
                    )
                })?,
        ),
        None => Some(kms_proto::env::signing_algorithm_from_env(env).map_err(|e| e.to_string())?)
            .filter(|_| env(kms_proto::env::ENV_SIGNING_ALGORITHM).is_some()),
    };
    if let Some(algorithm) = algorithm {
        config = config.with_signing_algorithm(algorithm);
    }
    Ok((config, discovery))
}

/// The most seconds `--timeout` and `--deadline` take: a day. A count that has not come in
/// a day will not come, and the bound keeps the deadline's instant far from overflowing.
const MAX_SECONDS: f64 = 86_400.0;

/// The attempt timeout and the deadline from `--timeout` and `--deadline`, `defaults` the
/// client's (10 s and 30 s).
///
/// A `--timeout` longer than the default deadline raises it: `--timeout 45` means an attempt
/// may take 45 s, which a 30 s deadline the user never set would silently cut (it did,
/// before `--deadline` existed). A `--deadline` alone may be shorter than the default
/// timeout: the core gives each attempt what is left of the deadline when that is shorter.
/// Given both, a `--deadline` shorter than `--timeout` is refused rather than either being
/// overridden: the two flags contradict each other, and the deadline is the bound a script
/// relies on.
fn timeouts(
    timeout: Option<f64>,
    deadline: Option<f64>,
    (default_timeout, default_deadline): (Duration, Duration),
) -> Result<(Duration, Duration), String> {
    let seconds = |flag: &str, value: Option<f64>| match value {
        None => Ok(None),
        Some(value) => Duration::try_from_secs_f64(value)
            .ok()
            .filter(|d| !d.is_zero() && value <= MAX_SECONDS)
            .map(|d| Some((d, value)))
            .ok_or_else(|| {
                format!(
                    "{flag} {}: give a number of seconds above 0 and at most {MAX_SECONDS} \
                     (a day)",
                    shown(value)
                )
            }),
    };
    match (
        seconds("--timeout", timeout)?,
        seconds("--deadline", deadline)?,
    ) {
        (Some((t, timeout)), Some((d, deadline))) if d < t => {
            let (deadline, timeout) = (shown(deadline), shown(timeout));
            Err(format!(
                "--deadline {deadline} is shorter than --timeout {timeout}: no attempt could run \
                 to its timeout; give a --deadline of at least {timeout}, or a shorter --timeout"
            ))
        }
        (Some((t, _)), Some((d, _))) => Ok((t, d)),
        (Some((t, _)), None) => Ok((t, default_deadline.max(t))),
        (None, Some((d, _))) => Ok((default_timeout, d)),
        (None, None) => Ok((default_timeout, default_deadline)),
    }
}

/// A number of seconds as the user would write it: `45`, `0.5`, `1e300`.
fn shown(seconds: f64) -> String {
    if seconds.abs() < 1e15 {
        seconds.to_string()
    } else {
        format!("{seconds:e}")
    }
}

/// Installs the tracing subscriber: `-v`'s lines on stderr, and (whatever `-v` says) the
/// counter of credentials obtained that `--repeat`'s summary reports.
///
/// If a subscriber were installed already (nothing in `kms` installs one), the counter
/// would stay at 0.
fn init_logging(verbose: u8) -> ObtainedCounter {
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let obtained = ObtainedCounter::default();
    let counting = obtained
        .clone()
        .with_filter(Targets::new().with_target("kms_proto::credentials", LevelFilter::INFO));
    let level = match verbose {
        0 => None,
        1 => Some(LevelFilter::INFO),
        _ => Some(LevelFilter::DEBUG),
    };
    let logging = level.map(|level| {
        // Only this workspace's crates: their events are written never to carry a secret.
        // At -v, `credentials obtained` would repeat the line `kms` prints about them (see
        // `credentials::describe`): only a failed refresh shows; -vv shows every event.
        let credentials = if verbose == 1 {
            LevelFilter::WARN
        } else {
            level
        };
        let targets = Targets::new()
            .with_target("kms_ureq", level)
            .with_target("kms_hyper", level)
            .with_target("kms_proto", level)
            .with_target("kms_proto::credentials", credentials);
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .with_filter(targets)
    });
    let _ = tracing_subscriber::registry()
        .with(counting)
        .with(logging)
        .try_init();
    obtained
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Count {
        #[command(flatten)]
        args: Args,
    }

    const PROJECT: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";

    /// `config` for `kms count <flags>` with static keys and the variables `vars`.
    fn configured(flags: &[&str], vars: &[(&str, &str)]) -> Result<ClientConfig, String> {
        let count = Count::try_parse_from(std::iter::once("count").chain(flags.iter().copied()))
            .unwrap_or_else(|e| panic!("{flags:?}: {e}"));
        let env = |name: &str| {
            [("HUAWEICLOUD_SDK_AK", "AK"), ("HUAWEICLOUD_SDK_SK", "SK")]
                .iter()
                .chain(vars)
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        config(&count.args, env).map(|(config, _)| config)
    }

    fn times(flags: &[&str]) -> Result<(f64, f64), String> {
        let mut all = vec!["--endpoint", "http://127.0.0.1:9", "--project-id", PROJECT];
        all.extend_from_slice(flags);
        configured(&all, &[]).map(|c| {
            (
                c.attempt_timeout().as_secs_f64(),
                c.deadline().as_secs_f64(),
            )
        })
    }

    #[test]
    fn the_deadline_is_30_s_or_the_timeout_when_longer_unless_given() {
        // --help says "[default: 30, ...]": the client's own default.
        assert_eq!(times(&[]), Ok((10.0, 30.0)));
        assert_eq!(times(&["--timeout", "45"]), Ok((45.0, 45.0)));
        assert_eq!(times(&["--timeout", "0.5"]), Ok((0.5, 30.0)));
        // A deadline alone may be shorter than the default timeout: it cuts the attempt.
        assert_eq!(times(&["--deadline", "2"]), Ok((10.0, 2.0)));
        assert_eq!(
            times(&["--deadline", "2", "--timeout", "1"]),
            Ok((1.0, 2.0))
        );
        assert_eq!(
            times(&["--deadline", "45", "--timeout", "45"]),
            Ok((45.0, 45.0))
        );
        assert_eq!(
            times(&["--deadline", "86400", "--timeout", "86400"]),
            Ok((86400.0, 86400.0))
        );
    }

    #[test]
    fn trust_is_mozillas_roots_unless_the_system_store_is_asked_for() {
        let with = |flags: &[&str]| {
            let mut all = vec![
                "--endpoint",
                "https://kms.example.com",
                "--project-id",
                PROJECT,
            ];
            all.extend_from_slice(flags);
            configured(&all, &[]).map(|c| c.trust().clone())
        };
        assert_eq!(with(&[]), Ok(TrustRoots::WebPki));
        assert_eq!(with(&["--trust", "webpki"]), Ok(TrustRoots::WebPki));
        assert_eq!(with(&["--trust", "system"]), Ok(TrustRoots::System));
        // --ca-file adds to Mozilla's roots, as it always did; not to the system's store.
        let refused = with(&["--trust", "system", "--ca-file", "/nonexistent/ca.pem"]);
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.contains("--ca-file") && e.contains("SSL_CERT_FILE")),
            "{refused:?}"
        );
    }

    #[test]
    fn a_deadline_shorter_than_the_timeout_or_out_of_range_is_refused() {
        assert_eq!(
            times(&["--timeout", "45", "--deadline", "20"]),
            Err(
                "--deadline 20 is shorter than --timeout 45: no attempt could run to its \
                 timeout; give a --deadline of at least 45, or a shorter --timeout"
                    .to_owned()
            )
        );
        for (flags, shown) in [
            (&["--timeout", "0"][..], "--timeout 0"),
            (&["--timeout", "86400.5"], "--timeout 86400.5"),
            (&["--timeout", "inf"], "--timeout inf"),
            (&["--timeout", "NaN"], "--timeout NaN"),
            (&["--deadline", "0"], "--deadline 0"),
            (&["--deadline", "1e300"], "--deadline 1e300"),
            (&["--deadline=-0"], "--deadline -0"),
        ] {
            assert_eq!(
                times(flags),
                Err(format!(
                    "{shown}: give a number of seconds above 0 and at most 86400 (a day)"
                )),
                "{flags:?}"
            );
        }
    }

    fn kms_urls(config: &ClientConfig) -> Vec<String> {
        config
            .endpoints()
            .as_slice()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn huaweicloud_sdk_region_names_the_region_unless_the_flag_does() {
        let vars = [
            ("HUAWEICLOUD_SDK_REGION", "cn-north-4"),
            (
                "HUAWEICLOUD_SDK_REGION_KMS_CN_NORTH_4",
                "https://kms.north4.example",
            ),
            (
                "HUAWEICLOUD_SDK_REGION_KMS_AP_SOUTHEAST_1",
                "https://kms.ap1.example",
            ),
        ];
        let from_env = configured(&["--project-id", PROJECT], &vars).unwrap();
        assert_eq!(kms_urls(&from_env), ["https://kms.north4.example"]);
        let flag = configured(
            &["--project-id", PROJECT, "--region", "ap-southeast-1"],
            &vars,
        )
        .unwrap();
        assert_eq!(kms_urls(&flag), ["https://kms.ap1.example"]);
        // Without a project id, the variable's region is the project looked for.
        let discovering = configured(&[], &vars).unwrap();
        let (region, _) = discovering.discovery().unwrap();
        assert_eq!(region.as_str(), "cn-north-4");
        // With --endpoint, KMS is there and the variable only names the project to find.
        let endpoint = configured(&["--endpoint", "http://127.0.0.1:9"], &vars).unwrap();
        assert_eq!(kms_urls(&endpoint), ["http://127.0.0.1:9"]);
        assert_eq!(endpoint.discovery().unwrap().0.as_str(), "cn-north-4");
        // A malformed one is refused, naming the variable, unless the flag decides.
        let bad = [("HUAWEICLOUD_SDK_REGION", "cn north 4")];
        let error = configured(&["--project-id", PROJECT], &bad).unwrap_err();
        assert!(
            error.starts_with("invalid region (from HUAWEICLOUD_SDK_REGION)"),
            "{error}"
        );
        assert!(configured(&["--project-id", PROJECT, "--region", "cn-north-4"], &bad).is_ok());
    }
}
