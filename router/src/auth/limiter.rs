//! Rate limiting of failed authentication attempts, per peer address.
//!
//! Each address has a budget of failures that refills over time (a token
//! bucket). While an address's budget is spent, its attempts to
//! authenticate with a method that needs proof are refused before any
//! secret is checked, so guessing from one address runs at the refill
//! rate at most. Other addresses are not affected. IPv6 peers count by
//! their /64 network (one host usually has a whole /64). The table is
//! bounded: when full, entries whose budget has refilled are dropped, and
//! if none has, the new address is not tracked (so that a flood of
//! addresses cannot lock every client out).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures an address may have at once before it is limited: a user who
/// mistypes a password a few times is never held up. A rate, not a bound
/// on memory (`limits.max_failed_auth_addresses` is that).
const BURST: f64 = 20.0;
/// Failures an address earns back per second: one guess a second is far
/// too slow to find a password, and a locked-out user waits seconds.
const REFILL_PER_SECOND: f64 = 1.0;

/// Failed attempts per peer address, shared by every core.
#[derive(Debug)]
pub struct FailureLimiter {
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
    /// The most addresses tracked (`limits.max_failed_auth_addresses`).
    max_addresses: usize,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Failures still allowed.
    budget: f64,
    /// When `budget` was last brought up to date.
    at: Instant,
}

impl Bucket {
    fn refilled(self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.budget + elapsed * REFILL_PER_SECOND).min(BURST)
    }
}

impl FailureLimiter {
    /// A limiter that tracks at most `max_addresses` addresses.
    pub fn new(max_addresses: usize) -> Self {
        Self {
            buckets: Mutex::new(HashMap::new()),
            max_addresses,
        }
    }

    /// How long `addr` must wait before it may try again; `None` when it
    /// may try now.
    pub fn blocked(&self, addr: IpAddr, now: Instant) -> Option<Duration> {
        let buckets = self.buckets.lock().ok()?;
        let budget = buckets.get(&network(addr))?.refilled(now);
        (budget < 1.0).then(|| Duration::from_secs_f64((1.0 - budget) / REFILL_PER_SECOND))
    }

    /// Counts a failed attempt from `addr`.
    pub fn failed(&self, addr: IpAddr, now: Instant) {
        let Ok(mut buckets) = self.buckets.lock() else {
            return;
        };
        let addr = network(addr);
        if buckets.len() >= self.max_addresses && !buckets.contains_key(&addr) {
            buckets.retain(|_, b| b.refilled(now) < BURST);
            if buckets.len() >= self.max_addresses {
                return;
            }
        }
        let bucket = buckets.entry(addr).or_insert(Bucket {
            budget: BURST,
            at: now,
        });
        bucket.budget = (bucket.refilled(now) - 1.0).max(0.0);
        bucket.at = now;
    }
}

/// The key an address counts under: itself for IPv4, its /64 for IPv6.
fn network(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_limited_after_its_burst_and_recovers() {
        let limiter = FailureLimiter::new(16);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..BURST as usize {
            assert_eq!(limiter.blocked(a, t0), None);
            limiter.failed(a, t0);
        }
        let wait = limiter.blocked(a, t0).unwrap();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
        assert_eq!(
            limiter.blocked(b, t0),
            None,
            "other addresses are not limited"
        );
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert!(
            limiter.blocked(mapped, t0).is_some(),
            "IPv4-mapped is the same peer"
        );
        assert_eq!(limiter.blocked(a, t0 + Duration::from_secs(1)), None);
        limiter.failed(a, t0 + Duration::from_secs(1));
        assert!(limiter.blocked(a, t0 + Duration::from_secs(1)).is_some());
    }

    #[test]
    fn the_table_holds_at_most_its_addresses() {
        let limiter = FailureLimiter::new(2);
        let t0 = Instant::now();
        let exhaust = |addr: IpAddr, at: Instant| {
            for _ in 0..BURST as usize {
                limiter.failed(addr, at);
            }
        };
        let [a, b, c]: [IpAddr; 3] =
            ["10.0.0.1", "10.0.0.2", "10.0.0.3"].map(|s| s.parse().unwrap());
        exhaust(a, t0);
        exhaust(b, t0);
        exhaust(c, t0);
        assert!(limiter.blocked(a, t0).is_some() && limiter.blocked(b, t0).is_some());
        assert_eq!(
            limiter.blocked(c, t0),
            None,
            "a full table tracks no new address"
        );
        // once a tracked address has earned its budget back, it makes room
        let later = t0 + Duration::from_secs(BURST as u64);
        exhaust(c, later);
        assert!(limiter.blocked(c, later).is_some());
        assert_eq!(
            limiter.buckets.lock().unwrap().len(),
            1,
            "a and b made room once their budget was back"
        );
    }
}
