#![no_main]
// The harness lives in kms-fuzz-harness so that `cargo test` replays the same code on the corpus.
libfuzzer_sys::fuzz_target!(|data: &[u8]| kms_fuzz_harness::client_machine(data));
