//! `kms-hyper` calls per second on loopback, 1 and 32 in flight, beside a bare hyper-util
//! client sending the same pre-built request to the same emulator (token auth) and only
//! collecting the body. The two take turns in one process. `-- --test` runs a short round.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

#[path = "../../kms-proto/benches/support/side_by_side.rs"]
mod side_by_side;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client as LegacyClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = ClientConfig::new(
        Endpoint::parse(&server.url()).unwrap(),
        ProjectId::new(PROJECT).unwrap(),
        AuthToken::new(TOKEN).unwrap().into(),
    );
    // The bare side sends exactly the request our client would send first.
    let template = kms_proto::ShowUserInstances::new(ProjectId::new(PROJECT).unwrap())
        .build(
            config.endpoint(),
            &AuthToken::new(TOKEN).unwrap().into(),
            std::time::SystemTime::now(),
        )
        .unwrap();
    let (uri, headers) = (template.uri().clone(), template.headers().clone());
    let (ours, bare) = runtime.block_on(async {
        let ours = kms_hyper::Client::new(config.clone()).unwrap();
        let bare: LegacyClient<HttpConnector, Empty<Bytes>> =
            LegacyClient::builder(TokioExecutor::new())
                .pool_timer(TokioTimer::new())
                .build(HttpConnector::new());
        (ours, bare)
    });
    for in_flight in [1u64, 32] {
        side_by_side::compare_throughput(
            &format!("kms-hyper, {in_flight} in flight (target >= 0.9x)"),
            |n| {
                runtime.block_on(async {
                    let mut tasks = tokio::task::JoinSet::new();
                    for _ in 0..in_flight {
                        let (bare, uri, headers) = (bare.clone(), uri.clone(), headers.clone());
                        tasks.spawn(async move {
                            for _ in 0..n.div_ceil(in_flight) {
                                let mut request = http::Request::new(Empty::<Bytes>::new());
                                *request.uri_mut() = uri.clone();
                                *request.headers_mut() = headers.clone();
                                let response = bare.request(request).await.unwrap();
                                let body = response.into_body().collect().await.unwrap().to_bytes();
                                assert!(!body.is_empty());
                            }
                        });
                    }
                    while tasks.join_next().await.is_some() {}
                })
            },
            |n| {
                runtime.block_on(async {
                    let mut tasks = tokio::task::JoinSet::new();
                    for _ in 0..in_flight {
                        let ours = ours.clone();
                        tasks.spawn(async move {
                            for _ in 0..n.div_ceil(in_flight) {
                                assert_eq!(ours.show_user_instances().await.unwrap().count(), 15);
                            }
                        });
                    }
                    while tasks.join_next().await.is_some() {}
                })
            },
        );
    }
}
