//! `kms-ureq` calls per second on loopback with AK/SK, per signing algorithm, one thread,
//! beside a bare ureq agent replaying one request signed with the same algorithm to the
//! same emulator (which accepts a signature for 15 minutes) and only reading the body. The
//! two take turns in one process. What the client's signature costs a whole call is the
//! difference; the emulator's verification is paid by both. `-- --test` runs a short round.
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
use kms_proto::{AkSk, ClientConfig, Credentials, Endpoint, ProjectId, SigningAlgorithm};

const PROJECT: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";
const AK: &str = "AKBENCH000000000000";
const SK: &str = "SKBENCHsecretkey0000000000000000000000";

fn main() {
    let server = BlockingMockServer::start(
        MockConfig::new()
            .with_project(PROJECT, 15)
            .with_aksk(AK, SK),
    )
    .unwrap();
    let endpoint = Endpoint::parse(&server.url()).unwrap();
    let bare: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .new_agent();
    for algorithm in SigningAlgorithm::ALL {
        let credentials: Credentials = AkSk::new(AK, SK)
            .unwrap()
            .with_algorithm(algorithm)
            .unwrap()
            .into();
        let signed = kms_proto::ShowUserInstances::new(ProjectId::new(PROJECT).unwrap())
            .build(&endpoint, &credentials, std::time::SystemTime::now())
            .unwrap();
        let (uri, headers) = (signed.uri().clone(), signed.headers().clone());
        let ours = kms_ureq::Client::new(ClientConfig::new(
            endpoint.clone(),
            ProjectId::new(PROJECT).unwrap(),
            credentials,
        ))
        .unwrap();
        side_by_side::compare_throughput(
            &format!("kms-ureq, 1 thread, {algorithm}"),
            |n| {
                for _ in 0..n {
                    let mut request = http::Request::new(());
                    *request.uri_mut() = uri.clone();
                    *request.headers_mut() = headers.clone();
                    let response = bare.run(request).unwrap();
                    assert_eq!(response.status(), 200, "{algorithm}");
                    let mut body = Vec::new();
                    response
                        .into_body()
                        .into_reader()
                        .read_to_end(&mut body)
                        .unwrap();
                    assert!(!body.is_empty());
                }
            },
            |n| {
                for _ in 0..n {
                    assert_eq!(ours.show_user_instances().unwrap().count(), 15);
                }
            },
        );
    }
}
