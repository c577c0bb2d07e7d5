//! Activation codes: six digits, one per waiting node, one-time and
//! expiring; and the limit on wrong codes per owner.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How long an activation code is valid; the node is told and asks for a
/// new one when it expires.
pub(crate) const CODE_LIFETIME: Duration = Duration::from_secs(600);
/// Wrong codes an owner may try per [`ATTEMPT_WINDOW`].
pub(crate) const MAX_FAILED_ATTEMPTS: usize = 5;
/// The window of [`MAX_FAILED_ATTEMPTS`].
pub(crate) const ATTEMPT_WINDOW: Duration = Duration::from_secs(60);
/// Codes outstanding at once: a bound on nodes waiting to be paired
/// (beyond it a node is told to try later). It also bounds the chance that
/// a guessed code is someone's: at most 1 in 1,000 per attempt.
const MAX_CODES: usize = 1_000;

/// Why a code cannot be redeemed (or issued).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CodeError {
    /// No node waits with this code.
    Invalid,
    /// The code was valid but has expired.
    Expired,
    /// The owner tried too many wrong codes lately.
    TooManyAttempts,
    /// Too many nodes wait for pairing at once.
    TooManyWaiting,
    /// The operating system gave no randomness for a code.
    NoRandomness,
}

impl CodeError {
    /// The WAMP error URI.
    pub(crate) fn uri(&self) -> &'static str {
        match self {
            CodeError::Invalid => "ringbar.management.error.invalid_code",
            CodeError::Expired => "ringbar.management.error.expired_code",
            CodeError::TooManyAttempts => "ringbar.management.error.too_many_attempts",
            CodeError::TooManyWaiting => "ringbar.management.error.busy",
            CodeError::NoRandomness => "ringbar.management.error.internal",
        }
    }

    /// The message for the user, saying what to do.
    pub(crate) fn message(&self) -> String {
        match self {
            CodeError::Invalid => {
                "no node waits with this activation code: check the code the node printed".into()
            }
            CodeError::Expired => {
                "this activation code has expired: use the new code the node printed".into()
            }
            CodeError::TooManyAttempts => format!(
                "more than {MAX_FAILED_ATTEMPTS} wrong activation codes within {} s: wait a minute and try again",
                ATTEMPT_WINDOW.as_secs()
            ),
            CodeError::TooManyWaiting => {
                format!("{MAX_CODES} nodes wait for pairing already: try again later")
            }
            CodeError::NoRandomness => {
                "the management service has no randomness for a code: try again later".into()
            }
        }
    }
}

/// A code issued to a node.
#[derive(Debug)]
struct Issued {
    /// The node's public key, hex.
    node: String,
    expires: Instant,
}

/// The codes outstanding and the recent wrong attempts of each owner.
#[derive(Debug, Default)]
pub(crate) struct ActivationCodes {
    by_code: HashMap<String, Issued>,
    /// Expired codes remembered until their node gets a new one, so that
    /// an owner is told "expired" rather than "invalid".
    expired: HashMap<String, String>,
    failures: HashMap<String, VecDeque<Instant>>,
}

impl ActivationCodes {
    /// A new code for `node`, replacing any it had, and its lifetime.
    pub(crate) fn issue(
        &mut self,
        node: &str,
        now: Instant,
        random: &mut impl FnMut() -> Option<u32>,
    ) -> Result<(String, Duration), CodeError> {
        self.forget(node);
        self.purge(now);
        if self.by_code.len() >= MAX_CODES {
            return Err(CodeError::TooManyWaiting);
        }
        // At most 1 in 500 codes is taken, so a free one comes at once;
        // the bound only guards against a broken generator.
        let code = (0..64)
            .filter_map(|_| random().map(|n| format!("{:06}", n % 1_000_000)))
            .find(|code| !self.by_code.contains_key(code) && !self.expired.contains_key(code))
            .ok_or(CodeError::NoRandomness)?;
        self.by_code.insert(
            code.clone(),
            Issued {
                node: node.to_owned(),
                expires: now + CODE_LIFETIME,
            },
        );
        Ok((code, CODE_LIFETIME))
    }

