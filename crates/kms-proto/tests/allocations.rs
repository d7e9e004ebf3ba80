//! The success path of `parse` makes no heap allocation.
//!
//! dhat's global allocator counts every allocation of this test binary; the file holds one
//! test because dhat allows one profiler per process.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

use http::{HeaderMap, HeaderValue, StatusCode};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = dhat::HeapStats::get().total_blocks;
    f();
    dhat::HeapStats::get().total_blocks - before
}

#[test]
fn the_success_path_allocates_nothing() {
    let _profiler = dhat::Profiler::builder().testing().build();

    let mut headers = HeaderMap::new();
    headers.insert(
        "x-request-id",
        HeaderValue::from_static("7d018b99e75a29dcebbed13d746704c6"),
    );
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let no_headers = HeaderMap::new();
    let bodies: [&[u8]; 4] = [
        br#"{"instance_num": 15}"#,
        b"{\n  \"instance_num\" : 18446744073709551615\n}",
        br#"{"other": "x", "instance_num": 0, "nested": {"a": [1, 2.5, null, true]}}"#,
        br#"{"instance_num":3,"code":0,"message":"ok"}"#,
    ];
    for body in bodies {
        for h in [&headers, &no_headers] {
            let mut result = None;
            let n = allocations_during(|| result = Some(kms_proto::parse(StatusCode::OK, h, body)));
            let count = result.unwrap().unwrap();
            assert_eq!(
                n,
                0,
                "{} allocations parsing {:?}",
                n,
                String::from_utf8_lossy(body)
            );
            assert_eq!(count.request_id().is_some(), h.contains_key("x-request-id"));
        }
    }

    // The counter is live: the error path does allocate, and is seen doing so.
    let n = allocations_during(|| {
        let _ = kms_proto::parse(
            StatusCode::UNAUTHORIZED,
            &headers,
            br#"{"error_code":"X","error_msg":"m"}"#,
        );
    });
    assert!(
        n > 0,
        "the allocation counter saw nothing on the error path"
    );
}
