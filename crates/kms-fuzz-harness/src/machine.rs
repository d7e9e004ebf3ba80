//! The harness of the client machine ([`kms_proto::client`]): a configuration and a run of
//! calls derived from the bytes, every [`Io`] answered from them on a simulated clock.

use std::collections::VecDeque;
use std::error::Error as StdError;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use time::OffsetDateTime;

use kms_proto::call::{Error, ErrorKind, Now, TransportErrorKind, TransportFailure};
use kms_proto::client::{Client, ClientCall, Exchange, Io, RefreshIo, RefreshJob, Route};
use kms_proto::credentials::{
    ENV_IAM_DOMAIN, ENV_IAM_PASSWORD, ENV_IAM_USER, ENV_METADATA_ENDPOINT, FileProblem, Provider,
};
use kms_proto::iam::ENV_IAM_ENDPOINT;
use kms_proto::operation::UserInstances;
use kms_proto::{
    AkSk, AuthToken, BudgetPolicy, ClientConfig, Endpoint, Endpoints, InstanceCount, ProjectId,
    Region, RetryPolicy, SdkDate,
};

const IAM_URI: &str = "http://127.0.0.1:10";
const META_URI: &str = "http://127.0.0.1:9";
const PROFILE_PATH: &str = "/simulated/credentials";
const PROJECT: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";
const REGION: &str = "cn-north-4";
/// 2026-11-22T08:00:00Z: the simulated wall clock's start.
const BASE_SECS: u64 = 1_795_334_400;
/// More files and exchanges than a refresh of any source used here can take (metadata:
/// a session token then the key, 2; the password: 1; the profile file: 1).
const MAX_REFRESH_STEPS: usize = 4;
/// How far past its deadline a call may be told to sleep or wait: none (the machine
/// never schedules past it); one millisecond for rounding.
const DEADLINE_SLACK: Duration = Duration::from_millis(1);
/// Time steps a transport takes, in milliseconds, by the low three bits of a byte.
const STEPS_MS: [u64; 8] = [0, 1, 10, 250, 1_000, 5_000, 20_000, 61_000];
/// The statuses of answers, by four bits of a byte.
const STATUSES: [u16; 16] = [
    200, 200, 200, 401, 429, 503, 500, 502, 504, 400, 403, 404, 201, 204, 302, 418,
];
/// The Retry-After values an answer can carry (`None`: an HTTP-date 30 s from now).
const RETRY_AFTER: [Option<&str>; 8] = [
    Some("0"),
    Some("1"),
    Some("3"),
    Some("120"),
    None,
    Some("Wed, 21 Oct 2026 07:28:00 GMT"),
    Some("soon"),
    Some("99999999999999999999"),
];

/// Bytes read in order; past the end every byte is 0, so that every input runs to the end.
struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// Up to `n` bytes (fewer at the end).
    fn take(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = start.saturating_add(n).min(self.data.len());
        self.pos = self.pos.max(start) + n;
        &self.data[start..end]
    }

    fn hex(&mut self, n: usize) -> String {
        (0..n).map(|_| format!("{:02x}", self.byte())).collect()
    }
}

/// The simulated clock: a monotonic base plus milliseconds, and a wall clock that follows
/// it with an offset the bytes may move backward or forward.
struct Clock {
    base: Instant,
    ms: u64,
    wall_offset_ms: i64,
    jitter: f64,
}

impl Clock {
    fn now(&self) -> Now {
        let wall_ms = (BASE_SECS * 1000 + self.ms) as i64 + self.wall_offset_ms;
        let wall = UNIX_EPOCH + Duration::from_millis(wall_ms.max(0) as u64);
        Now::new(
            wall,
            self.base + Duration::from_millis(self.ms),
            self.jitter,
        )
    }

    fn mono(&self) -> Instant {
        self.base + Duration::from_millis(self.ms)
    }

    fn advance(&mut self, ms: u64) {
        self.ms += ms;
    }

