//! The machine on a simulated clock: many calls, no I/O.

use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, StatusCode};

use super::*;
use crate::call::ErrorKind;
use crate::operation::UserInstances;
use crate::{AkSk, Endpoint, Endpoints, Region, RetryPolicy};

const T0: SystemTime = SystemTime::UNIX_EPOCH;
#[cfg(feature = "sources")]
const PROFILE: &[u8] = b"[basic]\nak = AKEXAMPLE0000000000\nsk = SKEXAMPLEsecretkey\n";

/// A simulated clock: `at(ms)` is `ms` milliseconds after the start.
struct Clock(Instant);

impl Clock {
    fn new() -> Self {
        Clock(Instant::now())
    }

    fn at(&self, ms: u64) -> Now {
        let after = Duration::from_millis(ms) + Duration::from_secs(1_795_334_400);
        Now::new(T0 + after, self.0 + Duration::from_millis(ms), 0.5)
    }

    fn ms(&self, instant: Instant) -> u128 {
        instant.saturating_duration_since(self.0).as_millis()
    }
}

fn endpoint() -> Endpoint {
    Endpoint::parse("http://127.0.0.1:1").unwrap()
}

fn from_profile() -> ClientConfig {
    ClientConfig::from_provider(
        endpoint(),
        ProjectId::new("p1").unwrap(),
        Provider::profile_file_at("/simulated/credentials"),
    )
}

fn static_keys() -> ClientConfig {
    ClientConfig::new(
        endpoint(),
        ProjectId::new("p1").unwrap(),
        AkSk::new("AKEXAMPLE0000000000", "SKEXAMPLEsecretkey")
            .unwrap()
            .into(),
    )
}

#[cfg(feature = "sources")]
/// Drives a refresh whose one need is the profile file.
fn run_profile_refresh(client: &Client, mut job: RefreshJob, now: Now) {
    match job.poll() {
        RefreshIo::Read(_) => job.on_file(Ok(PROFILE.to_vec())),
        other => panic!("the refresh asked for {other:?}, not the profile file"),
    }
    assert!(matches!(job.poll(), RefreshIo::Done));
    client.on_refreshed(job, now);
}

fn ok_body() -> &'static [u8] {
    br#"{"instance_num": 7}"#
}

/// `n` calls started at 0 with nothing cached, each polled at 1 ms until it waits: the
/// refresh jobs they were handed and their waits.
#[cfg(feature = "sources")]
fn calls_waiting_for_credentials<'c>(
    client: &'c Client,
    n: usize,
    clock: &Clock,
) -> (
    Vec<ClientCall<'c, UserInstances>>,
    Vec<RefreshJob>,
    Vec<Wait>,
) {
    let mut calls: Vec<_> = (0..n)
        .map(|_| client.call(UserInstances, clock.at(0)))
        .collect();
    let (mut jobs, mut waits) = (Vec::new(), Vec::new());
    for call in &mut calls {
        loop {
            match call.poll(clock.at(1)) {
                Io::Refresh(job) => jobs.push(job),
                Io::Wait(wait) => {
                    waits.push(wait);
                    break;
                }
                other => panic!("a call went on with nothing cached: {other:?}"),
            }
        }
    }
    (calls, jobs, waits)
}

