//! Building the ShowUserInstances request.

use std::borrow::Cow;
use std::fmt;
use std::time::SystemTime;

use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderName, HeaderValue, USER_AGENT};
use http::{HeaderMap, Method, Request, Uri};
use sha2::{Digest, Sha256};
use sm3::Sm3;

use crate::credentials::{AkSk, Credentials};
use crate::input::{Input, InvalidInput, Problem, check_chars};
use crate::sdk_date::SdkDate;
use crate::sign::{self, CanonicalSink};
use crate::{Endpoint, Endpoints, ProjectId};

/// `X-Project-Id`, sent with every request as the official SDKs do.
pub const X_PROJECT_ID: HeaderName = HeaderName::from_static("x-project-id");
/// `X-Sdk-Date`, the signing time of AK/SK requests.
pub const X_SDK_DATE: HeaderName = HeaderName::from_static("x-sdk-date");
/// `X-Security-Token`, the session token of temporary AK/SK credentials (signed).
pub const X_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-security-token");
/// `X-Auth-Token`, the IAM token of token authentication.
pub const X_AUTH_TOKEN: HeaderName = HeaderName::from_static("x-auth-token");

/// The `Content-Type` the official SDKs send (and sign) on this bodiless GET. Sending the
/// same keeps our requests indistinguishable from theirs at the gateway.
const JSON: &str = "application/json";

/// The `User-Agent` header: `kms-rs/<version>`, optionally followed by caller text.
///
/// Default: `kms-rs/` and this crate's version.
#[derive(Clone, PartialEq, Eq)]
pub struct UserAgent {
    /// The text, kept beside its header value so that the signed text can be read without
    /// a conversion that could fail.
    text: Cow<'static, str>,
    header: HeaderValue,
}

impl UserAgent {
    /// The longest caller text accepted, in bytes.
    pub const MAX_SUFFIX_LEN: usize = 256;

    /// `kms-rs/<version> <suffix>`, for callers that identify themselves
    /// (for example `myapp/1.2`).
    ///
    /// # Errors
    /// [`InvalidInput`] with [`Input::UserAgent`] when `suffix` is empty, longer than
    /// [`MAX_SUFFIX_LEN`](Self::MAX_SUFFIX_LEN), has surrounding whitespace or contains
    /// anything but printable ASCII and spaces.
    pub fn with_suffix(suffix: &str) -> Result<Self, InvalidInput> {
        crate::input::check_len(Input::UserAgent, suffix, Self::MAX_SUFFIX_LEN)?;
        if suffix.trim() != suffix {
            return Err(InvalidInput::new(
                Input::UserAgent,
                Problem::SurroundingWhitespace,
            ));
        }
        check_chars(
            Input::UserAgent,
            suffix,
            "printable ASCII and spaces",
            |c| c.is_ascii_graphic() || c == ' ',
        )?;
        let text = format!("{} {suffix}", Self::BASE);
        let header = HeaderValue::from_str(&text).map_err(|_| {
            InvalidInput::new(
                Input::UserAgent,
                Problem::Malformed {
                    expected: "header text",
                },
            )
        })?;
        Ok(UserAgent {
            text: Cow::Owned(text),
            header,
        })
    }

    const BASE: &'static str = concat!("kms-rs/", env!("CARGO_PKG_VERSION"));

    /// The header text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Default for UserAgent {
    fn default() -> Self {
        UserAgent {
            text: Cow::Borrowed(Self::BASE),
            header: HeaderValue::from_static(Self::BASE),
        }
    }
}

impl fmt::Debug for UserAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserAgent({:?})", self.as_str())
    }
}

