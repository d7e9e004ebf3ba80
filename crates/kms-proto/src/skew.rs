//! Clock skew: this machine's clock against the KMS gateway's, learnt from the gateway's
//! "signature expired" answer and corrected by signing with the service's time, once a
//! call, within a bound.

use std::time::{Duration, SystemTime};

use http::StatusCode;

use crate::span::{millis_between, moved_by};

/// A call's view of the clocks: the offset it signs with, whether it corrected it already,
/// and the time its last attempt was signed at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClockSkew {
    /// How far the service's clock is ahead of this machine's, in milliseconds (negative:
    /// behind); added to the wall clock to sign.
    offset_ms: i64,
    /// Whether this call already re-signed once for clock skew.
    corrected: bool,
    /// The time the last attempt was signed at (its `X-Sdk-Date`), when it was signed:
    /// `None` for an IAM token, which has no signature to expire.
    signed_at: Option<SystemTime>,
}

impl ClockSkew {
    /// Signing with `offset_ms` (what earlier calls learnt), not corrected yet.
    pub(crate) fn new(offset_ms: i64) -> Self {
        ClockSkew {
            offset_ms,
            corrected: false,
            signed_at: None,
        }
    }

    /// The offset signed with, in milliseconds.
    pub(crate) fn offset_ms(&self) -> i64 {
        self.offset_ms
    }

    /// Whether this call corrected its offset.
    pub(crate) fn corrected(&self) -> bool {
        self.corrected
    }

    /// The last attempt was signed at `at` (`None`: not signed, an IAM token).
    pub(crate) fn signed(&mut self, at: Option<SystemTime>) {
        self.signed_at = at;
    }

    /// Signs with `offset_ms` from now on, and never corrects again in this call.
    pub(crate) fn correct(&mut self, offset_ms: i64) {
        self.offset_ms = offset_ms;
        self.corrected = true;
    }

    /// A signing time without the known offset: the local clock it was made from.
    fn unshifted(&self, signed: SystemTime) -> SystemTime {
        moved_by(signed, self.offset_ms.saturating_neg())
    }

    /// The time to sign at: the wall clock moved by the known offset.
    pub(crate) fn signing_time(&self, wall: SystemTime) -> SystemTime {
        moved_by(wall, self.offset_ms)
    }

    /// What a "signature expired" answer says about this machine's clock, when it says
    /// anything this call may act on: the gateway's `APIGW.0301 ... signature expired,
    /// signature time: ..., server time: ...` to a request this call signed (an IAM token
    /// has no signature to expire), whose signature time is the `X-Sdk-Date` this call
    /// sent (to the second: the message is about this request, not another's or a made-up
    /// one), with a server time a minute or more from it (the gateway allows 15 minutes:
    /// closer, the message means something else), and only once a call.
    ///
    /// The offset is the service's clock's, from this machine's, in milliseconds; it is
    /// corrected within `max` ([`ClientConfig::max_clock_skew`](crate::ClientConfig::max_clock_skew)) and refused beyond it. A bare
    /// `Date` header says nothing about which request it answers, and is not used.
    pub(crate) fn judge(
        &self,
        status: StatusCode,
        error: &crate::ResponseError,
        max: Duration,
    ) -> Option<Skew> {
        let message = error.message()?;
        if self.corrected
            || status != StatusCode::UNAUTHORIZED
            || !message.contains("signature expired")
        {
            return None;
        }
        let signed = self.signed_at?;
        let (server, named) = gateway_times(message)?;
        if whole_seconds(named)? != whole_seconds(signed)? {
            return None;
        }
        // Both times as the gateway wrote them, to the second, from here on.
        if millis_between(server, named)?.unsigned_abs() < 60_000 {
            return None;
        }
        // The offset already applied is part of the signing time the gateway saw: the new
        // offset replaces it, and may be about zero when the machine's clock was put right
        // since an earlier call learnt one.
        let offset_ms = millis_between(server, self.unshifted(named))?;
        let max_ms = max.as_millis();
        Some(match u128::from(offset_ms.unsigned_abs()) <= max_ms {
            true => Skew::Correct(offset_ms),
            false => Skew::TooFar(offset_ms),
        })
    }
}

/// What a "signature expired" answer says of this machine's clock (see [`ClockSkew::judge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skew {
    /// Off by this many milliseconds (the service's clock ahead), within the bound:
    /// re-sign with the service's time.
    Correct(i64),
    /// Off by more than the bound: the call ends, saying so.
    TooFar(i64),
}

/// `time` to the whole second, as `X-Sdk-Date` writes it.
fn whole_seconds(time: SystemTime) -> Option<u64> {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// The server and signature times of the gateway's "signature expired" message
/// (`signature time:20261202T014400Z,server time:20261202T020400Z`, a space after either
/// colon allowed).
fn gateway_times(message: &str) -> Option<(SystemTime, SystemTime)> {
    let time_after = |label: &str| {
        let (_, rest) = message.split_once(label)?;
        let text = rest.trim_start().get(..16)?;
        crate::SdkDate::parse(text).map(crate::SdkDate::to_system_time)
    };
    Some((time_after("server time:")?, time_after("signature time:")?))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::gateway_times;

    #[test]
    fn the_gateways_times_in_either_spacing() {
        let at = |secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        for message in [
            "calc aksk signature fail:signature expired, signature time:20261122T080000Z,server time:20261122T082000Z",
            "Incorrect IAM authentication information: signature expired, signature time: 20261122T080000Z, server time: 20261122T082000Z",
        ] {
            assert_eq!(
                gateway_times(message),
                Some((at(1_795_334_400 + 1200), at(1_795_334_400))),
                "{message}"
            );
        }
        assert_eq!(gateway_times("verify aksk signature fail"), None);
        assert_eq!(gateway_times("server time:2026"), None);
    }
}
