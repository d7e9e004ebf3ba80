#![no_main]
// The harness lives in kms-proto so that `cargo test` replays the same code on the corpus.
libfuzzer_sys::fuzz_target!(|data: &[u8]| kms_proto::harness::verify_untrusted(data));