/// The ShowUserInstances call: `GET {endpoint}/v1.0/{project_id}/kms/user-instances`.
///
/// [`build`](Self::build) turns it into an owned `http::Request` with an absolute URI and
/// every header the transport must send, `Host` included:
///
/// | header | value |
/// |---|---|
/// | `Host` | [`Endpoint::authority`] |
/// | `User-Agent` | [`UserAgent`] |
/// | `Content-Type` | `application/json`, as the official SDKs send |
/// | `X-Project-Id` | the project id |
/// | `X-Auth-Token` | token credentials only; marked sensitive |
/// | `X-Sdk-Date` | AK/SK only; the `now` passed in |
/// | `X-Security-Token` | temporary AK/SK only; marked sensitive |
/// | `Authorization` | AK/SK only: the credentials' [`SigningAlgorithm`](crate::sign::SigningAlgorithm) (default SDK-HMAC-SHA256) over all of the above; marked sensitive |
///
/// Build a fresh request for every attempt: a signature is tied to its `X-Sdk-Date`, and
/// the gateway refuses one more than 15 minutes old.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShowUserInstances {
    project_id: ProjectId,
    user_agent: UserAgent,
}

impl ShowUserInstances {
    /// The call's method.
    pub const METHOD: Method = Method::GET;

    /// The call for `project_id`, with the default [`UserAgent`].
    pub fn new(project_id: ProjectId) -> Self {
        ShowUserInstances {
            project_id,
            user_agent: UserAgent::default(),
        }
    }

    /// Replaces the `User-Agent`.
    pub fn with_user_agent(mut self, user_agent: UserAgent) -> Self {
        self.user_agent = user_agent;
        self
    }

    /// The project the call is for.
    pub fn project_id(&self) -> &ProjectId {
        &self.project_id
    }

    /// The path on the wire below `endpoint`: `{base}/v1.0/{project_id}/kms/user-instances`.
    pub fn path(&self, endpoint: &Endpoint) -> String {
        format!(
            "{}/v1.0/{}/kms/user-instances",
            endpoint.base_path(),
            self.project_id
        )
    }

    /// Builds the request, signing it at `now` when `credentials` are AK/SK.
    ///
    /// Equivalent to `self.prepare(endpoint)?.build(credentials, now)`; clients that send
    /// many requests prepare once and build per attempt.
    ///
    /// # Errors
    /// [`InvalidInput`] with [`Input::SigningTime`] when `now` cannot be written as
    /// `X-Sdk-Date` (before 1970 or after 9999). Every other input was validated when it
    /// was made.
    pub fn build(
        &self,
        endpoint: &Endpoint,
        credentials: &Credentials,
        now: SystemTime,
    ) -> Result<Request<Vec<u8>>, InvalidInput> {
        self.prepare(endpoint)?.build(credentials, now)
    }

    /// [`prepare`](Self::prepare) for each of `endpoints`, in their order.
    ///
    /// # Errors
    /// As [`prepare`](Self::prepare).
    pub fn prepare_each(&self, endpoints: &Endpoints) -> Result<PreparedRequests, InvalidInput> {
        let each = endpoints
            .iter()
            .map(|endpoint| self.prepare(endpoint))
            .collect::<Result<Box<[_]>, _>>()?;
        Ok(PreparedRequests { each })
    }

