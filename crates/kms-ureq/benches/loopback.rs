//! `kms-ureq` calls per second on loopback, 1 and 4 threads, beside a bare ureq agent
//! sending the same pre-built request to the same emulator (token auth) and only reading
//! the body. The two take turns in one process. `-- --test` runs a short round.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

#[path = "../../kms-proto/benches/support/side_by_side.rs"]
mod side_by_side;

use std::io::Read;

use kms_mock::{BlockingMockServer, MockConfig};
use kms_proto::{AuthToken, ClientConfig, Endpoint, ProjectId};

const PROJECT: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";
const TOKEN: &str = "bench-token-MIIEhQYJKoZIhvcNAQcCoIIEdjCCBHICAQExDTALBglghkgB";

fn main() {
    let server = BlockingMockServer::start(
        MockConfig::new()
            .with_project(PROJECT, 15)
            .with_token(TOKEN, PROJECT),
    )
    .unwrap();
    let config = ClientConfig::new(
        Endpoint::parse(&server.url()).unwrap(),
        ProjectId::new(PROJECT).unwrap(),
        AuthToken::new(TOKEN).unwrap().into(),
    );
    let template = kms_proto::ShowUserInstances::new(ProjectId::new(PROJECT).unwrap())
        .build(
            config.endpoint(),
            &AuthToken::new(TOKEN).unwrap().into(),
            std::time::SystemTime::now(),
        )
        .unwrap();
    let (uri, headers) = (template.uri().clone(), template.headers().clone());
    let ours = kms_ureq::Client::new(config).unwrap();
    let bare: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .new_agent();
    for threads in [1u64, 4] {
        side_by_side::compare_throughput(
            &format!("kms-ureq, {threads} thread(s) (target >= 0.9x)"),
            |n| {
                std::thread::scope(|scope| {
                    for _ in 0..threads {
                        let (bare, uri, headers) = (bare.clone(), uri.clone(), headers.clone());
                        scope.spawn(move || {
                            for _ in 0..n.div_ceil(threads) {
                                let mut request = http::Request::new(());
                                *request.uri_mut() = uri.clone();
                                *request.headers_mut() = headers.clone();
                                let response = bare.run(request).unwrap();
                                let mut body = Vec::new();
                                response
                                    .into_body()
                                    .into_reader()
                                    .read_to_end(&mut body)
                                    .unwrap();
                                assert!(!body.is_empty());
                            }
                        });
                    }
                });
            },
            |n| {
                std::thread::scope(|scope| {
                    for _ in 0..threads {
                        let ours = ours.clone();
                        scope.spawn(move || {
                            for _ in 0..n.div_ceil(threads) {
                                assert_eq!(ours.show_user_instances().unwrap().count(), 15);
                            }
                        });
                    }
                });
            },
        );
    }
}