#[cfg(feature = "sources")]
#[test]
fn many_calls_with_nothing_cached_make_one_refresh_and_the_others_wait_for_it() {
    let clock = Clock::new();
    let client = Client::new(from_profile());
    let (mut calls, mut jobs, waits) = calls_waiting_for_credentials(&client, 10, &clock);
    assert_eq!(
        (jobs.len(), waits.len()),
        (1, 10),
        "one refresh, every call waits"
    );
    for wait in &waits {
        assert_eq!(clock.ms(wait.until()), 30_000, "waits end at the deadline");
        assert_eq!(wait.seen(), client.reports());
    }
    let job = jobs.pop().unwrap();
    run_profile_refresh(&client, job, clock.at(5));
    for wait in &waits {
        assert_ne!(client.reports(), wait.seen(), "the report ends every wait");
    }
    for call in &mut calls {
        let Io::Send(exchange) = call.poll(clock.at(6)) else {
            panic!("a woken call did not send")
        };
        assert_eq!(exchange.route(), Route::Kms);
        assert!(exchange.request().headers().contains_key("authorization"));
        call.on_response(StatusCode::OK, &HeaderMap::new(), ok_body(), clock.at(7));
        let Io::Done(Ok(count)) = call.poll(clock.at(7)) else {
            panic!("the call did not end with the count")
        };
        assert_eq!(count.count(), 7);
    }
}

#[test]
fn a_call_waiting_for_a_refresh_that_never_reports_ends_at_its_deadline() {
    let clock = Clock::new();
    let client = Client::new(from_profile().with_deadline(Duration::from_secs(2)));
    let mut first = client.call(UserInstances, clock.at(0));
    let Io::Refresh(_lost) = first.poll(clock.at(0)) else {
        panic!("no refresh")
    };
    let mut second = client.call(UserInstances, clock.at(0));
    let Io::Wait(wait) = second.poll(clock.at(0)) else {
        panic!("the second call did not wait")
    };
    assert_eq!(clock.ms(wait.until()), 2_000);
    let Io::Done(Err(error)) = second.poll(clock.at(2_000)) else {
        panic!("the call did not end at its deadline")
    };
    assert_eq!(error.kind(), ErrorKind::Credentials, "{error}");
}