    /// Does, once, everything that is the same for every request to `endpoint`: the URI,
    /// the headers that do not depend on the credentials or the time, and the SHA-256 and
    /// SM3 states of the canonical request up to the signing time (so that every
    /// algorithm starts from a prepared prefix).
    ///
    /// # Errors
    /// [`InvalidInput`] if the URI cannot be formed (validated inputs always can).
    pub fn prepare(&self, endpoint: &Endpoint) -> Result<PreparedRequest, InvalidInput> {
        let path = self.path(endpoint);
        let authority = endpoint.authority();
        let uri =
            Uri::try_from(format!("{}://{authority}{path}", endpoint.scheme())).map_err(|_| {
                InvalidInput::new(Input::Endpoint, Problem::Malformed { expected: "a URL" })
            })?;
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(HOST, header_value(&authority, Input::Endpoint)?);
        headers.insert(USER_AGENT, self.user_agent.header.clone());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
        headers.insert(
            X_PROJECT_ID,
            header_value(self.project_id.as_str(), Input::ProjectId)?,
        );
        // The signed headers sort as content-type, host, user-agent, x-project-id,
        // x-sdk-date[, x-security-token]: everything before the date is fixed.
        let mut prefix = Prefixes {
            sha256: Sha256::new(),
            sm3: Sm3::new(),
        };
        sign::write_canonical_head(&mut prefix, Self::METHOD.as_str(), &path, &[]);
        for (name, value) in [
            ("content-type", JSON),
            ("host", &authority),
            ("user-agent", self.user_agent.as_str()),
            ("x-project-id", self.project_id.as_str()),
        ] {
            sign::write_header_line(&mut prefix, name, value);
        }
        prefix.put(b"x-sdk-date:");
        // One template per kind of credentials, with empty placeholders that `build`
        // overwrites in place: cloning a template and walking it costs no hashing.
        let placeholder = || HeaderValue::from_static("");
        let mut token_headers = headers.clone();
        token_headers.insert(X_AUTH_TOKEN, placeholder());
        let mut aksk_headers = headers.clone();
        aksk_headers.insert(X_SDK_DATE, placeholder());
        aksk_headers.insert(AUTHORIZATION, placeholder());
        let mut aksk_token_headers = aksk_headers.clone();
        aksk_token_headers.insert(X_SECURITY_TOKEN, placeholder());
        Ok(PreparedRequest {
            project_id: self.project_id.clone(),
            uri,
            token_headers,
            aksk_headers,
            aksk_token_headers,
            canonical_prefix: prefix,
        })
    }
}

/// A [`ShowUserInstances`] call prepared for each of a region's [`Endpoints`], in their
/// order: what a client keeps for its life, and a call picks from by endpoint.
#[derive(Clone, Debug)]
pub struct PreparedRequests {
    each: Box<[PreparedRequest]>,
}

impl PreparedRequests {
    /// The project the call is prepared for.
    pub fn project_id(&self) -> &ProjectId {
        // Never empty (there is always one endpoint): the first says it for all.
        let Some(first) = self.each.first() else {
            unreachable!("a PreparedRequests is made for at least one endpoint")
        };
        first.project_id()
    }

    /// The call prepared for endpoint `index` of the [`Endpoints`] it was made for.
    pub fn get(&self, index: usize) -> Option<&PreparedRequest> {
        self.each.get(index)
    }
}

/// A [`ShowUserInstances`] call prepared for one endpoint: build a request from it for
/// every attempt with [`PreparedRequest::build`].
#[derive(Clone)]
pub struct PreparedRequest {
    project_id: ProjectId,
    uri: Uri,
    /// Host, User-Agent, Content-Type, X-Project-Id and an `X-Auth-Token` placeholder.
    token_headers: HeaderMap,
    /// The same with `X-Sdk-Date` and `Authorization` placeholders instead.
    aksk_headers: HeaderMap,
    /// The same with an `X-Security-Token` placeholder too.
    aksk_token_headers: HeaderMap,
    /// SHA-256 and SM3 of the canonical request up to and including `x-sdk-date:`.
    canonical_prefix: Prefixes,
}

/// The canonical request's prefix hashed both ways, so that no algorithm re-hashes it.
#[derive(Clone)]
struct Prefixes {
    sha256: Sha256,
    sm3: Sm3,
}

impl CanonicalSink for Prefixes {
    fn put(&mut self, bytes: &[u8]) {
        self.sha256.update(bytes);
        self.sm3.update(bytes);
    }
}

impl fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedRequest")
            .field("uri", &self.uri)
            .field("headers", &self.token_headers)
            .finish_non_exhaustive()
    }
}

const SIGNED: &str = "content-type;host;user-agent;x-project-id;x-sdk-date";
const SIGNED_WITH_TOKEN: &str =
    "content-type;host;user-agent;x-project-id;x-sdk-date;x-security-token";

impl PreparedRequest {
    /// The project the call is prepared for.
    pub fn project_id(&self) -> &ProjectId {
        &self.project_id
    }

