//! What the emulator's credential endpoints hand out and remember: temporary AK/SK pairs
//! with their security tokens (from the ECS metadata service, CCE pod identity, IAM
//! federation and STS), the metadata service's session tokens, and the IAM tokens it issues
//! (password and federation tokens).
//!
//! The tables are bounded, so that a client asking again and again cannot make the
//! emulator grow without limit: at [`MAX_ISSUED_CREDENTIALS`] credentials (or
//! [`MAX_METADATA_TOKENS`] session tokens, or [`MAX_ISSUED_TOKENS`] IAM tokens), issuing one
//! more first forgets every expired entry, then, if all are still live, the one that
//! expires soonest. A credential forgotten that way is refused as an unknown access key (a
//! token as an unknown token); one that expired and is still remembered is refused as
//! expired.
//!
//! The random values come from SHA-256 in counter mode over a seed taken from the
//! operating system (through the standard library's randomly keyed hasher), the time and
//! the process id: unpredictable enough for an emulator's test credentials, and without a
//! dependency for it. They protect nothing real.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::config::AkSkEntry;
use crate::lock;

/// At most this many issued temporary credentials are remembered (expired ones are
/// forgotten first, then the live one that expires soonest): see
/// [`MockServer::issued_credentials`](crate::MockServer::issued_credentials).
pub const MAX_ISSUED_CREDENTIALS: usize = 10_000;

/// At most this many metadata session tokens are remembered, forgotten in the same order
/// as credentials beyond [`MAX_ISSUED_CREDENTIALS`].
pub const MAX_METADATA_TOKENS: usize = 10_000;

/// At most this many issued IAM tokens are remembered, forgotten in the same order as
/// credentials beyond [`MAX_ISSUED_CREDENTIALS`]: see
/// [`MockServer::issued_tokens`](crate::MockServer::issued_tokens).
pub const MAX_ISSUED_TOKENS: usize = 10_000;

/// The longest session token lifetime the metadata service grants, in seconds (6 hours);
/// `X-Metadata-Token-Ttl-Seconds` must be from 1 to this.
pub(crate) const MAX_METADATA_TOKEN_TTL: u64 = 21_600;

/// The length of an issued access key id.
const AK_LEN: usize = 20;
/// The length of an issued secret key.
const SK_LEN: usize = 40;
/// The length of an issued security token (real ones are long base64 text too).
const SECURITY_TOKEN_LEN: usize = 320;
/// The length of a metadata session token.
const SESSION_TOKEN_LEN: usize = 56;
/// The length of an issued IAM token (real ones are PKI tokens, base64 text of a few KiB
/// starting with `MII`).
const IAM_TOKEN_LEN: usize = 1024;

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const HEX: &[u8] = b"0123456789abcdef";

/// The latest time RFC 3339 can write with a four-digit year: 9999-12-31T23:59:59.999999Z.
const LATEST_SECS: u64 = 253_402_300_799;

/// The issued credentials, session tokens and IAM tokens of one emulator.
pub(crate) struct Issued {
    random: Random,
    /// By access key id.
    credentials: Mutex<HashMap<String, Arc<AkSkEntry>>>,
    /// Session token → when it expires.
    sessions: Mutex<HashMap<String, SystemTime>>,
    /// IAM token → what it is for.
    tokens: Mutex<HashMap<String, IssuedToken>>,
    /// Credentials issued since start (remembered or not).
    count: AtomicU64,
    /// IAM tokens issued since start (remembered or not).
    token_count: AtomicU64,
}

/// Freshly issued temporary credentials.
pub(crate) struct IssuedCredentials {
    pub(crate) access_key: String,
    pub(crate) secret_key: String,
    pub(crate) security_token: String,
    pub(crate) expires_at: SystemTime,
}

impl IssuedCredentials {
    /// The credential document: `{"credential":{"access","secret","securitytoken","expires_at"}}`,
    /// in that order, as the metadata service writes it (IAM's securitytokens answer has the
    /// same fields).
    pub(crate) fn document(&self) -> String {
        credential_document(
            &self.access_key,
            &self.secret_key,
            &self.security_token,
            self.expires_at,
        )
    }
}