    /// Moves to `until` (never back).
    fn advance_to(&mut self, until: Instant) {
        let ms = until.saturating_duration_since(self.mono()).as_millis();
        // Rounded up: the machine compares instants, not milliseconds.
        let extra = u64::from(until > self.mono() + Duration::from_millis(ms as u64));
        self.ms += ms as u64 + extra;
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Creds {
    AkSk,
    AkSkToken,
    Token,
    Metadata,
    Password,
    Profile,
}

/// What the run knows: the secrets to look for, and what each exchange gets.
struct World {
    /// Every secret handed to the machine (static ones, and those from documents answered).
    secrets: Vec<String>,
    /// Secrets no server is told (secret keys): scrubbed from the answers made up here, as
    /// no server could echo them.
    unsent: Vec<String>,
}

impl World {
    fn check(&self, what: &str, shown: &str) {
        for secret in &self.secrets {
            assert!(
                !shown.contains(secret.as_str()),
                "a secret ({secret:?}) is in the {what}: {shown}"
            );
        }
    }

    fn check_error(&self, error: &Error) {
        self.check("error's Display", &error.to_string());
        self.check("error's Debug", &format!("{error:?}"));
        let mut source = error.source();
        while let Some(inner) = source {
            self.check("error source's Display", &inner.to_string());
            self.check("error source's Debug", &format!("{inner:?}"));
            source = inner.source();
        }
    }

    fn scrub(&self, body: Vec<u8>) -> Vec<u8> {
        let mut text = body;
        for secret in &self.unsent {
            let s = secret.as_bytes();
            while let Some(i) = text.windows(s.len()).position(|w| w == s) {
                text[i] = b'_';
            }
        }
        text
    }
}

fn rfc3339(at: SystemTime) -> String {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        .min(253_402_300_799);
    let t = OffsetDateTime::from_unix_timestamp(secs as i64).unwrap();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn http_date(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let t = OffsetDateTime::from_unix_timestamp(secs.min(253_402_300_799) as i64).unwrap();
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[t.weekday().number_days_from_monday() as usize],
        t.day(),
        MONTHS[t.month() as usize - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// An answer: a status, headers and a body, or a failure.
enum Answer {
    Response(StatusCode, HeaderMap, Vec<u8>),
    Failed(TransportFailure),
}

/// A lifetime for credentials from a document, from now, in seconds (negative: expired).
const LIFETIMES: [i64; 8] = [-600, 2, 90, 1_800, 3_600, 7_200, 86_400, 3 * 86_400];

/// The answer to `exchange` at `now`, from the bytes: returns it, with the count of a valid
/// count body.
fn answer(
    b: &mut Bytes<'_>,
    exchange: &Exchange,
    now: Now,
    world: &mut World,
) -> (Answer, Option<u64>) {
    let ctl = b.byte();
    if ctl >= 0xE0 {
        let kind = crate::sources::failure_kind(ctl);
        let sent = ctl & 4 != 0;
        let failure = match (ctl & 3, sent) {
            (2, _) => TransportFailure::timed_out(sent),
            _ => TransportFailure::new(kind, sent),
        };
        let failure = match ctl & 0x10 {
            0 => failure,
            _ => failure.with_source(std::io::Error::other("connection reset by the fuzzer")),
        };
        return (Answer::Failed(failure), None);
    }
    let request = exchange.request();
    let path = request.uri().path().to_owned();
    let template = ctl & 7;
    let status = match template {
        0 if ctl & 0x80 == 0 => StatusCode::OK,
        _ => StatusCode::from_u16(STATUSES[usize::from((ctl >> 3) & 0x0F)]).unwrap(),
    };
    let token = request
        .headers()
        .get("x-auth-token")
        .or_else(|| request.headers().get("x-security-token"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
        .to_owned();
    let mut headers = HeaderMap::new();
    let mut count = None;
    // Secrets a document gives, which only a 2xx answer hands to the machine.
    let mut secrets = Vec::new();
    let mut unsent = Vec::new();
    let body: Vec<u8> = match template {
        // The answer that route wants.
        0 => {
            if path.ends_with("/kms/user-instances") {
                let n = u64::from(b.u32()) >> (b.byte() & 31);
                count = status.is_success().then_some(n);
                format!(r#"{{"instance_num": {n}}}"#).into_bytes()
            } else if path.ends_with("/v3/projects") {
                let id = match b.byte() % 4 {
                    0 => PROJECT.to_owned(),
                    1 => b.hex(16),
                    2 => "bad id/..".to_owned(),
                    _ => format!("p{}", b.hex(2)),
                };
                format!(r#"{{"projects":[{{"id":"{id}","name":"{REGION}","enabled":true}}],"links":{{}}}}"#)
                    .into_bytes()
            } else if path.ends_with("/v3/auth/tokens") {
                let token = format!("IAMtok{}", b.hex(6));
                secrets.push(token.clone());
                headers.insert("x-subject-token", HeaderValue::from_str(&token).unwrap());
                let life = LIFETIMES[usize::from(b.byte() & 7)];
                let at = now.wall() + Duration::from_secs(life.unsigned_abs());
                let at = if life < 0 {
                    now.wall() - Duration::from_secs(life.unsigned_abs())
                } else {
                    at
                };
                format!(
                    r#"{{"token":{{"expires_at":"{}","methods":["password"]}}}}"#,
                    rfc3339(at)
                )
                .into_bytes()
            } else if request.method() == Method::PUT {
                let session = format!("MDtok{}", b.hex(4));
                secrets.push(session.clone());
                session.into_bytes()
            } else {
                let n = b.byte();
                let (ak, sk, st) = (
                    format!("MAK{n:02x}AAAAAAAAAAA"),
                    format!("MSK{}secret", b.hex(5)),
                    format!("MST{}stoken", b.hex(5)),
                );
                secrets.push(sk.clone());
                secrets.push(st.clone());
                unsent.push(sk.clone());
                let life = LIFETIMES[usize::from(b.byte() & 7)];
                let at = match life < 0 {
                    true => now.wall() - Duration::from_secs(life.unsigned_abs()),
                    false => now.wall() + Duration::from_secs(life.unsigned_abs()),
                };
                format!(
                    r#"{{"credential":{{"access":"{ak}","secret":"{sk}","securitytoken":"{st}","expires_at":"{}"}}}}"#,
                    rfc3339(at)
                )
                .into_bytes()
            }
        }
        // A KMS error document.
        1 => {
            let code = ["KMS.0105", "KMS.0205", "APIGW.0101", "APIGW.0308", "KMS.XXXX"]
                [usize::from(b.byte() % 5)];
            format!(r#"{{"error":{{"error_code":"{code}","error_msg":"refused"}}}}"#).into_bytes()
        }
        // The gateway's "signature expired", naming the request's X-Sdk-Date (or not).
        2 => {
            let signed = request
                .headers()
                .get("x-sdk-date")
                .and_then(|v| v.to_str().ok())
                .and_then(SdkDate::parse)
                .map(|d| d.to_system_time())
                .unwrap_or(now.wall());
            let offset: i64 = [120, -120, 3_600, -3_600, 2 * 86_400, -2 * 86_400, 30, 0]
                [usize::from(b.byte() & 7)];
            let server = match offset < 0 {
                true => signed - Duration::from_secs(offset.unsigned_abs()),
                false => signed + Duration::from_secs(offset.unsigned_abs()),
            };
            let date = |t| {
                SdkDate::from_system_time(t)
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            };
            headers.insert("date", HeaderValue::from_str(&http_date(server)).unwrap());
            format!(
                r#"{{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information: signature expired, signature time: {}, server time: {}"}}"#,
                date(signed),
                date(server)
            )
            .into_bytes()
        }
        // An error that echoes the token the request carried.
        3 => format!(
            r#"{{"error":{{"error_code":"APIGW.0307","error_msg":"token {token} is invalid"}},"error_code":"x","error_msg":"{token}"}}"#
        )
        .into_bytes(),
        // Garbage from the input.
        4 => {
            let n = usize::from(b.byte());
            b.take(n).to_vec()
        }
        // Oversized: a valid count padded past the limit (the transport cuts it).
        5 => {
            let mut body = br#"{"instance_num": 5, "pad": ""#.to_vec();
            body.resize(kms_proto::MAX_RESPONSE_BODY + 100, b'a');
            body.extend_from_slice(b"\"}");
            body
        }
        // IAM listings that find nothing, or too much.
        6 => match b.byte() & 1 {
            0 => br#"{"projects":[]}"#.to_vec(),
            _ => format!(
                r#"{{"projects":[{{"id":"a1","name":"{REGION}"}},{{"id":"b2","name":"{REGION}"}}]}}"#
            )
            .into_bytes(),
        },
        _ => Vec::new(),
    };
    let extra = b.byte();
    if extra & 1 != 0 {
        let value = match RETRY_AFTER[usize::from((extra >> 1) & 7)] {
            Some(v) => v.to_owned(),
            None => http_date(now.wall() + Duration::from_secs(30)),
        };
        headers.insert("retry-after", HeaderValue::from_str(&value).unwrap());
    }
    if extra & 0x10 != 0 {
        let id = format!("req-{}", b.hex(4));
        headers.insert("x-request-id", HeaderValue::from_str(&id).unwrap());
    }
    if extra & 0x20 != 0 && !headers.contains_key("date") {
        let skew = Duration::from_secs(u64::from(b.byte()) * 60);
        let date = match extra & 0x40 {
            0 => now.wall() + skew,
            _ => now.wall() - skew,
        };
        headers.insert("date", HeaderValue::from_str(&http_date(date)).unwrap());
    }
    if extra & 0x80 != 0 {
        // Too many header lines.
        for i in 0..(kms_proto::MAX_RESPONSE_HEADERS + 1) {
            headers.append(
                HeaderName::from_bytes(format!("x-h{i}").as_bytes()).unwrap(),
                HeaderValue::from_static("v"),
            );
        }
    }
    // No server knows the secret keys handed out before (the document being made is
    // the one place its own is in).
    let mut body = world.scrub(body);
    if status.is_success() {
        world.secrets.extend(secrets);
        world.unsent.extend(unsent);
    }
    // The transport reads at most the read limit.
    body.truncate(exchange.read_limit());
    (Answer::Response(status, headers, body), count)
}

/// The bytes of the profile file, or why it cannot be read.
fn profile_file(b: &mut Bytes<'_>, sk: &str) -> Result<Vec<u8>, FileProblem> {
    match b.byte() % 6 {
        0..=2 => Ok(format!("[basic]\nak = AKFUZZPROFILE00000\nsk = {sk}\n").into_bytes()),
        3 => Err(FileProblem::NotFound),
        4 => Err(FileProblem::TooLarge { limit: 1 }),
        _ => {
            let n = usize::from(b.byte());
            Ok(b.take(n).to_vec())
        }
    }
}

/// Drives one refresh to its end, and reports it.
fn run_refresh(
    b: &mut Bytes<'_>,
    client: &Client,
    mut job: RefreshJob,
    clock: &mut Clock,
    world: &mut World,
    profile_sk: &str,
) {
    world.check("refresh job's Debug", &format!("{job:?}"));
    let mut steps = 0;
    loop {
        let io = job.poll();
        world.check("RefreshIo's Debug", &format!("{io:?}"));
        match io {
            RefreshIo::Done => break,
            RefreshIo::Read(file) => {
                assert_eq!(file.path().to_str(), Some(PROFILE_PATH), "{file:?}");
                job.on_file(profile_file(b, profile_sk));
            }
            RefreshIo::Send(exchange) => {
                let (answer, _) = answer(b, &exchange, clock.now(), world);
                clock.advance(
                    STEPS_MS[usize::from(b.byte() & 7)].min(exchange.timeout().as_millis() as u64),
                );
                match answer {
                    Answer::Response(status, headers, body) => {
                        job.on_response(status, &headers, &body)
                    }
                    Answer::Failed(failure) => job.on_failure(failure),
                }
            }
        }
        steps += 1;
        assert!(
            steps <= MAX_REFRESH_STEPS,
            "a refresh took more than {MAX_REFRESH_STEPS} steps"
        );
    }
    // Done twice is still done.
    assert!(matches!(job.poll(), RefreshIo::Done));
    client.on_refreshed(job, clock.now());
}

/// One call in the run, and what the harness saw of it.
struct Live<'c> {
    call: Option<ClientCall<'c, UserInstances>>,
    deadline: Instant,
    polls: usize,
    sends: usize,
    sleeps: usize,
    reports_at_start: u64,
    /// Waiting since the report count was this, until then.
    waiting: Option<(u64, Instant)>,
    /// The count the last KMS answer carried, if it was a valid count with a 2xx status;
    /// `Some(None)` for another 2xx answer.
    last_count: Option<Option<u64>>,
    last_body: Vec<u8>,
    /// When the call was last polled or reported to.
    last_seen: Instant,
    /// The end of the sleep the call was woken from early.
    early: Option<Instant>,
    /// The exchange held out (interleaved calls), and the byte read at its `Send`.
    out: Option<(Exchange, u8)>,
    over: bool,
    trace: CallTrace,
}

/// The most polls a call may take before `Io::Done`.
///
/// Every KMS attempt is at most: a `Refresh` (credentials due, or none cached), a `Wait`
/// for that refresh, a second `Refresh` (the first one lost, or failed while usable
/// credentials remain), the `Send` and a `Sleep` (its backoff): 5 polls, rounded to 6. A
/// poll before a sleep's end is not counted: it must give the same `Sleep` (checked), and
/// a transport may wake early any number of times. The attempts are at most `max_attempts * endpoints` (an endpoint that
/// cannot be reached is left at once without counting as an attempt, at most
/// `endpoints - 1` times per attempt counted) plus one re-signing after a clock-skew
/// answer (once a call). The project costs at most a `Wait` for another call's claim, the
/// IAM `Send` and a `Wake`, and the end a `Wake` and the `Done`: 6 more, rounded to 12.
/// Each report of another call or of a refresh (they end a `Wait`) allows 2 more polls:
/// the one it ends, and a new `Wait` or `Refresh` it may cause.
fn poll_bound(config: &ClientConfig, reports: u64) -> usize {
    let attempts = config.retry().max_attempts() as usize * config.endpoints().as_slice().len() + 1;
    6 * attempts + 12 + 2 * reports as usize
}

/// The client machine: a configuration from the first bytes, then one to three calls (in
/// turn, or two interleaved), every `Io` answered from the bytes. Panics when a call does
/// not end within `poll_bound`, asks for anything after `Done`, sleeps or waits into the
/// past or beyond its deadline, ends with a count the answer did not carry, or shows a
/// secret in the Debug or Display of an `Io` or an error.
pub fn client_machine(data: &[u8]) {
    run(data);
}

/// What a run did, for the seed tests.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    /// Refreshes handed out.
    pub(crate) refreshes: usize,
    pub(crate) calls: Vec<CallTrace>,
}

/// What one call did.
#[derive(Debug, Default)]
pub(crate) struct CallTrace {
    /// The count, or the kind of error; `None` for a call cancelled.
    pub(crate) result: Option<Result<u64, ErrorKind>>,
    /// The ports of the KMS endpoints its attempts went to, in order.
    pub(crate) ports: Vec<u16>,
    /// Its exchanges with IAM.
    pub(crate) iam: usize,
    pub(crate) sleeps: usize,
    pub(crate) waits: usize,
}

fn run(data: &[u8]) -> Trace {
    let mut trace = Trace::default();
    let mut b = Bytes { data, pos: 0 };
    let creds = [
        Creds::AkSk,
        Creds::AkSkToken,
        Creds::Token,
        Creds::Metadata,
        Creds::Password,
        Creds::Profile,
    ][usize::from(b.byte() % 6)];
    let shape = b.byte();
    let retry = b.byte();
    let timing = b.byte();
    let mode = b.byte();
    let id = b.hex(4);
    let sk = format!("SKfz{id}secretkey");
    let token = format!("MIItok{id}AQ");
    let security = format!("STStok{id}zz");
    let password = format!("PWfz{id}pass");
    let profile_sk = format!("PSKfz{id}secret");
    let mut world = World {
        secrets: vec![
            sk.clone(),
            token.clone(),
            security.clone(),
            password.clone(),
            profile_sk.clone(),
        ],
        unsent: vec![sk.clone(), password.clone(), profile_sk.clone()],
    };
    let count = usize::from(shape % 3) + 1;
    let endpoints: Vec<Endpoint> = (0..count)
        .map(|i| Endpoint::parse(&format!("http://127.0.0.1:{}", 1 + i)).unwrap())
        .collect();
    let endpoints = Endpoints::new(endpoints).unwrap();
    let vars: Vec<(&str, String)> = vec![
        (ENV_METADATA_ENDPOINT, META_URI.to_owned()),
        (ENV_IAM_USER, "fuzz-user".to_owned()),
        (ENV_IAM_DOMAIN, "fuzz-domain".to_owned()),
        (ENV_IAM_PASSWORD, password.clone()),
        (ENV_IAM_ENDPOINT, IAM_URI.to_owned()),
    ];
    let lookup = move |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    let provider = match creds {
        Creds::AkSk => Provider::fixed(AkSk::new("AKFUZZ0000000000000", &sk).unwrap().into()),
        Creds::AkSkToken => Provider::fixed(
            AkSk::new("AKFUZZ0000000000000", &sk)
                .unwrap()
                .with_security_token(&security)
                .unwrap()
                .into(),
        ),
        Creds::Token => Provider::fixed(AuthToken::new(&token).unwrap().into()),
        Creds::Metadata => Provider::metadata(lookup),
        Creds::Password => Provider::iam_password(lookup),
        Creds::Profile => Provider::profile_file_at(PROFILE_PATH),
    };
    let config = match shape & 4 {
        0 => ClientConfig::from_provider(endpoints, ProjectId::new(PROJECT).unwrap(), provider),
        _ => ClientConfig::discover_project(
            endpoints,
            Region::new(REGION).unwrap(),
            Endpoint::parse(IAM_URI).unwrap(),
            provider,
        ),
    };
    let mut policy = RetryPolicy::default()
        .with_max_attempts(u32::from(retry % 5) + 1)
        .with_retry_when_maybe_sent(retry & 8 == 0);
    if retry & 0x10 != 0 {
        policy = policy.with_backoff(Duration::from_millis(10), Duration::from_millis(200));
    }
    if retry & 0x20 != 0 {
        policy = policy.with_throttle_backoff(Duration::from_millis(50));
    }
    let budget = match retry & 0x40 {
        0 => Some(BudgetPolicy::default()),
        _ => None,
    };
    let deadline =
        Duration::from_millis([500, 2_000, 10_000, 30_000, 60_000][usize::from(timing % 5)]);
    let attempt =
        Duration::from_millis([100, 1_000, 5_000, 10_000][usize::from((timing >> 3) & 3)]);
    let skew = match timing & 0x20 {
        0 => kms_proto::DEFAULT_MAX_CLOCK_SKEW,
        _ => Duration::from_secs(600),
    };
    let config = config
        .with_retry(policy)
        .with_retry_budget(budget)
        .with_deadline(deadline)
        .with_attempt_timeout(attempt)
        .with_max_clock_skew(skew);
    let client = Client::new(config);
    let mut clock = Clock {
        base: Instant::now(),
        ms: 0,
        wall_offset_ms: 0,
        jitter: f64::from(b.byte()) / 255.0,
    };
    // Mode: the low two bits say how many calls (1 to 3), bit 2 whether the first two are
    // polled in turn.
    let calls = usize::from(mode & 3).max(1);
    let interleaved = mode & 4 != 0 && calls >= 2;
    let mut live: Vec<Live<'_>> = Vec::new();
    let mut jobs: VecDeque<RefreshJob> = VecDeque::new();
    let mut next = 0;
    let mut rounds = 0usize;
    loop {
        rounds += 1;
        assert!(rounds < 100_000, "the run does not end");
        // Start calls: all interleaved ones at once, else one when none is running.
        while next < calls && (live.iter().all(|l| l.over) || (interleaved && next < 2)) {
            let now = clock.now();
            let call = client.call(UserInstances, now);
            live.push(Live {
                call: Some(call),

                deadline: now.monotonic() + client.config().deadline(),
                polls: 0,
                sends: 0,
                sleeps: 0,
                reports_at_start: client.reports(),
                waiting: None,
                last_count: None,
                last_body: Vec::new(),
                last_seen: now.monotonic(),
                out: None,
                early: None,
                over: false,
                trace: CallTrace::default(),
            });
            next += 1;
        }
        let running: Vec<usize> = (0..live.len()).filter(|&i| !live[i].over).collect();
        if running.is_empty() {
            break;
        }
        // A waiting call is ready once a report was made or its wait is over.
        let ready: Vec<usize> = running
            .iter()
            .copied()
            .filter(|&i| live[i].out.is_none())
            .filter(|&i| match live[i].waiting {
                None => true,
                Some((seen, until)) => client.reports() != seen || clock.mono() >= until,
            })
            .collect();
        let held: Vec<usize> = running
            .iter()
            .copied()
            .filter(|&i| live[i].out.is_some())
            .collect();
        let choice = b.byte();
        let stuck = ready.is_empty() && held.is_empty();
        if stuck || (!jobs.is_empty() && choice & 0xC0 == 0xC0) {
            // Nobody can go on: a refresh ends, or time passes to the first wait's end.
            if let Some(job) = jobs.pop_front() {
                run_refresh(&mut b, &client, job, &mut clock, &mut world, &profile_sk);
            } else if stuck {
                let until = running
                    .iter()
                    .filter_map(|&i| live[i].waiting.map(|(_, u)| u))
                    .min()
                    .unwrap();
                clock.advance_to(until);
            }
            continue;
        }
        let pick = usize::from(choice) % (ready.len() + held.len());
        if let Some(&i) = held.get(pick.wrapping_sub(ready.len())) {
            let (exchange, a) = live[i].out.take().unwrap();
            deliver(&mut live[i], &exchange, a, &mut b, &mut clock, &mut world);
            continue;
        }
        let i = ready[pick];
        let client_reports = client.reports();
        let l = &mut live[i];
        l.waiting = None;
        let now = clock.now();
        let io = l.call.as_mut().unwrap().poll(now);
        // Polled before its sleep's end: the same sleep again, not counted (see poll_bound).
        let early = l.early.take().filter(|&until| now.monotonic() < until);
        match early {
            Some(until) => assert!(
                matches!(io, Io::Sleep(again) if again == until),
                "polled before its sleep's end, the call did not sleep until then: {io:?}"
            ),
            None => l.polls += 1,
        }
        let reports = client_reports.saturating_sub(l.reports_at_start);
        let bound = poll_bound(client.config(), reports);
        assert!(
            l.polls <= bound,
            "the call did not end within {bound} polls ({} sends, {} sleeps, {reports} reports)",
            l.sends,
            l.sleeps
        );
        world.check("Io's Debug", &format!("{io:?}"));
        let step = now.monotonic() - l.last_seen;
        l.last_seen = now.monotonic();
        match io {
            Io::Send(exchange) => {
                l.sends += 1;
                match exchange.route() {
                    Route::Kms => l
                        .trace
                        .ports
                        .push(exchange.request().uri().port_u16().unwrap_or(0)),
                    Route::Cloud | Route::Local => l.trace.iam += 1,
                }
                let a = b.byte();
                if a == 0xFF {
                    // Poll before reporting: an error, never a panic, and never a Send.
                    l.polls += 1;
                    let error = finish(l.call.as_mut().unwrap(), clock.now(), &world);
                    assert_eq!(error.kind(), ErrorKind::Io);
                    l.trace.result = Some(Err(error.kind()));
                    after_done(l.call.as_mut().unwrap(), &clock, &world);
                    l.over = true;
                    continue;
                }
                if a == 0xFE && interleaved {
                    // Cancelled while the exchange is out.
                    l.call = None;
                    l.over = true;
                    continue;
                }
                if interleaved && a & 0x08 != 0 {
                    // Held: the other call goes on while this exchange is out.
                    l.out = Some((exchange, a));
                    continue;
                }
                deliver(l, &exchange, a, &mut b, &mut clock, &mut world);
            }
            Io::Refresh(job) => {
                trace.refreshes += 1;
                match b.byte() % 8 {
                    // Lost: the transport never runs it.
                    7 => drop(job),
                    5 | 6 => jobs.push_back(job),
                    _ => run_refresh(&mut b, &client, job, &mut clock, &mut world, &profile_sk),
                }
            }
            Io::Sleep(until) => {
                if early.is_none() {
                    l.sleeps += 1;
                    l.trace.sleeps += 1;
                }
                check_until("sleep", until, now.monotonic(), step, l.deadline);
                match b.byte() % 8 {
                    // Woken early: the next poll sleeps again.
                    7 => {
                        clock.advance(1);
                        l.early = (clock.mono() < until).then_some(until);
                    }
                    _ => clock.advance_to(until),
                }
            }
            Io::Wait(wait) => {
                check_until("wait", wait.until(), now.monotonic(), step, l.deadline);
                assert!(wait.seen() <= client.reports());
                l.waiting = Some((wait.seen(), wait.until()));
                l.trace.waits += 1;
            }
            Io::Wake => {}
            Io::Done(result) => {
                l.trace.result = Some(result.as_ref().map(|c| c.count()).map_err(|e| e.kind()));
                end(l, result, &world);
                after_done(l.call.as_mut().unwrap(), &clock, &world);
                l.over = true;
            }
        }
    }
    // Refreshes left over still end cleanly.
    while let Some(job) = jobs.pop_front() {
        run_refresh(&mut b, &client, job, &mut clock, &mut world, &profile_sk);
    }
    world.check("client's Debug", &format!("{client:?}"));
    if let Some(identity) = client.identity() {
        world.check("identity's Debug", &format!("{identity:?}"));
    }
    trace.calls = live.into_iter().map(|l| l.trace).collect();
    trace
}

/// Answers the exchange `l` has out, from the bytes (`a`: the byte read at its `Send`).
fn deliver(
    l: &mut Live<'_>,
    exchange: &Exchange,
    a: u8,
    b: &mut Bytes<'_>,
    clock: &mut Clock,
    world: &mut World,
) {
    let (answer, count) = answer(b, exchange, clock.now(), world);
    let took = Duration::from_millis(STEPS_MS[usize::from(b.byte() & 7)]).min(exchange.timeout());
    let took = match &answer {
        Answer::Failed(f) if f.kind() == TransportErrorKind::Timeout => exchange.timeout(),
        _ => took,
    };
    clock.advance(took.as_millis() as u64);
    if a & 0xF0 == 0xE0 {
        // The wall clock jumps: back an hour, or ahead a day.
        clock.wall_offset_ms += match a & 1 {
            0 => -3_600_000,
            _ => 86_400_000,
        };
    }
    let call = l.call.as_mut().unwrap();
    match answer {
        Answer::Response(status, headers, body) => {
            if exchange.route() == Route::Kms {
                l.last_count = status.is_success().then_some(count);
                l.last_body.clone_from(&body);
            }
            call.on_response(status, &headers, &body, clock.now());
            if a == 0xFD {
                // Reported twice: the second report is ignored.
                call.on_response(status, &headers, &body, clock.now());
            }
        }
        Answer::Failed(failure) => {
            if exchange.route() == Route::Kms {
                l.last_count = None;
            }
            call.on_failure(failure, clock.now());
        }
    }
    l.last_seen = clock.mono();
}

/// A sleep or wait must end after `now` less the step just taken, and by the deadline.
fn check_until(what: &str, until: Instant, now: Instant, step: Duration, deadline: Instant) {
    assert!(
        until + step >= now,
        "a {what} until {:?} before now",
        now.saturating_duration_since(until)
    );
    assert!(
        until <= deadline + DEADLINE_SLACK,
        "a {what} {:?} past the deadline",
        until.saturating_duration_since(deadline)
    );
}

/// Polls a call whose exchange is out without reporting it: it ends with an error.
fn finish(call: &mut ClientCall<'_, UserInstances>, now: Now, world: &World) -> Error {
    for _ in 0..3 {
        let io = call.poll(now);
        world.check("Io's Debug", &format!("{io:?}"));
        match io {
            Io::Wake => continue,
            Io::Done(Err(error)) => {
                world.check_error(&error);
                return error;
            }
            other => panic!("a call polled before its report went on: {other:?}"),
        }
    }
    panic!("a call polled before its report did not end")
}

/// The checks of a call's end.
fn end(l: &Live<'_>, result: Result<InstanceCount, Error>, world: &World) {
    match result {
        Ok(count) => {
            let n = count.count();
            match l.last_count {
                Some(Some(expected)) => assert_eq!(n, expected, "not the count answered"),
                Some(None) => assert!(
                    crate::contains(&l.last_body, n.to_string().as_bytes()),
                    "count {n} is not in the answer"
                ),
                None => panic!("a count without a 2xx answer to the last attempt"),
            }
        }
        Err(error) => {
            world.check_error(&error);
            assert!(
                error.attempts() as usize <= l.sends,
                "{} attempts counted, {} sent",
                error.attempts(),
                l.sends
            );
        }
    }
}

/// After `Done`: polls and reports change nothing, and nothing is sent.
fn after_done(call: &mut ClientCall<'_, UserInstances>, clock: &Clock, world: &World) {
    call.on_failure(
        TransportFailure::new(TransportErrorKind::Io, true),
        clock.now(),
    );
    call.on_response(
        StatusCode::OK,
        &HeaderMap::new(),
        b"{\"instance_num\": 1}",
        clock.now(),
    );
    for _ in 0..2 {
        let io = call.poll(clock.now());
        world.check("Io's Debug", &format!("{io:?}"));
        match io {
            Io::Done(Err(error)) => world.check_error(&error),
            other => panic!("a call asked for {other:?} after Done"),
        }
    }
}

#[cfg(test)]
mod tests;
