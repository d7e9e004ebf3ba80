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

#[cfg(feature = "sources")]
#[test]
fn many_calls_with_nothing_cached_make_one_refresh_and_the_others_wait_for_it() {
    let clock = Clock::new();
    let client = Client::new(from_profile());
    let mut calls: Vec<_> = (0..10)
        .map(|_| client.call(UserInstances, clock.at(0)))
        .collect();
    let mut jobs = Vec::new();
    let mut waits = Vec::new();
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
