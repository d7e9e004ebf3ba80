//! The echo operation, served when configured ([`MockConfig::with_echo`](crate::MockConfig::with_echo)):
//! `POST /v1.0/{project_id}/kms/echo` with a JSON object as its body, for testing a
//! client's own operations (a signed POST whose body is covered by the signature) against
//! the gateway's checks. The route is authenticated, throttled and refused exactly as
//! ShowUserInstances is (the service decides that); this module says what the operation
//! answers once the request got through.
//!
//! KMS has no such API: the emulator's answers are shaped as KMS's, a success as
//! `{"echo":<the body>}` and a body that is not a JSON object as KMS's nested
//! `KMS.0202` ("Invalid request body.", 400).

use http::StatusCode;

use crate::answer::{Answer, JSON};

/// The last segment of the echo path, after `/v1.0/{project_id}`.
pub(crate) const ECHO_SUFFIX: &str = "/kms/echo";

/// The answer to an authenticated echo request with `body`: 200 `{"echo":<body>}` for a
/// JSON object (parsed, then written again: the same value, not the same bytes), 400
/// nested `KMS.0202` for anything else (no body, not JSON, or JSON that is not an object).
pub(crate) fn answer(body: &[u8]) -> Answer {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value @ serde_json::Value::Object(_)) => Answer::new(
            StatusCode::OK,
            JSON,
            serde_json::json!({ "echo": value }).to_string(),
        ),
        _ => Answer::kms(
            StatusCode::BAD_REQUEST,
            "KMS.0202",
            "Invalid request body: the echo operation takes a JSON object.",
        ),
    }
}