#[test]
fn with_one_project_to_find_one_call_asks_iam_and_the_others_wait_for_its_answer() {
    let clock = Clock::new();
    let region = Region::new("cn-north-4").unwrap();
    let config = ClientConfig::discover_project(
        endpoint(),
        region,
        Endpoint::parse("http://127.0.0.1:2").unwrap(),
        Provider::fixed(
            AkSk::new("AKEXAMPLE0000000000", "SKEXAMPLEsecretkey")
                .unwrap()
                .into(),
        ),
    );
    let client = Client::new(config);
    let mut asking = client.call(UserInstances, clock.at(0));
    let mut waiting = client.call(UserInstances, clock.at(0));
    let exchange = loop {
        match asking.poll(clock.at(0)) {
            Io::Refresh(job) => {
                let mut job = job;
                assert!(matches!(job.poll(), RefreshIo::Done));
                client.on_refreshed(job, clock.at(0));
            }
            Io::Send(exchange) => break exchange,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(exchange.route(), Route::Cloud);
    assert_eq!(exchange.request().uri().path(), "/v3/projects");
    let Io::Wait(wait) = waiting.poll(clock.at(1)) else {
        panic!("the second call did not wait for the first's question")
    };
    let body = br#"{"projects":[{"id":"0dea2644dc80d5d22ff1c01e3ebea6fc","name":"cn-north-4"}]}"#;
    asking.on_response(StatusCode::OK, &HeaderMap::new(), body, clock.at(2));
    assert!(
        matches!(asking.poll(clock.at(2)), Io::Wake),
        "the waiters are woken first"
    );
    assert_ne!(client.reports(), wait.seen());
    for call in [&mut asking, &mut waiting] {
        let Io::Send(exchange) = call.poll(clock.at(3)) else {
            panic!("no KMS attempt after the project was found")
        };
        assert_eq!(
            exchange.request().uri().path(),
            "/v1.0/0dea2644dc80d5d22ff1c01e3ebea6fc/kms/user-instances"
        );
    }
    assert_eq!(
        client.project().map(|p| p.as_str().to_owned()).as_deref(),
        Some("0dea2644dc80d5d22ff1c01e3ebea6fc")
    );
}

#[test]
fn a_call_cancelled_while_asking_for_the_project_lets_the_next_one_ask() {
    let clock = Clock::new();
    let config = ClientConfig::discover_project(
        endpoint(),
        Region::new("cn-north-4").unwrap(),
        Endpoint::parse("http://127.0.0.1:2").unwrap(),
        Provider::fixed(
            AkSk::new("AKEXAMPLE0000000000", "SKEXAMPLEsecretkey")
                .unwrap()
                .into(),
        ),
    );
    let client = Client::new(config);
    let ask = |call: &mut ClientCall<'_, UserInstances>, ms| loop {
        match call.poll(clock.at(ms)) {
            Io::Refresh(mut job) => {
                assert!(matches!(job.poll(), RefreshIo::Done));
                client.on_refreshed(job, clock.at(ms));
            }
            other => return other,
        }
    };
    let mut first = client.call(UserInstances, clock.at(0));
    assert!(matches!(ask(&mut first, 0), Io::Send(_)));
    let mut second = client.call(UserInstances, clock.at(0));
    assert!(matches!(ask(&mut second, 0), Io::Wait(_)));
    drop(first);
    let Io::Send(exchange) = ask(&mut second, 1) else {
        panic!("the claim of a cancelled call was not given back")
    };
    assert_eq!(exchange.route(), Route::Cloud);
}

#[test]
fn a_retry_after_answer_sleeps_until_then_and_a_poll_before_it_sleeps_again() {
    let clock = Clock::new();
    let client = Client::new(static_keys().with_retry(RetryPolicy::default()));
    let mut call = client.call(UserInstances, clock.at(0));
    let send = |call: &mut ClientCall<'_, UserInstances>, ms| loop {
        match call.poll(clock.at(ms)) {
            Io::Refresh(mut job) => {
                assert!(matches!(job.poll(), RefreshIo::Done));
                client.on_refreshed(job, clock.at(ms));
            }
            Io::Send(exchange) => return exchange,
            other => panic!("unexpected {other:?}"),
        }
    };
    send(&mut call, 0);
    let mut headers = HeaderMap::new();
    headers.insert("retry-after", "2".parse().unwrap());
    let busy = br#"{"error":{"error_code":"KMS.0105","error_msg":"busy"}}"#;
    call.on_response(StatusCode::TOO_MANY_REQUESTS, &headers, busy, clock.at(10));
    let Io::Sleep(until) = call.poll(clock.at(10)) else {
        panic!("no backoff")
    };
    assert_eq!(clock.ms(until), 2_010);
    assert!(matches!(call.poll(clock.at(1_000)), Io::Sleep(again) if again == until));
    send(&mut call, 2_010);
    call.on_response(
        StatusCode::OK,
        &HeaderMap::new(),
        ok_body(),
        clock.at(2_020),
    );
    assert!(matches!(call.poll(clock.at(2_020)), Io::Done(Ok(_))));
    assert_eq!(call.attempts(), 2);
}