    /// The request of one attempt, signed at `now` when `credentials` are AK/SK. See
    /// [`ShowUserInstances`] for the headers it carries.
    ///
    /// # Errors
    /// [`InvalidInput`] with [`Input::SigningTime`] when `now` cannot be written as
    /// `X-Sdk-Date` (before 1970 or after 9999); with [`Input::SigningAlgorithm`] and
    /// [`Problem::RandomnessUnavailable`] if an ECDSA signature finds no working random
    /// number generator.
    pub fn build(
        &self,
        credentials: &Credentials,
        now: SystemTime,
    ) -> Result<Request<Vec<u8>>, InvalidInput> {
        let mut request = Request::new(Vec::new());
        *request.method_mut() = ShowUserInstances::METHOD;
        *request.uri_mut() = self.uri.clone();
        match credentials {
            Credentials::Token(token) => {
                *request.headers_mut() = self.token_headers.clone();
                fill(request.headers_mut(), &X_AUTH_TOKEN, token.header().clone());
            }
            Credentials::AkSk(aksk) => {
                let date = SdkDate::from_system_time(now)?;
                let mut authorization = HeaderValue::try_from(self.authorization(aksk, date)?)
                    .map_err(|_| {
                        InvalidInput::new(
                            Input::AccessKey,
                            Problem::Malformed {
                                expected: "header text",
                            },
                        )
                    })?;
                authorization.set_sensitive(true);
                let headers = request.headers_mut();
                match aksk.security_token() {
                    Some((_, token)) => {
                        *headers = self.aksk_token_headers.clone();
                        fill(headers, &X_SECURITY_TOKEN, token.clone());
                    }
                    None => *headers = self.aksk_headers.clone(),
                }
                fill(
                    headers,
                    &X_SDK_DATE,
                    header_value(date.as_str(), Input::SigningTime)?,
                );
                fill(headers, &AUTHORIZATION, authorization);
            }
        }
        Ok(request)
    }

    /// The signature of the credentials' algorithm over exactly the headers `build` sends:
    /// the prepared canonical prefix of the algorithm's hash is extended with the date
    /// (and security token), and the string to sign goes to the key the credentials made
    /// once, so no intermediate text is built.
    fn authorization(&self, aksk: &AkSk, date: SdkDate) -> Result<String, InvalidInput> {
        let algorithm = aksk.algorithm();
        let canonical_hash = if algorithm.uses_sm3() {
            self.canonical_hash(
                sign::Buffered::new(self.canonical_prefix.sm3.clone()),
                aksk,
                date,
            )
        } else {
            self.canonical_hash(
                sign::Buffered::new(self.canonical_prefix.sha256.clone()),
                aksk,
                date,
            )
        };
        let signed = Self::signed(aksk);
        let signature = aksk
            .signing_key()
            .sign_string_to_sign(date.as_bytes(), &canonical_hash)
            .map_err(crate::credentials::key_error)?;
        Ok(algorithm.authorization(aksk.access_key(), signed, &signature))
    }

    fn signed(aksk: &AkSk) -> &'static str {
        match aksk.security_token() {
            Some(_) => SIGNED_WITH_TOKEN,
            None => SIGNED,
        }
    }

    fn canonical_hash<D: Digest>(
        &self,
        mut hasher: sign::Buffered<D>,
        aksk: &AkSk,
        date: SdkDate,
    ) -> sign::Hex64 {
        hasher.put(date.as_bytes());
        hasher.put(b"\n");
        if let Some((token, _)) = aksk.security_token() {
            sign::write_header_line(&mut hasher, "x-security-token", token.expose());
        }
        sign::write_canonical_tail(
            &mut hasher,
            Self::signed(aksk).split(';'),
            aksk.algorithm().empty_body_hash(),
        );
        sign::hex(&hasher.finalize())
    }
}

/// Replaces the placeholder of `name` in a prepared template, walking the few headers
/// rather than hashing the name. Every template has its placeholders; were one missing,
/// the header would be inserted, so the request never goes without it.
fn fill(headers: &mut HeaderMap, name: &HeaderName, value: HeaderValue) {
    match headers.iter_mut().find(|(n, _)| *n == name) {
        Some((_, slot)) => *slot = value,
        None => {
            headers.insert(name.clone(), value);
        }
    }
}

