//! kms-hyper leaves nothing behind: many more callers than connections, then tokio's task
//! metrics before and after the client is dropped, and the emulator's count of the
//! connections it saw. Its own runtime, so no other test's tasks are counted.
//!
//! Set `KMS_POOL_CALLS` to make more calls (the closing note of issue 11 quotes 20,000);
//! `--nocapture` prints the task counts and the resident memory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)] // a test fails by panicking

use std::time::{Duration, Instant};

use kms_mock::{BlockingMockServer, MockConfig};
use kms_proto::{AkSk, ClientConfig, Endpoint, ProjectId};

const PROJECT: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";
const AK: &str = "POOLTESTAK000000001";
const SK: &str = "pool-test-secret-key-000000000000000000";

const CONNECTIONS: usize = 8;
const CALLERS: usize = 64;

/// Resident memory of this process, in KiB (Linux; 0 elsewhere).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4)
}

/// Waits until `f` holds or `limit` passes; returns whether it held.
async fn eventually(limit: Duration, f: impl Fn() -> bool) -> bool {
    let started = Instant::now();
    while !f() {
        if started.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

#[test]
fn many_callers_few_connections_leave_no_task_behind() {
    let calls: usize = std::env::var("KMS_POOL_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    let server = BlockingMockServer::start(
        MockConfig::new()
            .with_project(PROJECT, 15)
            .with_aksk(AK, SK),
    )
    .unwrap();
    let config = ClientConfig::new(
        Endpoint::parse(&server.url()).unwrap(),
        ProjectId::new(PROJECT).unwrap(),
        AkSk::new(AK, SK).unwrap().into(),
    )
    .with_max_connections(CONNECTIONS);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let metrics = runtime.metrics();
    runtime.block_on(async {
        assert_eq!(metrics.num_alive_tasks(), 0, "a fresh runtime has no task");
        let client = kms_hyper::Client::new(config).unwrap();
        // Two equal halves; the emulator (in this process) forgets its requests after each,
        // so what the second half adds to resident memory is what the client keeps per call.
        let mut rss = Vec::new();
        for half in [calls / 2, calls - calls / 2] {
            let mut callers = tokio::task::JoinSet::new();
            for caller in 0..CALLERS {
                let client = client.clone();
                let share = half / CALLERS + usize::from(caller < half % CALLERS);
                callers.spawn(async move {
                    for _ in 0..share {
                        let count = client.show_user_instances().await.unwrap();
                        assert_eq!(count.count(), 15);
                    }
                });
            }
            while let Some(joined) = callers.join_next().await {
                joined.unwrap();
            }
            server.clear_requests();
            rss.push(rss_kib());
        }
        // What an idle client may hold: one task per open connection (hyper's connection
        // driver) and the pool's idle reaper. A little time lets finished work wind down.
        let bound = CONNECTIONS + 1;
        let settled = eventually(Duration::from_secs(2), || {
            metrics.num_alive_tasks() <= bound
        })
        .await;
        let idle_tasks = metrics.num_alive_tasks();
        drop(client);
        let gone = eventually(Duration::from_secs(3), || metrics.num_alive_tasks() == 0).await;
        let dropped_tasks = metrics.num_alive_tasks();
        println!(
            "{calls} calls, {CALLERS} callers, {CONNECTIONS} connections: tasks alive after the \
             calls {idle_tasks}, after the client was dropped {dropped_tasks}; resident memory \
             after the first half {} KiB, after the second {} KiB; the emulator accepted {} \
             connections, at most {} open at once",
            rss[0],
            rss[1],
            server.connections(),
            server.peak_open_connections()
        );
        assert!(
            settled,
            "{idle_tasks} tasks alive after {calls} calls for a pool of {CONNECTIONS}"
        );
        assert!(
            gone,
            "{dropped_tasks} tasks still alive 3 s after the client was dropped"
        );
    });
    drop(runtime);
    assert!(
        server.peak_open_connections() <= CONNECTIONS as u64,
        "{} connections open at once for a pool of {CONNECTIONS}",
        server.peak_open_connections()
    );
    // Every connection carried a request: the pool never opened one nobody needed.
    assert!(
        server.connections() <= CONNECTIONS as u64,
        "{} connections accepted for a pool of {CONNECTIONS}",
        server.connections()
    );
}
