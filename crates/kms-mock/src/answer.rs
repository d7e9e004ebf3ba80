//! The answers the emulator makes, in the shapes the gateway and KMS use, and how one
//! becomes an HTTP response.

use http::{HeaderValue, Response, StatusCode};

use crate::body::MockBody;

/// An answer to send, before faults are applied to it.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: String,
    /// Seconds for `Retry-After`.
    pub(crate) retry_after: Option<u64>,
    /// Whether to send `Connection: close` (hyper then closes after the answer).
    pub(crate) close: bool,
    /// The `Content-Type` of `body`.
    pub(crate) content_type: &'static str,
    /// Headers of this answer beyond the usual ones (`Allow` on a 405, IAM's
    /// `X-IAM-Trace-Id` and `X-Subject-Token`).
    pub(crate) headers: Vec<(&'static str, String)>,
}

/// The `Content-Type` of the gateway's and KMS's JSON answers.
pub(crate) const JSON: &str = "application/json;charset=UTF-8";
/// The `Content-Type` of the metadata service's text answers.
pub(crate) const TEXT: &str = "text/plain; charset=utf-8";

impl Answer {
    /// An answer with `status`, `body` of `content_type`, and nothing else.
    pub(crate) fn new(status: StatusCode, content_type: &'static str, body: String) -> Self {
        Answer {
            status,
            body,
            retry_after: None,
            close: false,
            content_type,
            headers: Vec::new(),
        }
    }

    /// 200 with the count.
    pub(crate) fn ok(count: u64) -> Self {
        Answer::new(
            StatusCode::OK,
            JSON,
            format!("{{\"instance_num\":{count}}}"),
        )
    }

    /// The gateway's flat shape, with the request id in the body.
    pub(crate) fn gateway(status: StatusCode, code: &str, message: &str, request_id: &str) -> Self {
        // Written by hand to keep the gateway's field order (serde_json's map sorts keys).
        let body = format!(
            "{{\"error_msg\":{},\"error_code\":{},\"request_id\":{}}}",
            json_string(message),
            json_string(code),
            json_string(request_id)
        );
        Answer::new(status, JSON, body)
    }

    /// IAM's flat shape, `{"error_code":"IAM.0001","error_msg":"..."}`.
    pub(crate) fn iam(status: StatusCode, code: &str, message: &str) -> Self {
        let body = format!(
            "{{\"error_code\":{},\"error_msg\":{}}}",
            json_string(code),
            json_string(message)
        );
        Answer::new(status, JSON, body)
    }

    /// Keystone's shape, which IAM's OpenStack-compatible APIs use:
    /// `{"error":{"code":401,"message":"...","title":"Unauthorized"}}`, the numeric code
    /// being the status and the title its reason phrase.
    pub(crate) fn keystone(status: StatusCode, message: &str) -> Self {
        let body = serde_json::json!({"error": {
            "code": status.as_u16(),
            "message": message,
            "title": status.canonical_reason().unwrap_or("Error"),
        }});
        Answer::new(status, JSON, body.to_string())
    }

    /// KMS's nested shape.
    pub(crate) fn kms(status: StatusCode, code: &str, message: &str) -> Self {
        let body = serde_json::json!({"error": {"error_code": code, "error_msg": message}});
        Answer::new(status, JSON, body.to_string())
    }

    /// The response that sends this answer: its body and `Content-Type`, `X-Request-Id`,
    /// `Retry-After` and `Connection: close` when the answer asks for them, the answer's own
    /// headers, then `extra` headers (a name or value that is not valid HTTP is left out).
    pub(crate) fn into_response(
        self,
        request_id: &str,
        extra: Vec<(String, String)>,
    ) -> Response<MockBody> {
        let mut response = Response::new(MockBody::full(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        if let Ok(id) = HeaderValue::from_str(request_id) {
            headers.insert("x-request-id", id);
        }
        if let Some(after) = self.retry_after {
            headers.insert(http::header::RETRY_AFTER, HeaderValue::from(after));
        }
        if self.close {
            headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        let own = self.headers.into_iter().map(|(n, v)| (n.to_owned(), v));
        for (name, value) in own.chain(extra) {
            if let (Ok(name), Ok(mut value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                // IAM's token, in a response, is as secret as in a request.
                value.set_sensitive(name == "x-subject-token");
                headers.insert(name, value);
            }
        }
        response
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}
