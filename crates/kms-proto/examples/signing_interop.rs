//! A line-oriented bridge for `interop/signing/cross_check.py`: one JSON request per line
//! on stdin, one JSON answer per line on stdout, so that the official Python signer and
//! this crate can check each other's ECDSA and SM2 signatures.
//!
//! - `{"op": "public_key", "algorithm", "ak", "sk"}` -> `{"public_key": "<SEC1 hex>"}`
//! - `{"op": "sign", "algorithm", "ak", "sk", "method", "url", "headers": [[n, v]], "body"}`
//!   -> `{"headers": [[n, v]]}`: the request signed by `kms_proto::sign_request` at its
//!   `X-Sdk-Date` (which `headers` must hold)
//! - `{"op": "verify", "ak", "sk", "method", "path", "query", "headers": [[n, v]], "body"}`
//!   -> `{"ok": true, "algorithm": ".."}` or `{"ok": false, "error": ".."}`: `verify::verify`
//!   at the request's own `X-Sdk-Date`
//!
//! Test machinery, not an API: fake credentials only.

#![allow(clippy::print_stdout, reason = "answers go to stdout, one line each")]

use std::io::{BufRead, Write};

use kms_proto::sign::{self, SigningAlgorithm, SigningKey};
use kms_proto::verify::{self, ReceivedRequest};
use kms_proto::{AkSk, SdkDate};
use serde_json::{Value, json};

fn main() {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let answer = match serde_json::from_str::<Value>(&line) {
            Ok(request) => handle(&request).unwrap_or_else(|e| json!({ "error": e })),
            Err(e) => json!({ "error": e.to_string() }),
        };
        if writeln!(stdout, "{answer}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            break;
        }
    }
}

fn text<'a>(request: &'a Value, field: &str) -> Result<&'a str, String> {
    request
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{field} is missing"))
}

fn algorithm(request: &Value) -> Result<SigningAlgorithm, String> {
    text(request, "algorithm")?
        .parse()
        .map_err(|e: sign::UnknownAlgorithm| e.to_string())
}

fn headers(request: &Value) -> Result<http::HeaderMap, String> {
    let mut map = http::HeaderMap::new();
    for pair in request
        .get("headers")
        .and_then(Value::as_array)
        .ok_or("headers is missing")?
    {
        let (Some(name), Some(value)) = (
            pair.get(0).and_then(Value::as_str),
            pair.get(1).and_then(Value::as_str),
        ) else {
            return Err("a header is not [name, value]".into());
        };
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?,
            http::HeaderValue::from_str(value).map_err(|e| e.to_string())?,
        );
    }
    Ok(map)
}

fn date(headers: &http::HeaderMap) -> Result<std::time::SystemTime, String> {
    headers
        .get("x-sdk-date")
        .and_then(|v| v.to_str().ok())
        .and_then(SdkDate::parse)
        .map(|d| d.to_system_time())
        .ok_or_else(|| "no X-Sdk-Date".into())
}

fn handle(request: &Value) -> Result<Value, String> {
    let (ak, sk) = (text(request, "ak")?, text(request, "sk")?);
    let body = request
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or("")
        .as_bytes()
        .to_vec();
    match text(request, "op")? {
        "public_key" => {
            let key = SigningKey::new(algorithm(request)?, ak, sk).map_err(|e| e.to_string())?;
            let sec1 = key.public_key_sec1().ok_or("an HMAC has no public key")?;
            Ok(json!({ "public_key": sec1.iter().map(|b| format!("{b:02x}")).collect::<String>() }))
        }
        "sign" => {
            let algorithm = algorithm(request)?;
            let credentials = AkSk::new(ak, sk)
                .and_then(|k| k.with_algorithm(algorithm))
                .map_err(|e| e.to_string())?;
            let headers = headers(request)?;
            let now = date(&headers)?;
            let mut http_request = http::Request::builder()
                .method(text(request, "method")?)
                .uri(text(request, "url")?)
                .body(body)
                .map_err(|e| e.to_string())?;
            *http_request.headers_mut() = headers;
            kms_proto::sign_request(&mut http_request, &credentials.into(), now)
                .map_err(|e| e.to_string())?;
            let signed: Vec<[&str; 2]> = http_request
                .headers()
                .iter()
                .map(|(n, v)| [n.as_str(), v.to_str().unwrap_or("")])
                .collect();
            Ok(json!({ "headers": signed }))
        }
        "verify" => {
            let headers = headers(request)?;
            let now = date(&headers)?;
            let received = ReceivedRequest {
                method: text(request, "method")?,
                path: text(request, "path")?,
                query: text(request, "query")?,
                headers: &headers,
                body: &body,
            };
            Ok(match verify::verify(&received, |_| Some(sk), now) {
                Ok(verified) => json!({ "ok": true, "algorithm": verified.algorithm().as_str() }),
                Err(e) => json!({ "ok": false, "error": e.to_string() }),
            })
        }
        other => Err(format!("unknown op {other:?}")),
    }
}
