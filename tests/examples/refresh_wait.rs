//! How long a call waits for credentials, measured on loopback against `kms-mock` whose
//! ECS metadata answers 300 ms late (a slow source makes any wait visible):
//!
//! * the first call of a client (nothing cached: it waits for the source);
//! * calls with valid credentials cached, not due (the baseline);
//! * the call made when a refresh falls due, and the calls made while that refresh is in
//!   flight (they sign with the still-valid credentials: no wait).
//!
//! ```sh
//! cargo run --release -p kms-conformance --example refresh_wait
//! ```

#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use kms_conformance::Transport;
use kms_mock::{BlockingMockServer, Fault, MockConfig};
use kms_proto::credentials::{ENV_METADATA_ENDPOINT, Provider};
use kms_proto::{ClientConfig, Endpoint, ProjectId};

const PROJECT: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";
const SOURCE_DELAY: Duration = Duration::from_millis(300);

fn main() {
    println!("source answers {SOURCE_DELAY:?} late; credentials live 4 s (due at 2 s left)");
    println!(
        "{:<10} {:>12} {:>16} {:>14} {:>24}",
        "transport", "first call", "baseline (p50)", "call when due", "max while refreshing"
    );
    for transport in Transport::ALL {
        let server = BlockingMockServer::start(
            MockConfig::new()
                .with_project(PROJECT, 15)
                .with_metadata()
                .with_credential_lifetime(Duration::from_secs(4)),
        )
        .unwrap();
        server.faults().when(
            |r| r.path() == "/openstack/latest/securitykey",
            Fault::DelayHeaders(SOURCE_DELAY),
        );
        let url = server.url();
        let provider =
            Provider::metadata(move |name| (name == ENV_METADATA_ENDPOINT).then(|| url.clone()));
        let config = ClientConfig::from_provider(
            Endpoint::parse(&server.url()).unwrap(),
            ProjectId::new(PROJECT).unwrap(),
            provider,
        );
        let call: Box<dyn Fn() -> Duration> = match transport {
            Transport::Ureq => {
                let client = kms_ureq::Client::new(config).unwrap();
                Box::new(move || {
                    let t = Instant::now();
                    client.show_user_instances().unwrap();
                    t.elapsed()
                })
            }
            Transport::Hyper => {
                let runtime = kms_conformance::runtime();
                let client = runtime
                    .block_on(async { kms_hyper::Client::new(config) })
                    .unwrap();
                Box::new(move || {
                    let t = Instant::now();
                    runtime.block_on(client.show_user_instances()).unwrap();
                    t.elapsed()
                })
            }
        };
        let issued_at = Instant::now();
        let first = call();
        let mut baseline: Vec<Duration> = (0..50).map(|_| call()).collect();
        baseline.sort();
        std::thread::sleep(Duration::from_millis(2100).saturating_sub(issued_at.elapsed()));
        let due = call();
        let during_until = Instant::now() + SOURCE_DELAY;
        let mut during = Duration::ZERO;
        let mut n = 0;
        while Instant::now() < during_until {
            during = during.max(call());
            n += 1;
        }
        println!(
            "{:<10} {:>12.1?} {:>16.1?} {:>14.1?} {:>17.1?} ({n} calls)",
            transport.name(),
            first,
            baseline[baseline.len() / 2],
            due,
            during
        );
        assert_eq!(
            server.issued_credentials(),
            2,
            "one refresh ahead of expiry"
        );
    }
}