/// An IAM token the emulator issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IssuedToken {
    /// The project it is scoped to; `None` for a domain-scoped or unscoped token, which the
    /// KMS path refuses.
    pub(crate) project: Option<String>,
    pub(crate) expires_at: SystemTime,
}

impl Issued {
    pub(crate) fn new() -> Self {
        Issued {
            random: Random::new(),
            credentials: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            count: AtomicU64::new(0),
            token_count: AtomicU64::new(0),
        }
    }

    /// Issues fresh temporary credentials valid from `now` for `lifetime`, and remembers
    /// them.
    pub(crate) fn issue(&self, now: SystemTime, lifetime: Duration) -> IssuedCredentials {
        let issued = IssuedCredentials {
            access_key: self.random.text(UPPER_ALNUM, AK_LEN),
            secret_key: self.random.text(ALNUM, SK_LEN),
            security_token: self.random.text(BASE64, SECURITY_TOKEN_LEN),
            expires_at: expiry(now, lifetime),
        };
        let entry = Arc::new(AkSkEntry {
            key: kms_proto::verify::PreparedKey::new(&issued.secret_key),
            security_token: Some(issued.security_token.clone()),
            projects: None,
            expires_at: Some(issued.expires_at),
            algorithms: None,
        });
        {
            let mut credentials = lock(&self.credentials);
            make_room(&mut credentials, MAX_ISSUED_CREDENTIALS, now, |e| {
                e.expires_at.unwrap_or(now)
            });
            credentials.insert(issued.access_key.clone(), entry);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        issued
    }

    /// Issues a fresh IAM token valid from `now` for `lifetime`, scoped to `project` (or to
    /// none), remembers it, and returns it with its expiry.
    pub(crate) fn issue_token(
        &self,
        now: SystemTime,
        lifetime: Duration,
        project: Option<String>,
    ) -> (String, SystemTime) {
        // `MII` as real (PKI) IAM tokens begin.
        let token = format!(
            "MII{}",
            self.random.text(BASE64, IAM_TOKEN_LEN.saturating_sub(3))
        );
        let expires_at = expiry(now, lifetime);
        {
            let mut tokens = lock(&self.tokens);
            make_room(&mut tokens, MAX_ISSUED_TOKENS, now, |t| t.expires_at);
            tokens.insert(
                token.clone(),
                IssuedToken {
                    project,
                    expires_at,
                },
            );
        }
        self.token_count.fetch_add(1, Ordering::Relaxed);
        (token, expires_at)
    }

    /// The issued IAM token `token`, if it is remembered (expired or not).
    pub(crate) fn token(&self, token: &str) -> Option<IssuedToken> {
        lock(&self.tokens).get(token).cloned()
    }

    /// How many IAM tokens have been issued since start.
    pub(crate) fn token_count(&self) -> u64 {
        self.token_count.load(Ordering::Relaxed)
    }

    /// `len` random lower-case hex digits (IAM's trace ids).
    pub(crate) fn hex(&self, len: usize) -> String {
        self.random.text(HEX, len)
    }

    /// The issued credential of `access_key`, if it is remembered (expired or not).
    pub(crate) fn get(&self, access_key: &str) -> Option<Arc<AkSkEntry>> {
        lock(&self.credentials).get(access_key).cloned()
    }

    /// How many credentials have been issued since start.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// A fresh metadata session token, valid from `now` for `ttl`.
    pub(crate) fn new_session(&self, now: SystemTime, ttl: Duration) -> String {
        let token = self.random.text(BASE64URL, SESSION_TOKEN_LEN);
        let mut sessions = lock(&self.sessions);
        make_room(&mut sessions, MAX_METADATA_TOKENS, now, |at| *at);
        sessions.insert(token.clone(), expiry(now, ttl));
        token
    }

    /// Whether `token` is a session token that is live at `now`.
    pub(crate) fn session_is_live(&self, token: &[u8], now: SystemTime) -> bool {
        let Ok(token) = std::str::from_utf8(token) else {
            return false;
        };
        lock(&self.sessions)
            .get(token)
            .is_some_and(|expires_at| now < *expires_at)
    }
}

/// Makes room for one more entry in `map` (at most `cap`): forgets the expired entries
/// (by `expires_at`, at `now`) when it is full, then, if it still is, the entry that
/// expires soonest. Scans the table only when it is full.
fn make_room<V>(
    map: &mut HashMap<String, V>,
    cap: usize,
    now: SystemTime,
    expires_at: impl Fn(&V) -> SystemTime,
) {
    if map.len() < cap {
        return;
    }
    map.retain(|_, v| now < expires_at(v));
    while map.len() >= cap.max(1) {
        let soonest = map
            .iter()
            .min_by_key(|(_, v)| expires_at(v))
            .map(|(k, _)| k.clone());
        match soonest {
            Some(key) => {
                map.remove(&key);
            }
            None => break,
        }
    }
}

/// `now + lifetime`, in whole microseconds (rounded down, as the document writes it), and
/// kept within what RFC 3339 can write: from 1970 to the end of 9999. Never panics.
pub(crate) fn expiry(now: SystemTime, lifetime: Duration) -> SystemTime {
    let latest = SystemTime::UNIX_EPOCH + Duration::new(LATEST_SECS, 999_999_000);
    let at = now.checked_add(lifetime).unwrap_or(latest).min(latest);
    let since_epoch = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    SystemTime::UNIX_EPOCH
        + Duration::new(
            since_epoch.as_secs(),
            since_epoch.subsec_micros().saturating_mul(1000),
        )
}

/// The credential document: `{"credential":{"access","secret","securitytoken","expires_at"}}`,
/// in that order, as the metadata service writes it.
fn credential_document(ak: &str, sk: &str, security_token: &str, expires_at: SystemTime) -> String {
    let text = |s: &str| serde_json::Value::from(s).to_string();
    format!(
        "{{\"credential\":{{\"access\":{},\"secret\":{},\"securitytoken\":{},\"expires_at\":{}}}}}",
        text(ak),
        text(sk),
        text(security_token),
        text(&rfc3339_micros(expires_at)),
    )
}

/// `2026-12-01T03:50:07.574000Z`: RFC 3339 in UTC with six fractional digits. Times before
/// 1970 are written as 1970-01-01T00:00:00.000000Z.
pub(crate) fn rfc3339_micros(at: SystemTime) -> String {
    let since_epoch = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let secs = since_epoch.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        since_epoch.subsec_micros()
    )
}