#[test]
fn the_endpoint_that_could_not_be_reached_is_left_at_once_for_the_next() {
    let clock = Clock::new();
    let endpoints = Endpoints::new(vec![
        Endpoint::parse("http://127.0.0.1:1").unwrap(),
        Endpoint::parse("http://127.0.0.1:2").unwrap(),
    ])
    .unwrap();
    let config = ClientConfig::new(
        endpoints,
        ProjectId::new("p1").unwrap(),
        AkSk::new("AKEXAMPLE0000000000", "SKEXAMPLEsecretkey")
            .unwrap()
            .into(),
    );
    let client = Client::new(config);
    let mut call = client.call(UserInstances, clock.at(0));
    let mut hosts = Vec::new();
    loop {
        match call.poll(clock.at(0)) {
            Io::Refresh(mut job) => {
                assert!(matches!(job.poll(), RefreshIo::Done));
                client.on_refreshed(job, clock.at(0));
            }
            Io::Send(exchange) => {
                hosts.push(exchange.request().uri().port_u16());
                match hosts.len() {
                    1 => call.on_failure(
                        TransportFailure::new(TransportErrorKind::Connect, false),
                        clock.at(1),
                    ),
                    _ => {
                        call.on_response(StatusCode::OK, &HeaderMap::new(), ok_body(), clock.at(2))
                    }
                }
            }
            Io::Done(result) => {
                assert_eq!(result.unwrap().count(), 7);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(hosts, [Some(1), Some(2)]);
}

#[test]
fn a_transport_that_polls_before_reporting_gets_an_error_not_a_panic() {
    let clock = Clock::new();
    let client = Client::new(static_keys());
    let mut call = client.call(UserInstances, clock.at(0));
    let mut sent = false;
    loop {
        match call.poll(clock.at(0)) {
            Io::Refresh(mut job) => {
                assert!(matches!(job.poll(), RefreshIo::Done));
                client.on_refreshed(job, clock.at(0));
            }
            Io::Send(_) if !sent => sent = true,
            Io::Done(Err(error)) => {
                assert_eq!(error.kind(), ErrorKind::Io, "{error}");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(matches!(call.poll(clock.at(0)), Io::Done(Err(_))));
}

use crate::call::{TransportErrorKind, TransportFailure};

#[cfg(feature = "sources")]
/// Credentials from ECS metadata at a simulated address.
fn from_metadata() -> ClientConfig {
    let provider = Provider::metadata(|name| {
        (name == crate::credentials::ENV_METADATA_ENDPOINT).then(|| "http://127.0.0.1:9".to_owned())
    });
    ClientConfig::from_provider(endpoint(), ProjectId::new("p1").unwrap(), provider)
}

#[cfg(feature = "sources")]
fn key_document(ak: &str, expires_at: &str) -> Vec<u8> {
    format!(
        r#"{{"credential":{{"access":"{ak}","secret":"SECRET{ak}","securitytoken":"TOKEN{ak}","expires_at":"{expires_at}"}}}}"#
    )
    .into_bytes()
}

#[cfg(feature = "sources")]
/// Drives a metadata refresh: the session token asked for is `tok`, the key request is
/// answered with `key` (`None`: a 500). Gives the methods of the exchanges it asked for.
fn run_metadata_refresh(
    client: &Client,
    mut job: RefreshJob,
    key: Option<&[u8]>,
    now: Now,
) -> Vec<String> {
    let mut asked = Vec::new();
    loop {
        match job.poll() {
            RefreshIo::Send(exchange) => {
                assert_eq!(exchange.route(), Route::Local, "metadata is never proxied");
                let method = exchange.request().method().clone();
                asked.push(method.to_string());
                let (status, body) = match (method, key) {
                    (http::Method::PUT, _) => (StatusCode::OK, b"tok".to_vec()),
                    (_, Some(key)) => (StatusCode::OK, key.to_vec()),
                    (_, None) => (StatusCode::INTERNAL_SERVER_ERROR, Vec::new()),
                };
                job.on_response(status, &HeaderMap::new(), &body);
            }
            RefreshIo::Read(file) => panic!("metadata read a file: {file:?}"),
            RefreshIo::Done => break,
        }
    }
    client.on_refreshed(job, now);
    asked
}

#[cfg(feature = "sources")]
fn access_key_of(exchange: &Exchange) -> String {
    let authorization = exchange.request().headers()["authorization"]
        .to_str()
        .unwrap();
    authorization
        .split("Access=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_default()
        .to_owned()
}

#[cfg(feature = "sources")]
#[test]
fn credentials_due_for_refresh_are_used_at_once_while_one_call_refreshes_and_kept_when_that_fails()
{
    let clock = Clock::new();
    let client = Client::new(from_metadata());
    // 08:00: nothing cached; the first call's refresh gets credentials for an hour.
    let mut first = client.call(UserInstances, clock.at(0));
    let Io::Refresh(job) = first.poll(clock.at(0)) else {
        panic!("no refresh with nothing cached")
    };
    let key = key_document("AKONE", "2026-11-22T09:00:00Z");
    assert_eq!(
        run_metadata_refresh(&client, job, Some(&key), clock.at(1)),
        ["PUT", "GET"]
    );
    let Io::Send(exchange) = first.poll(clock.at(2)) else {
        panic!("no attempt after the refresh")
    };
    assert_eq!(access_key_of(&exchange), "AKONE");
    // 08:40: due (less than half their life left) and still usable: one call is handed the
    // refresh, and every call sends at once with what is cached.
    let at = 40 * 60 * 1000;
    let mut jobs = Vec::new();
    for _ in 0..10 {
        let mut call = client.call(UserInstances, clock.at(at));
        loop {
            match call.poll(clock.at(at)) {
                Io::Refresh(job) => jobs.push(job),
                Io::Send(exchange) => {
                    assert_eq!(access_key_of(&exchange), "AKONE");
                    break;
                }
                other => panic!("a call did not send at once with usable credentials: {other:?}"),
            }
        }
    }
    assert_eq!(jobs.len(), 1, "one refresh for ten calls");
    // That refresh fails. It started from the provider the first refresh left (its session
    // token: no PUT), and the calls after it go on with the cached credentials.
    let job = jobs.pop().unwrap();
    assert_eq!(
        run_metadata_refresh(&client, job, None, clock.at(at + 5)),
        ["GET"]
    );
    let mut later = client.call(UserInstances, clock.at(at + 10));
    let Io::Send(exchange) = later.poll(clock.at(at + 10)) else {
        panic!("a failed refresh made a call wait while the cached credentials are usable")
    };
    assert_eq!(access_key_of(&exchange), "AKONE");
}

/// A client that finds its project through IAM, with static keys.
fn discovering() -> ClientConfig {
    ClientConfig::discover_project(
        endpoint(),
        Region::new("cn-north-4").unwrap(),
        Endpoint::parse("http://127.0.0.1:2").unwrap(),
        Provider::fixed(
            AkSk::new("AKEXAMPLE0000000000", "SKEXAMPLEsecretkey")
                .unwrap()
                .into(),
        ),
    )
}

/// Polls `call` at `now`, running the refreshes it hands out, until it asks for something
/// else.
fn drive(
    client: &Client,
    call: &mut ClientCall<'_, UserInstances>,
    now: Now,
) -> Io<crate::InstanceCount> {
    loop {
        match call.poll(now) {
            Io::Refresh(mut job) => {
                assert!(matches!(job.poll(), RefreshIo::Done));
                client.on_refreshed(job, now);
            }
            other => return other,
        }
    }
}

#[test]
fn a_failed_project_request_is_remembered_and_the_next_call_ends_with_it_until_the_backoff_has_passed()
 {
    let clock = Clock::new();
    let client = Client::new(discovering());
    let mut first = client.call(UserInstances, clock.at(0));
    let Io::Send(exchange) = drive(&client, &mut first, clock.at(0)) else {
        panic!("the first call did not ask IAM")
    };
    assert_eq!(exchange.route(), Route::Cloud);
    first.on_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        &HeaderMap::new(),
        b"{}",
        clock.at(10),
    );
    let first_error = loop {
        match first.poll(clock.at(10)) {
            Io::Wake => {}
            Io::Done(Err(error)) => break error,
            other => panic!("the first call did not end with IAM's error: {other:?}"),
        }
    };
    assert_eq!(first_error.kind(), ErrorKind::Project, "{first_error}");
    // Right after: the second call ends at once with the remembered failure.
    let mut second = client.call(UserInstances, clock.at(20));
    let error = match drive(&client, &mut second, clock.at(20)) {
        Io::Done(Err(error)) => error,
        Io::Send(exchange) => panic!(
            "the second call asked again at once: {:?} {}",
            exchange.route(),
            exchange.request().uri()
        ),
        other => panic!("the second call did not end with the remembered failure: {other:?}"),
    };
    assert_eq!(error.kind(), ErrorKind::Project, "{error}");
    let remembered = remembered_of(&error);
    assert_eq!(remembered.failures(), 1);
    assert_eq!(remembered.asks_again_in(), Duration::from_millis(740));
    assert!(
        error.to_string().starts_with(
            "could not find the project id: IAM answered 500 Internal Server Error (remembered from an earlier call, IAM not asked: 1 failed request in a row; IAM is asked again in 740 ms)"
        ),
        "{error}"
    );
    // The backoff (1 s, times 0.75 by the clock's jitter) has passed: one call asks.
    let mut third = client.call(UserInstances, clock.at(760));
    let Io::Send(exchange) = drive(&client, &mut third, clock.at(760)) else {
        panic!("no call asked IAM again after the backoff")
    };
    assert_eq!(exchange.route(), Route::Cloud);
}

/// The remembered failure a call ended with.
fn remembered_of(error: &crate::call::Error) -> crate::operation::projects::Remembered {
    match error {
        crate::call::Error::Project { error } => error
            .remembered()
            .unwrap_or_else(|| panic!("not remembered: {error}")),
        other => panic!("not a project error: {other}"),
    }
}

/// IAM's error answers to the project request.
const IAM_500: (StatusCode, &[u8]) = (StatusCode::INTERNAL_SERVER_ERROR, b"{}");
const NO_PROJECT: (StatusCode, &[u8]) = (StatusCode::OK, br#"{"projects":[]}"#);
const ONE_PROJECT: &[u8] =
    br#"{"projects":[{"id":"0dea2644dc80d5d22ff1c01e3ebea6fc","name":"cn-north-4"}]}"#;

/// A call started at `ms` asks IAM and gets `answer` at `ms + 1`: the error it ends with.
fn ask_and_fail(
    client: &Client,
    clock: &Clock,
    ms: u64,
    answer: (StatusCode, &[u8]),
) -> crate::call::Error {
    let mut call = client.call(UserInstances, clock.at(ms));
    let Io::Send(exchange) = drive(client, &mut call, clock.at(ms)) else {
        panic!("the call at {ms} ms did not ask IAM")
    };
    assert_eq!(exchange.route(), Route::Cloud);
    call.on_response(answer.0, &HeaderMap::new(), answer.1, clock.at(ms + 1));
    loop {
        match call.poll(clock.at(ms + 1)) {
            Io::Wake => {}
            Io::Done(Err(error)) => return error,
            other => panic!("the call did not end with IAM's error: {other:?}"),
        }
    }
}

#[test]
fn the_calls_waiting_for_a_failed_project_request_end_with_its_error_and_do_not_ask_again() {
    let clock = Clock::new();
    let client = Client::new(discovering());
    let mut asking = client.call(UserInstances, clock.at(0));
    let Io::Send(_) = drive(&client, &mut asking, clock.at(0)) else {
        panic!("the first call did not ask IAM")
    };
    let mut waiting: Vec<_> = (0..5)
        .map(|_| client.call(UserInstances, clock.at(0)))
        .collect();
    let mut waits = Vec::new();
    for call in &mut waiting {
        let Io::Wait(wait) = drive(&client, call, clock.at(1)) else {
            panic!("a call did not wait for the one asking")
        };
        waits.push(wait);
    }
    asking.on_failure(
        TransportFailure::new(TransportErrorKind::Connect, false),
        clock.at(5),
    );
    assert!(
        matches!(asking.poll(clock.at(5)), Io::Wake),
        "waiters first"
    );
    let Io::Done(Err(first)) = asking.poll(clock.at(5)) else {
        panic!("the asking call did not end with its failure")
    };
    assert_eq!(first.kind(), ErrorKind::Project, "{first}");
    assert!(
        matches!(&first, crate::call::Error::Project { error } if error.remembered().is_none()),
        "the call that asked reports its own failure: {first}"
    );
    for (call, wait) in waiting.iter_mut().zip(&waits) {
        assert_ne!(client.reports(), wait.seen(), "the failure ends every wait");
        match drive(&client, call, clock.at(6)) {
            Io::Done(Err(error)) => {
                assert_eq!(error.kind(), ErrorKind::Project, "{error}");
                assert_eq!(remembered_of(&error).failures(), 1);
                assert!(
                    error
                        .to_string()
                        .contains("IAM did not answer (connect, not reachable) (remembered"),
                    "{error}"
                );
            }
            other => panic!("a woken waiter did not end with the failure: {other:?}"),
        }
    }
}

#[test]
fn after_the_backoff_exactly_one_call_asks_and_the_others_wait_for_it() {
    let clock = Clock::new();
    let client = Client::new(discovering());
    ask_and_fail(&client, &clock, 0, IAM_500);
    // Backing off for 750 ms from 1 ms.
    let mut early = client.call(UserInstances, clock.at(750));
    assert!(matches!(
        drive(&client, &mut early, clock.at(750)),
        Io::Done(Err(_))
    ));
    let mut calls: Vec<_> = (0..5)
        .map(|_| client.call(UserInstances, clock.at(751)))
        .collect();
    let (mut asked, mut waited) = (0, 0);
    for call in &mut calls {
        match drive(&client, call, clock.at(751)) {
            Io::Send(exchange) => {
                assert_eq!(exchange.route(), Route::Cloud);
                asked += 1;
            }
            Io::Wait(_) => waited += 1,
            other => panic!("a call after the backoff did neither ask nor wait: {other:?}"),
        }
    }
    assert_eq!((asked, waited), (1, 4));
}

#[test]
fn failures_in_a_row_double_the_delay_up_to_the_cap_of_their_kind() {
    // The clock's jitter is 0.5: each delay is 0.75 of 1 s doubled, capped.
    for (answer, cap, name) in [
        (IAM_500, 3_750, "IAM's 500"),
        (NO_PROJECT, 45_000, "no project"),
    ] {
        let clock = Clock::new();
        let client = Client::new(discovering());
        let mut at = 0;
        let mut delays = Vec::new();
        for failures in 1..=8 {
            let asked = ask_and_fail(&client, &clock, at, answer);
            assert_eq!(asked.kind(), ErrorKind::Project, "{asked}");
            // A call right after ends with it, and says how long is left.
            let mut next = client.call(UserInstances, clock.at(at + 1));
            let Io::Done(Err(error)) = drive(&client, &mut next, clock.at(at + 1)) else {
                panic!("{name}: a call during the backoff did not end with the failure")
            };
            let remembered = remembered_of(&error);
            assert_eq!(remembered.failures(), failures, "{name}");
            let delay = remembered.asks_again_in().as_millis() as u64;
            delays.push(delay);
            // One millisecond before its end, a call still ends with it.
            let mut late = client.call(UserInstances, clock.at(at + delay));
            assert!(
                matches!(
                    drive(&client, &mut late, clock.at(at + delay)),
                    Io::Done(Err(_))
                ),
                "{name}: asked before the backoff had passed"
            );
            at += delay + 1;
        }
        let expected: Vec<u64> = [750, 1_500, 3_000, 6_000, 12_000, 24_000, 48_000, 96_000]
            .into_iter()
            .map(|ms: u64| ms.min(cap))
            .collect();
        assert_eq!(delays, expected, "{name}");
    }
}

#[test]
fn a_success_after_failures_forgets_them_and_every_call_uses_the_project() {
    let clock = Clock::new();
    let client = Client::new(discovering());
    ask_and_fail(&client, &clock, 0, IAM_500);
    ask_and_fail(&client, &clock, 1_000, IAM_500);
    assert_eq!(lock(&client.project).failures(), 2);
    let mut found = client.call(UserInstances, clock.at(5_000));
    let Io::Send(_) = drive(&client, &mut found, clock.at(5_000)) else {
        panic!("no call asked after the backoff")
    };
    found.on_response(
        StatusCode::OK,
        &HeaderMap::new(),
        ONE_PROJECT,
        clock.at(5_001),
    );
    assert!(matches!(found.poll(clock.at(5_001)), Io::Wake));
    let Io::Send(exchange) = found.poll(clock.at(5_001)) else {
        panic!("no KMS attempt after the project was found")
    };
    assert_eq!(exchange.route(), Route::Kms);
    assert_eq!(
        lock(&client.project).failures(),
        0,
        "the failures are forgotten"
    );
    let mut later = client.call(UserInstances, clock.at(5_002));
    let Io::Send(exchange) = drive(&client, &mut later, clock.at(5_002)) else {
        panic!("a call after the success did not go to KMS")
    };
    assert_eq!(exchange.route(), Route::Kms);
}

#[test]
fn a_project_request_cut_short_by_its_own_calls_deadline_is_not_remembered() {
    let clock = Clock::new();
    let client = Client::new(discovering().with_deadline(Duration::from_secs(2)));
    let mut impatient = client.call(UserInstances, clock.at(0));
    let Io::Send(exchange) = drive(&client, &mut impatient, clock.at(0)) else {
        panic!("the first call did not ask IAM")
    };
    assert_eq!(exchange.timeout(), Duration::from_secs(2));
    impatient.on_failure(TransportFailure::timed_out(true), clock.at(2_000));
    assert!(matches!(impatient.poll(clock.at(2_000)), Io::Wake));
    assert!(matches!(impatient.poll(clock.at(2_000)), Io::Done(Err(_))));
    let mut next = client.call(UserInstances, clock.at(2_001));
    let Io::Send(exchange) = drive(&client, &mut next, clock.at(2_001)) else {
        panic!("a deadline that ran out was remembered as IAM's failure")
    };
    assert_eq!(exchange.route(), Route::Cloud);
    assert_eq!(lock(&client.project).failures(), 0);
}

#[cfg(feature = "sources")]
#[test]
fn the_calls_that_waited_for_a_failed_refresh_hear_its_failure_and_later_ones_hear_it_remembered() {
    let clock = Clock::new();
    let client = Client::new(from_profile());
    let (mut calls, mut jobs, _) = calls_waiting_for_credentials(&client, 3, &clock);
    let mut job = jobs.pop().unwrap();
    assert!(jobs.is_empty(), "one refresh");
    let RefreshIo::Read(_) = job.poll() else {
        panic!("the refresh did not ask for the profile file")
    };
    job.on_file(Err(crate::credentials::FileProblem::Unreadable(
        std::io::Error::other("simulated"),
    )));
    assert!(matches!(job.poll(), RefreshIo::Done));
    client.on_refreshed(job, clock.at(5));
    // The starter and the waiters: the refresh ran for them.
    for call in &mut calls {
        let Io::Done(Err(error)) = call.poll(clock.at(6)) else {
            panic!("a call that waited for a failed refresh did not end with its error")
        };
        let credentials = error.credentials().unwrap();
        assert!(credentials.remembered().is_none(), "{error}");
        assert!(!error.to_string().contains("remembered"), "{error}");
    }
    // A call during the backoff (jitter 0.5: 750 ms from 5 ms): no refresh, told so.
    let mut later = client.call(UserInstances, clock.at(100));
    let Io::Done(Err(error)) = later.poll(clock.at(100)) else {
        panic!("a call during the backoff did not end at once")
    };
    let remembered = error.credentials().and_then(|c| c.remembered()).unwrap();
    assert_eq!(
        (remembered.failures(), remembered.asks_again_in()),
        (1, Duration::from_millis(655))
    );
    assert!(
        error
            .to_string()
            .contains("(remembered from an earlier refresh, the source not asked: 1 failed refresh in a row; it is asked again in 655 ms)"),
        "{error}"
    );
}
