//! Activation codes: Crossbar.io's form (`W97F-96MJ-YGJL`: three groups of
//! four from Autobahn's 27-letter token alphabet, 57 bits), one per waiting
//! node, one-time and expiring; and the limits on wrong codes, per owner and
//! over all owners.
//!
//! The figure that matters: at most [`MAX_FAILED_ATTEMPTS_TOTAL`] wrong
//! codes a minute over all owners, so at most 600 guesses over a code's
//! 10 minutes; with at most [`MAX_CODES`] codes outstanding, the chance
//! that any guess hits a waiting node is 600 × 1,000 / 27¹² ≈ 4 × 10⁻¹².

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How long an activation code is valid; the node is told and asks for a
/// new one when it expires.
pub(crate) const CODE_LIFETIME: Duration = Duration::from_secs(600);
/// Wrong codes an owner may try per [`ATTEMPT_WINDOW`].
pub(crate) const MAX_FAILED_ATTEMPTS: usize = 5;
/// Wrong codes all owners together may try per [`ATTEMPT_WINDOW`]: the
/// bound on guessing that does not grow with the number of owners.
pub(crate) const MAX_FAILED_ATTEMPTS_TOTAL: usize = 60;
/// The window of [`MAX_FAILED_ATTEMPTS`] and [`MAX_FAILED_ATTEMPTS_TOTAL`].
pub(crate) const ATTEMPT_WINDOW: Duration = Duration::from_secs(60);
/// Codes outstanding at once (one per node key): a bound on nodes waiting
/// to be paired (beyond it a node is told to try later) and on the chance
/// that a guess is someone's code.
const MAX_CODES: usize = 1_000;
/// The letters of a code: Autobahn's token alphabet (no 0/O, 1/I, 2/Z, 8/B
/// look-alikes), so codes read aloud or retyped survive.
const CODE_ALPHABET: &[u8] = b"345679ACEFGHJKLMNPQRSTUVWXY";
/// Groups of [`GROUP_LEN`] letters, joined by `-`.
const GROUPS: usize = 3;
/// Letters per group.
const GROUP_LEN: usize = 4;

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
                "too many wrong activation codes within {} s (at most {MAX_FAILED_ATTEMPTS} per owner, {MAX_FAILED_ATTEMPTS_TOTAL} in all): wait a minute and try again",
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
    /// Every owner's recent wrong codes, for the overall limit.
    all_failures: VecDeque<Instant>,
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
        // Codes are sparse (1,000 of 27^12), so a free one comes at once;
        // the bound only guards against a broken generator.
        let code = (0..64)
            .map_while(|_| new_code(random))
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
        let recent = |failures: &VecDeque<Instant>| {
            failures
                .iter()
                .filter(|at| now.duration_since(**at) < ATTEMPT_WINDOW)
                .count()
        };
        let failed = self.failures.get(owner).map_or(0, recent);
        if failed >= MAX_FAILED_ATTEMPTS || recent(&self.all_failures) >= MAX_FAILED_ATTEMPTS_TOTAL
        {
            return Err(CodeError::TooManyAttempts);
        }
        let code = normalize(code);
        let error = match self.by_code.remove(&code) {
            Some(issued) => return Ok(issued.node),
            None if self.expired.contains_key(&code) => CodeError::Expired,
            None => CodeError::Invalid,
        };
        let mine = self.failures.entry(owner.to_owned()).or_default();
        while mine.len() >= MAX_FAILED_ATTEMPTS {
            mine.pop_front();
        }
        mine.push_back(now);
        while self.all_failures.len() >= MAX_FAILED_ATTEMPTS_TOTAL {
            self.all_failures.pop_front();
        }
        self.all_failures.push_back(now);
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

/// A fresh code from `random`, or `None` when it gives out.
fn new_code(random: &mut impl FnMut() -> Option<u32>) -> Option<String> {
    let letters = CODE_ALPHABET.len() as u32;
    // Draws at or past the last whole multiple of the alphabet are redrawn,
    // so every letter is equally likely.
    let fair = u32::MAX - u32::MAX % letters;
    let mut code = String::with_capacity(GROUPS * (GROUP_LEN + 1));
    for i in 0..GROUPS * GROUP_LEN {
        if i > 0 && i % GROUP_LEN == 0 {
            code.push('-');
        }
        let n = (0..16).filter_map(|_| random()).find(|n| *n < fair)?;
        code.push(char::from(CODE_ALPHABET[(n % letters) as usize]));
    }
    Some(code)
}

/// A code as an owner typed it, in the form issued: case and spacing do not
/// matter, dashes are optional.
fn normalize(typed: &str) -> String {
    let letters: Vec<char> = typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let groups: Vec<String> = letters
        .chunks(GROUP_LEN)
        .map(|group| group.iter().collect())
        .collect();
    groups.join("-")
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
    fn codes_are_crossbar_shaped_one_time_and_one_per_node() {
        let mut codes = ActivationCodes::default();
        let now = Instant::now();
        let mut random = counter();
        let (first, lifetime) = codes.issue("n1", now, &mut random).unwrap();
        assert_eq!(lifetime, CODE_LIFETIME);
        assert_eq!(first.len(), 14, "{first}");
        assert!(
            first
                .split('-')
                .all(|g| g.len() == 4 && g.bytes().all(|b| CODE_ALPHABET.contains(&b))),
            "{first}"
        );
        let (second, _) = codes.issue("n1", now, &mut random).unwrap();
        assert_ne!(first, second);
        assert_eq!(codes.redeem("alice", &first, now), Err(CodeError::Invalid));
        // typed in lower case, without dashes
        let typed = second.replace('-', "").to_lowercase();
        assert_eq!(codes.redeem("alice", &typed, now).unwrap(), "n1");
        assert_eq!(codes.redeem("alice", &second, now), Err(CodeError::Invalid));
        // a generator stuck on a taken code, or none at all, fails
        let mut stuck = || Some(7);
        codes.issue("n2", now, &mut stuck).unwrap();
        assert_eq!(
            codes.issue("n3", now, &mut stuck),
            Err(CodeError::NoRandomness)
        );
        assert_eq!(
            codes.issue("n3", now, &mut || None),
            Err(CodeError::NoRandomness)
        );
    }

    #[test]
    fn letters_are_drawn_fairly() {
        // the one draw past the last multiple of 27 is redrawn
        let mut draws = [u32::MAX, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].into_iter();
        let code = new_code(&mut || draws.next()).unwrap();
        assert_eq!(code, "3456-79AC-EFGH");
    }

    #[test]
    fn wrong_codes_are_limited_over_all_owners() {
        let mut codes = ActivationCodes::default();
        let now = Instant::now();
        let (code, _) = codes.issue("n1", now, &mut counter()).unwrap();
        for i in 0..MAX_FAILED_ATTEMPTS_TOTAL {
            let owner = format!("owner{}", i / MAX_FAILED_ATTEMPTS);
            assert_eq!(
                codes.redeem(&owner, "AAAA-AAAA-AAAA", now),
                Err(CodeError::Invalid)
            );
        }
        assert_eq!(
            codes.redeem("alice", &code, now),
            Err(CodeError::TooManyAttempts)
        );
        let next = now + ATTEMPT_WINDOW;
        assert_eq!(codes.redeem("alice", &code, next).unwrap(), "n1");
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
                codes.redeem("mallory", "AAAA-AAAA-AAAA", now),
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
            codes.redeem("mallory", "AAAA-AAAA-AAAA", next),
            Err(CodeError::Invalid)
        );
        assert_eq!(codes.redeem("alice", &code, now).unwrap(), "n1");
    }
}