/// The proleptic Gregorian date `days` days after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// SHA-256 in counter mode over a per-emulator seed.
struct Random {
    seed: [u8; 32],
    counter: AtomicU64,
}

impl Random {
    fn new() -> Self {
        // `RandomState` is keyed from the operating system's randomness; each new one
        // differs. The time and process id are mixed in for good measure.
        let mut hasher = Sha256::new();
        for i in 0..4u64 {
            hasher.update(RandomState::new().hash_one(i).to_le_bytes());
        }
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        hasher.update(nanos.to_le_bytes());
        hasher.update(std::process::id().to_le_bytes());
        Random {
            seed: hasher.finalize().into(),
            counter: AtomicU64::new(0),
        }
    }

    /// 32 fresh bytes.
    fn block(&self) -> [u8; 32] {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        Sha256::new()
            .chain_update(self.seed)
            .chain_update(n.to_le_bytes())
            .finalize()
            .into()
    }

    /// `len` characters drawn uniformly from `alphabet` (at most 256 characters).
    fn text(&self, alphabet: &[u8], len: usize) -> String {
        // Bytes at or above the largest multiple of the alphabet's size are skipped, so
        // that every character is equally likely.
        let size = alphabet.len().clamp(1, 256);
        let limit = 256 - 256 % size;
        let mut out = String::with_capacity(len);
        while out.len() < len {
            for byte in self.block() {
                let byte = usize::from(byte);
                if byte < limit
                    && out.len() < len
                    && let Some(c) = alphabet.get(byte % size)
                {
                    out.push(char::from(*c));
                }
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)] // a test fails by panicking
mod tests {
    use super::*;

    fn at(secs: u64, micros: u32) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::new(secs, micros * 1000)
    }

    #[test]
    fn rfc3339_has_six_fractional_digits_and_z() {
        // 2026-12-01T03:50:07.574000Z
        assert_eq!(
            rfc3339_micros(at(1_796_097_007, 574_000)),
            "2026-12-01T03:50:07.574000Z"
        );
        assert_eq!(rfc3339_micros(at(0, 0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_micros(at(951_782_400, 1)),
            "2000-02-29T00:00:00.000001Z"
        );
        assert_eq!(
            rfc3339_micros(SystemTime::UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn expiry_rounds_down_to_microseconds_and_never_overflows() {
        let now = SystemTime::UNIX_EPOCH + Duration::new(100, 123_456_789);
        assert_eq!(expiry(now, Duration::from_secs(1)), at(101, 123_456));
        assert_eq!(
            rfc3339_micros(expiry(now, Duration::MAX)),
            "9999-12-31T23:59:59.999999Z"
        );
    }

    #[test]
    fn issued_values_have_their_alphabets_and_lengths_and_differ() {
        let issued = Issued::new();
        let now = at(1_800_000_000, 0);
        let one: serde_json::Value =
            serde_json::from_str(&issued.issue(now, Duration::from_secs(60)).document()).unwrap();
        let two: serde_json::Value =
            serde_json::from_str(&issued.issue(now, Duration::from_secs(60)).document()).unwrap();
        let ak = one["credential"]["access"].as_str().unwrap();
        let sk = one["credential"]["secret"].as_str().unwrap();
        let token = one["credential"]["securitytoken"].as_str().unwrap();
        assert_eq!(ak.len(), AK_LEN);
        assert!(ak.bytes().all(|b| UPPER_ALNUM.contains(&b)), "{ak}");
        assert_eq!(sk.len(), SK_LEN);
        assert!(sk.bytes().all(|b| b.is_ascii_alphanumeric()), "{sk}");
        assert_eq!(token.len(), SECURITY_TOKEN_LEN);
        assert!(token.bytes().all(|b| BASE64.contains(&b)), "{token}");
        assert_ne!(ak, two["credential"]["access"].as_str().unwrap());
        assert_ne!(sk, two["credential"]["secret"].as_str().unwrap());
        assert_eq!(issued.count(), 2);
        assert!(issued.get(ak).is_some());
    }

    #[test]
    fn a_full_table_forgets_expired_entries_first_then_the_soonest_to_expire() {
        let mut map: HashMap<String, SystemTime> = HashMap::new();
        map.insert("expired".into(), at(5, 0));
        map.insert("soon".into(), at(20, 0));
        map.insert("late".into(), at(30, 0));
        make_room(&mut map, 3, at(10, 0), |t| *t);
        assert_eq!(map.len(), 2);
        assert!(!map.contains_key("expired"));
        make_room(&mut map, 2, at(10, 0), |t| *t);
        assert_eq!(map.keys().collect::<Vec<_>>(), vec!["late"]);
        // Below the cap nothing is forgotten, expired or not.
        map.insert("expired".into(), at(5, 0));
        make_room(&mut map, 3, at(10, 0), |t| *t);
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn iam_tokens_are_remembered_with_their_scope_and_expiry_and_counted() {
        let issued = Issued::new();
        let (token, expires_at) =
            issued.issue_token(at(100, 0), Duration::from_secs(10), Some("p".into()));
        assert_eq!(token.len(), IAM_TOKEN_LEN);
        assert!(token.starts_with("MII"), "{token}");
        assert_eq!(expires_at, at(110, 0));
        assert_eq!(
            issued.token(&token),
            Some(IssuedToken {
                project: Some("p".into()),
                expires_at
            })
        );
        let (other, _) = issued.issue_token(at(100, 0), Duration::from_secs(10), None);
        assert_ne!(token, other);
        assert_eq!(issued.token(&other).unwrap().project, None);
        assert_eq!(issued.token("unknown"), None);
        assert_eq!(issued.token_count(), 2);
        let hex = issued.hex(32);
        assert_eq!(hex.len(), 32);
        assert!(hex.bytes().all(|b| HEX.contains(&b)), "{hex}");
    }

    #[test]
    fn session_tokens_live_until_their_ttl_by_the_given_time() {
        let issued = Issued::new();
        let token = issued.new_session(at(100, 0), Duration::from_secs(10));
        assert_eq!(token.len(), SESSION_TOKEN_LEN);
        assert!(issued.session_is_live(token.as_bytes(), at(109, 0)));
        assert!(!issued.session_is_live(token.as_bytes(), at(110, 0)));
        assert!(!issued.session_is_live(b"other", at(100, 0)));
    }
}