    /// The node waiting with `code`, for `owner`; the code is used up.
    pub(crate) fn redeem(
        &mut self,
        owner: &str,
        code: &str,
        now: Instant,
    ) -> Result<String, CodeError> {
        self.purge(now);
        let failed = self.failures.get(owner).map_or(0, |recent| {
            recent
                .iter()
                .filter(|at| now.duration_since(**at) < ATTEMPT_WINDOW)
                .count()
        });
        if failed >= MAX_FAILED_ATTEMPTS {
            return Err(CodeError::TooManyAttempts);
        }
        let error = match self.by_code.remove(code) {
            Some(issued) => return Ok(issued.node),
            None if self.expired.contains_key(code) => CodeError::Expired,
            None => CodeError::Invalid,
        };
        let recent = self.failures.entry(owner.to_owned()).or_default();
        while recent.len() >= MAX_FAILED_ATTEMPTS {
            recent.pop_front();
        }
        recent.push_back(now);
        Err(error)
    }

    /// Drops every code of `node` (it paired, or gets a new one).
    pub(crate) fn forget(&mut self, node: &str) {
        self.by_code.retain(|_, issued| issued.node != node);
        self.expired.retain(|_, waiting| waiting != node);
    }

    /// Moves expired codes aside and drops owners without recent failures.
    fn purge(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .by_code
            .iter()
            .filter(|(_, issued)| issued.expires <= now)
            .map(|(code, _)| code.clone())
            .collect();
        for code in expired {
            if let Some(issued) = self.by_code.remove(&code) {
                self.expired.insert(code, issued.node);
            }
        }
        if self.expired.len() > MAX_CODES {
            self.expired.clear();
        }
        self.failures.retain(|_, failures| {
            failures
                .back()
                .is_some_and(|at| now.duration_since(*at) < ATTEMPT_WINDOW)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter() -> impl FnMut() -> Option<u32> {
        let mut n = 981_239;
        move || {
            n += 1;
            Some(n)
        }
    }

    #[test]
    fn codes_are_six_digits_one_time_and_one_per_node() {
        let mut codes = ActivationCodes::default();
        let now = Instant::now();
        let mut random = counter();
        let (first, lifetime) = codes.issue("n1", now, &mut random).unwrap();
        assert_eq!((first.as_str(), lifetime), ("981240", CODE_LIFETIME));
        let (second, _) = codes.issue("n1", now, &mut random).unwrap();
        assert_eq!(codes.redeem("alice", &first, now), Err(CodeError::Invalid));
        assert_eq!(codes.redeem("alice", &second, now).unwrap(), "n1");
        assert_eq!(codes.redeem("alice", &second, now), Err(CodeError::Invalid));
        let mut small = || Some(7);
        let (padded, _) = codes.issue("n2", now, &mut small).unwrap();
        assert_eq!(padded, "000007");
        // a generator stuck on a taken code, or none at all, fails
        assert_eq!(
            codes.issue("n3", now, &mut small),
            Err(CodeError::NoRandomness)
        );
        assert_eq!(
            codes.issue("n3", now, &mut || None),
            Err(CodeError::NoRandomness)
        );
    }

    #[test]
    fn expired_codes_say_so() {
        let mut codes = ActivationCodes::default();
        let now = Instant::now();
        let (code, _) = codes.issue("n1", now, &mut counter()).unwrap();
        let later = now + CODE_LIFETIME;
        assert_eq!(codes.redeem("alice", &code, later), Err(CodeError::Expired));
        let (fresh, _) = codes.issue("n1", later, &mut counter()).unwrap();
        assert_eq!(codes.redeem("alice", &fresh, later).unwrap(), "n1");
    }

    #[test]
    fn wrong_codes_are_limited_per_owner_and_window() {
        let mut codes = ActivationCodes::default();
        let now = Instant::now();
        let (code, _) = codes.issue("n1", now, &mut counter()).unwrap();
        for _ in 0..MAX_FAILED_ATTEMPTS {
            assert_eq!(
                codes.redeem("mallory", "000000", now),
                Err(CodeError::Invalid)
            );
        }
        assert_eq!(
            codes.redeem("mallory", &code, now),
            Err(CodeError::TooManyAttempts)
        );
        // another owner is not affected, and the window passes
        let next = now + ATTEMPT_WINDOW;
        assert_eq!(
            codes.redeem("mallory", "000000", next),
            Err(CodeError::Invalid)
        );
        assert_eq!(codes.redeem("alice", &code, now).unwrap(), "n1");
    }
}
