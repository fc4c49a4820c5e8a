//! Back-off after the authorization server failed: no request to it until the delay is over.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Exponential back-off shared by every exchange of one client: a failing authorization server
/// fails for every user at once, so it is given a rest whatever the key.
pub(crate) struct Backoff {
    state: Mutex<State>,
    min: Duration,
    max: Duration,
}

#[derive(Default)]
struct State {
    failures: u32,
    until: Option<SystemTime>,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        Self {
            state: Mutex::default(),
            min,
            max,
        }
    }

    /// The time left before the server may be contacted again, when backing off.
    pub(crate) fn remaining(&self, now: SystemTime) -> Option<Duration> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let until = state.until?;
        until.duration_since(now).ok().filter(|d| !d.is_zero())
    }

    /// Records a failure; returns the delay before the next attempt: `min` doubled per
    /// consecutive failure up to `max`, and at least what the server asked for (capped by
    /// `max`).
    pub(crate) fn fail(&self, now: SystemTime, server_hint: Duration) -> Duration {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let exponent = state.failures.min(20);
        state.failures = state.failures.saturating_add(1);
        let delay = self
            .min
            .saturating_mul(1u32 << exponent)
            .max(server_hint)
            .min(self.max);
        state.until = Some(now + delay);
        delay
    }

    /// Records a success: the next failure starts from `min` again.
    pub(crate) fn succeed(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.failures > 0 || state.until.is_some() {
            *state = State::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_maximum_and_reset_on_success() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(b.remaining(t0), None);
        assert_eq!(b.fail(t0, Duration::ZERO), Duration::from_secs(1));
        assert_eq!(b.remaining(t0), Some(Duration::from_secs(1)));
        assert_eq!(b.remaining(t0 + Duration::from_secs(1)), None);
        assert_eq!(b.fail(t0, Duration::ZERO), Duration::from_secs(2));
        assert_eq!(b.fail(t0, Duration::ZERO), Duration::from_secs(4));
        assert_eq!(b.fail(t0, Duration::ZERO), Duration::from_secs(5));
        b.succeed();
        assert_eq!(b.remaining(t0), None);
        assert_eq!(
            b.fail(t0, Duration::from_secs(3)),
            Duration::from_secs(3),
            "server hint wins"
        );
        assert_eq!(
            b.fail(t0, Duration::from_secs(60)),
            Duration::from_secs(5),
            "capped"
        );
    }
}