fn header_value(value: &str, input: Input) -> Result<HeaderValue, InvalidInput> {
    HeaderValue::from_str(value).map_err(|_| {
        InvalidInput::new(
            input,
            Problem::Malformed {
                expected: "header text",
            },
        )
    })
}
/// Signs any request for a Huawei Cloud API (IAM's project listing, say) with
/// `credentials` (and their [`AkSk::algorithm`](crate::AkSk::algorithm)), as the official
/// SDKs sign every call: for AK/SK, `X-Sdk-Date` (and
/// `X-Security-Token` for temporary credentials) are added and every header of the request
/// is signed, with the query and the body; for a token, `X-Auth-Token` is added. The
/// request must carry `Host` already. Secret headers are marked sensitive.
///
/// The KMS call itself goes through [`PreparedRequest`](crate::PreparedRequest), which
/// signs the same way without building any text.
///
/// # Errors
/// [`InvalidInput`](crate::InvalidInput) with [`Input::SigningTime`](crate::Input::SigningTime)
/// when `now` cannot be written as `X-Sdk-Date`; with
/// [`Input::SigningAlgorithm`](crate::Input::SigningAlgorithm) and
/// [`Problem::RandomnessUnavailable`](crate::Problem::RandomnessUnavailable) if an ECDSA
/// signature finds no working random number generator.
pub fn sign_request(
    request: &mut http::Request<Vec<u8>>,
    credentials: &crate::Credentials,
    now: std::time::SystemTime,
) -> Result<(), crate::InvalidInput> {
    let aksk = match credentials {
        crate::Credentials::Token(token) => {
            request
                .headers_mut()
                .insert(X_AUTH_TOKEN, token.header().clone());
            return Ok(());
        }
        crate::Credentials::AkSk(aksk) => aksk,
    };
    let algorithm = aksk.algorithm();
    let date = crate::SdkDate::from_system_time(now)?;
    let headers = request.headers_mut();
    headers.insert(
        X_SDK_DATE,
        http::HeaderValue::from_str(date.as_str()).map_err(|_| {
            crate::InvalidInput::new(crate::Input::SigningTime, crate::Problem::TimeOutOfRange)
        })?,
    );
    if let Some((_, token)) = aksk.security_token() {
        headers.insert(X_SECURITY_TOKEN, token.clone());
    }
    let (canonical_hash, signed_headers) = {
        let header_text: Vec<(&str, String)> = request
            .headers()
            .iter()
            .map(|(name, value)| {
                // Sensitive values (the security token) are signed like any other.
                (
                    name.as_str(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let header_pairs: Vec<(&str, &str)> =
            header_text.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let query = sign::decode_query(request.uri().query().unwrap_or(""));
        let query_pairs: Vec<(&str, &str)> = query
            .iter()
            .map(|(n, v)| (n.as_ref(), v.as_ref()))
            .collect();
        let canonical = sign::canonical_request_with(
            algorithm,
            &sign::SignableRequest {
                method: request.method().as_str(),
                path: request.uri().path(),
                query: &query_pairs,
                headers: &header_pairs,
                body: request.body(),
            },
        );
        (
            algorithm.hash_hex(canonical.text.as_bytes()),
            canonical.signed_headers,
        )
    };
    let signature = aksk
        .signing_key()
        .sign_string_to_sign(date.as_bytes(), &canonical_hash)
        .map_err(crate::credentials::key_error)?;
    let mut value = http::HeaderValue::try_from(algorithm.authorization(
        aksk.access_key(),
        &signed_headers,
        &signature,
    ))
    .map_err(|_| {
        crate::InvalidInput::new(
            crate::Input::AccessKey,
            crate::Problem::Malformed {
                expected: "header text",
            },
        )
    })?;
    value.set_sensitive(true);
    request
        .headers_mut()
        .insert(http::header::AUTHORIZATION, value);
    Ok(())
}
