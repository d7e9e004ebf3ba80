//! Misbehaviour on demand: scripted per test, for the next N requests or by predicate.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use crate::lock;
use crate::record::RecordedRequest;

/// One way for the emulator to misbehave instead of (or before) answering normally.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status, headers and body instead of the normal answer. An
    /// `X-Request-Id` is added unless the headers carry one; a header given twice is sent
    /// twice. A status that is not a final HTTP status (below 200 or above 999) is answered
    /// with a 500 `MOCK.0001` saying the script is wrong.
    Respond {
        /// The status.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: Bytes,
    },
    /// Wait this long before sending the headers, then answer normally.
    DelayHeaders(Duration),
    /// Answer normally, but stall for `stall` after the first `after` bytes of the body.
    StallBody {
        /// Bytes of the body sent before the stall.
        after: usize,
        /// How long to stall.
        stall: Duration,
    },
    /// Close the connection without sending anything.
    CloseBeforeResponse,
    /// Answer normally (with `Content-Length`), but close the connection after the first
    /// `after` bytes of the body.
    CloseMidBody {
        /// Bytes of the body sent before closing.
        after: usize,
    },
    /// Answer 200 declaring `Content-Length: declared` but send only `sent`, then close.
    TruncatedBody {
        /// The declared length.
        declared: u64,
        /// What is actually sent (shorter than `declared`).
        sent: Bytes,
    },
    /// Answer 200 with a chunked body that never ends (until the client goes away).
    EndlessBody,
    /// Answer 200 with a body of `len` bytes (declared with `Content-Length`), generated as
    /// it is sent, never held in memory.
    HugeBody {
        /// The body length.
        len: u64,
    },
    /// Send these bytes instead of an HTTP response, then close.
    NotHttp(Bytes),
    /// Never answer: send `HTTP/1.1 102 Processing` informational responses instead, one
    /// every millisecond or two (paced, so that it costs no CPU), until the client goes
    /// away; then the connection is closed. For clients that must give up on a response
    /// that never becomes final.
    EndlessInformational,
    /// Panic in the handler: the connection dies, the emulator does not.
    Panic,
    /// Answer `status` with an error document (`{"error_code":"MOCK.ECHO","error_msg":...}`)
    /// whose message quotes the request whole: its method, path, every header (secret ones
    /// included) and its body, as a debugging gateway or a careless IAM would. For clients
    /// that must not show what a service echoes back (passwords, tokens, signatures).
    Echo {
        /// The status.
        status: u16,
    },
}

