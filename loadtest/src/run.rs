//! What every scenario shares: the router to reach, the load generator's
//! cores, the router's process for `/proc` figures, and the collection of
//! errors its sessions met.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::target::Target;

/// One scenario run's fixed context.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    /// The router to reach.
    pub(crate) target: Target,
    /// CPUs of the load generator's threads, one thread each.
    pub(crate) load_cores: Vec<usize>,
    /// The router's processes (their children count too), for CPU and
    /// RSS: none, one, or several summed (the nodes of a cluster).
    pub(crate) router_pids: Vec<u32>,
    /// How long the measurement runs.
    pub(crate) duration: Duration,
}

/// Errors met by a run's sessions, counted by what they say (a WAMP error
/// URI, or an I/O error's text), so one bad cause does not flood the output.
#[derive(Debug, Default)]
pub(crate) struct Errors {
    by_cause: Mutex<BTreeMap<String, u64>>,
}

impl Errors {
    /// Counts one error.
    pub(crate) fn add(&self, cause: impl Into<String>) {
        if let Ok(mut map) = self.by_cause.lock() {
            *map.entry(cause.into()).or_default() += 1;
        }
    }

    /// Errors so far, by cause.
    pub(crate) fn snapshot(&self) -> BTreeMap<String, u64> {
        self.by_cause.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// How many errors so far.
    pub(crate) fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
}

/// The errors counted between two snapshots, as notes (`N x cause`).
pub(crate) fn error_notes(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> Vec<String> {
    after
        .iter()
        .filter_map(|(cause, &n)| {
            let new = n - before.get(cause).copied().unwrap_or(0).min(n);
            (new > 0).then(|| format!("{new} x error: {cause}"))
        })
        .collect()
}

/// A 16-byte WebSocket nonce that differs per session.
pub(crate) fn nonce(index: usize) -> [u8; 16] {
    let mut nonce = [0x6c; 16];
    nonce[..8].copy_from_slice(&(index as u64).to_le_bytes());
    nonce
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_counted_by_cause_between_snapshots() {
        let errors = Errors::default();
        errors.add("wamp.error.not_authorized");
        let before = errors.snapshot();
        errors.add("wamp.error.not_authorized");
        errors.add("connection reset");
        assert_eq!(errors.total(), 3);
        let notes = error_notes(&before, &errors.snapshot());
        assert_eq!(
            notes,
            vec![
                "1 x error: connection reset",
                "1 x error: wamp.error.not_authorized"
            ]
        );
    }
}
