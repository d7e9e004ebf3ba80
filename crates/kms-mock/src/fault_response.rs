//! What each scripted [`Fault`] sends instead of, or around, the normal answer.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};

use crate::answer::Answer;
use crate::body::{MockBody, Step};
use crate::faults::Fault;
use crate::io::{Output, OutputControl};
use crate::lock;

/// How long a body that is cut short pauses before failing: long enough for what was sent
/// to reach the client before hyper closes the connection.
const BEFORE_CLOSE: Duration = Duration::from_millis(20);

/// The request a fault answers, for [`Fault::Echo`]: its head and the body read.
pub(crate) struct Asked<'a> {
    pub(crate) parts: &'a http::request::Parts,
    pub(crate) body: &'a [u8],
}

/// The response `fault` makes of `answer` (the one the emulator would otherwise send).
/// Faults on the connection itself set `output`, which the connection's writer obeys.
pub(crate) async fn apply_fault(
    fault: Fault,
    answer: Answer,
    request_id: &str,
    output: &OutputControl,
    asked: Asked<'_>,
) -> Response<MockBody> {
    match fault {
        Fault::Echo { status } => echo(status, &asked, request_id),
        Fault::Respond {
            status,
            headers,
            body,
        } => scripted(status, headers, body, request_id),
        Fault::DelayHeaders(delay) => {
            tokio::time::sleep(delay).await;
            answer.into_response(request_id, Vec::new())
        }
        Fault::StallBody { after, stall } => stalled(answer, after, stall, request_id),
        Fault::CloseMidBody { after } => closed_mid_body(answer, after, request_id),
        Fault::TruncatedBody { declared, sent } => truncated(declared, sent, request_id),
        Fault::EndlessBody => endless(request_id),
        Fault::HugeBody { len } => huge(len, request_id),
        Fault::CloseBeforeResponse => on_the_wire(Output::Close, answer, request_id, output),
        Fault::NotHttp(bytes) => on_the_wire(Output::Replace(bytes), answer, request_id, output),
        Fault::EndlessInformational => {
            // hyper sends no 1xx of its own choosing, so the bytes replace its answer.
            let processing = Bytes::from_static(b"HTTP/1.1 102 Processing\r\n\r\n");
            on_the_wire(Output::Repeat(processing), answer, request_id, output)
        }
        Fault::Panic => {
            #[allow(
                clippy::panic,
                reason = "the fault exists to prove a panic is contained"
            )]
            {
                panic!("kms-mock: scripted panic in the request handler")
            }
        }
    }
}