impl Fault {
    /// [`Fault::Respond`] with a JSON body.
    pub fn json(status: u16, body: &str) -> Self {
        Fault::Respond {
            status,
            headers: vec![(
                "content-type".into(),
                "application/json;charset=UTF-8".into(),
            )],
            body: Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    /// [`Fault::Respond`] with a status and an empty body.
    pub fn status(status: u16) -> Self {
        Fault::Respond {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// [`Fault::Respond`] with extra headers added.
    pub fn with_header(self, name: &str, value: &str) -> Self {
        match self {
            Fault::Respond {
                status,
                mut headers,
                body,
            } => {
                headers.push((name.into(), value.into()));
                Fault::Respond {
                    status,
                    headers,
                    body,
                }
            }
            other => other,
        }
    }

    /// A `302 Found` to `location`.
    pub fn redirect(location: &str) -> Self {
        Fault::status(302).with_header("location", location)
    }

    /// Whether the client receives the normal answer (or a part of it) under this fault:
    /// only then do the credential endpoints issue anything.
    pub(crate) fn sends_answer(&self) -> bool {
        matches!(
            self,
            Fault::DelayHeaders(_) | Fault::StallBody { .. } | Fault::CloseMidBody { .. }
        )
    }
}

impl fmt::Debug for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Respond {
                status,
                headers,
                body,
            } => f
                .debug_struct("Respond")
                .field("status", status)
                .field("headers", headers)
                .field("body_len", &body.len())
                .finish(),
            Fault::DelayHeaders(d) => f.debug_tuple("DelayHeaders").field(d).finish(),
            Fault::StallBody { after, stall } => f
                .debug_struct("StallBody")
                .field("after", after)
                .field("stall", stall)
                .finish(),
            Fault::CloseBeforeResponse => f.write_str("CloseBeforeResponse"),
            Fault::CloseMidBody { after } => f
                .debug_struct("CloseMidBody")
                .field("after", after)
                .finish(),
            Fault::TruncatedBody { declared, sent } => f
                .debug_struct("TruncatedBody")
                .field("declared", declared)
                .field("sent_len", &sent.len())
                .finish(),
            Fault::EndlessBody => f.write_str("EndlessBody"),
            Fault::HugeBody { len } => f.debug_struct("HugeBody").field("len", len).finish(),
            Fault::NotHttp(b) => f.debug_struct("NotHttp").field("len", &b.len()).finish(),
            Fault::EndlessInformational => f.write_str("EndlessInformational"),
            Fault::Panic => f.write_str("Panic"),
            Fault::Echo { status } => f.debug_struct("Echo").field("status", status).finish(),
        }
    }
}

type Predicate = Arc<dyn Fn(&RecordedRequest) -> bool + Send + Sync>;

struct Rule {
    id: u64,
    predicate: Option<Predicate>,
    remaining: Option<u64>,
    fault: Fault,
}

/// The faults scripted for the coming requests. Rules are tried in the order they were
/// added; the first that matches a request (and has uses left) applies to it.
#[derive(Default)]
pub struct FaultScript {
    rules: Mutex<Vec<Rule>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for FaultScript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules = lock(&self.rules);
        f.debug_list()
            .entries(
                rules
                    .iter()
                    .map(|r| (&r.fault, r.remaining, r.predicate.is_some())),
            )
            .finish()
    }
}

impl FaultScript {
    /// Applies `fault` to the next `times` requests.
    pub fn next(&self, times: u64, fault: Fault) {
        self.push(None, Some(times), fault);
    }

    /// Applies `fault` to every request for which `predicate` holds, until cleared.
    pub fn when(
        &self,
        predicate: impl Fn(&RecordedRequest) -> bool + Send + Sync + 'static,
        fault: Fault,
    ) {
        self.push(Some(Arc::new(predicate)), None, fault);
    }

    /// Applies `fault` to the next `times` requests for which `predicate` holds.
    pub fn when_times(
        &self,
        predicate: impl Fn(&RecordedRequest) -> bool + Send + Sync + 'static,
        times: u64,
        fault: Fault,
    ) {
        self.push(Some(Arc::new(predicate)), Some(times), fault);
    }

    /// Forgets every scripted fault.
    pub fn clear(&self) {
        lock(&self.rules).clear();
    }

    /// How many rules still have uses left.
    pub fn pending(&self) -> usize {
        lock(&self.rules).len()
    }

    fn push(&self, predicate: Option<Predicate>, remaining: Option<u64>, fault: Fault) {
        if remaining == Some(0) {
            return;
        }
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        lock(&self.rules).push(Rule {
            id,
            predicate,
            remaining,
            fault,
        });
    }

    /// The fault for `request`, if any rule matches; uses it up.
    pub(crate) fn take_for(&self, request: &RecordedRequest) -> Option<Fault> {
        // The predicates are the caller's code and may panic; they run outside the lock so
        // that a panicking predicate cannot poison the script for the next request. A rule
        // used up by a concurrent request meanwhile is simply looked for again.
        loop {
            let candidates: Vec<(u64, Option<Predicate>)> = lock(&self.rules)
                .iter()
                .map(|r| (r.id, r.predicate.clone()))
                .collect();
            let id = candidates
                .into_iter()
                .find(|(_, p)| p.as_ref().is_none_or(|p| p(request)))
                .map(|(id, _)| id)?;
            let mut rules = lock(&self.rules);
            let Some(index) = rules.iter().position(|r| r.id == id) else {
                continue;
            };
            let rule = rules.get_mut(index)?;
            let fault = rule.fault.clone();
            if let Some(remaining) = &mut rule.remaining {
                *remaining = remaining.saturating_sub(1);
                if *remaining == 0 {
                    rules.remove(index);
                }
            }
            return Some(fault);
        }
    }
}