/// [`Fault::Respond`]: the scripted status, headers and body, with an `X-Request-Id` unless
/// the script sends its own.
fn scripted(
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
    request_id: &str,
) -> Response<MockBody> {
    // A status hyper cannot send as a final answer (1xx, or outside 100-999) is a mistake
    // in the test script: say so loudly rather than answer 200.
    let Some(status) = StatusCode::from_u16(status)
        .ok()
        .filter(|s| s.as_u16() >= 200)
    else {
        return invalid_status(status, request_id);
    };
    let mut response = Response::new(MockBody::full(body));
    *response.status_mut() = status;
    let scripted_id = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("x-request-id"));
    if !scripted_id && let Ok(id) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-request-id", id);
    }
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// [`Fault::Echo`]: an error document quoting the request whole.
fn echo(status: u16, asked: &Asked<'_>, request_id: &str) -> Response<MockBody> {
    let mut text = format!(
        "{} {}",
        asked.parts.method,
        asked.parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    for (name, value) in &asked.parts.headers {
        text.push_str(&format!(
            "; {name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    text.push_str(&format!("; body: {}", String::from_utf8_lossy(asked.body)));
    let body = serde_json::json!({
        "error_code": "MOCK.ECHO",
        "error_msg": text,
        "request_id": request_id,
    })
    .to_string();
    scripted(
        status,
        vec![(
            "content-type".to_owned(),
            "application/json;charset=UTF-8".to_owned(),
        )],
        Bytes::from(body),
        request_id,
    )
}

/// 500 `MOCK.0001`: the script asked for a status that is not a final HTTP status.
fn invalid_status(status: u16, request_id: &str) -> Response<MockBody> {
    let mut response = Answer::gateway(
        StatusCode::INTERNAL_SERVER_ERROR,
        "MOCK.0001",
        &format!("kms-mock: the scripted status {status} is not a final HTTP status"),
        request_id,
    )
    .into_response(request_id, Vec::new());
    response.headers_mut().insert(
        "x-kms-mock-error",
        HeaderValue::from_static("invalid scripted status"),
    );
    response
}

/// [`Fault::StallBody`]: the answer, paused for `stall` after `after` bytes of its body.
fn stalled(answer: Answer, after: usize, stall: Duration, request_id: &str) -> Response<MockBody> {
    let body = Bytes::from(answer.body.clone().into_bytes());
    let cut = after.min(body.len());
    let mut response = answer.into_response(request_id, content_length(body.len() as u64));
    *response.body_mut() = MockBody::scripted([
        Step::Data(body.slice(..cut)),
        Step::Sleep(stall),
        Step::Data(body.slice(cut..)),
    ]);
    response
}

/// [`Fault::CloseMidBody`]: the answer, its connection closed after `after` bytes of its
/// body (at least one byte short of the whole).
fn closed_mid_body(answer: Answer, after: usize, request_id: &str) -> Response<MockBody> {
    let body = Bytes::from(answer.body.clone().into_bytes());
    let cut = after.min(body.len().saturating_sub(1));
    let mut response = answer.into_response(request_id, content_length(body.len() as u64));
    *response.body_mut() = MockBody::scripted([
        Step::Data(body.slice(..cut)),
        Step::Sleep(BEFORE_CLOSE),
        Step::Fail,
    ]);
    response
}

/// [`Fault::TruncatedBody`]: a 200 that declares `declared` bytes, sends `sent`, and closes.
fn truncated(declared: u64, sent: Bytes, request_id: &str) -> Response<MockBody> {
    let mut response = Answer::ok(0).into_response(request_id, content_length(declared));
    *response.body_mut() =
        MockBody::scripted([Step::Data(sent), Step::Sleep(BEFORE_CLOSE), Step::Fail]);
    response
}

/// [`Fault::EndlessBody`]: a chunked 200 whose JSON string never ends.
fn endless(request_id: &str) -> Response<MockBody> {
    let mut response = Answer::ok(0).into_response(request_id, Vec::new());
    response.headers_mut().remove(http::header::CONTENT_LENGTH);
    *response.body_mut() = MockBody::scripted([
        Step::Data(Bytes::from_static(b"{\"instance_num\":1,\"padding\":\"")),
        Step::Repeat {
            chunk: filler(),
            remaining: None,
        },
    ]);
    response
}

/// [`Fault::HugeBody`]: a 200 of `len` bytes, made as they are sent.
fn huge(len: u64, request_id: &str) -> Response<MockBody> {
    let mut response = Answer::ok(0).into_response(request_id, content_length(len));
    *response.body_mut() = MockBody::scripted([Step::Repeat {
        chunk: filler(),
        remaining: Some(len),
    }]);
    response
}

/// A fault on the connection: `output` tells the connection's writer what to send instead
/// of the answer, which is made only for hyper to write into it.
fn on_the_wire(
    instead: Output,
    answer: Answer,
    request_id: &str,
    output: &OutputControl,
) -> Response<MockBody> {
    *lock(output) = instead;
    answer.into_response(request_id, Vec::new())
}

fn content_length(len: u64) -> Vec<(String, String)> {
    vec![("content-length".to_owned(), len.to_string())]
}

/// 16 KiB of spaces: valid inside a JSON string, cheap to send again and again.
fn filler() -> Bytes {
    Bytes::from(vec![b' '; 16 * 1024])
}
