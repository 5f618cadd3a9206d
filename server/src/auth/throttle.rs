//! Sign-in throttling: failed sign-ins are counted per (email, client address), in memory. After
//! [`FREE_FAILURES`] failures in a row, that email from that address is refused for the base
//! lock-out time, doubling with each further failure up to [`MAX_LOCK_MS`]; a success clears the
//! count. Keyed by address as well as email, so a stranger cannot lock a person out from elsewhere.
//! Each instance counts on its own; the table is bounded, forgetting quiet entries first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Failures allowed before the first lock-out.
pub const FREE_FAILURES: u32 = 5;
/// The longest lock-out.
pub const MAX_LOCK_MS: i64 = 15 * 60 * 1000;
/// Entries kept at most; beyond this, those without a lock-out in force are forgotten.
const CAPACITY: usize = 10_000;

type Key = (String, Option<IpAddr>);

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    locked_until: i64,
}

#[derive(Debug)]
pub struct SignInThrottle {
    base_ms: i64,
    entries: Mutex<HashMap<Key, Entry>>,
}

impl SignInThrottle {
    pub fn new(base_lock_seconds: u64) -> Self {
        let base_ms = i64::try_from(base_lock_seconds.saturating_mul(1000)).unwrap_or(MAX_LOCK_MS);
        Self { base_ms: base_ms.min(MAX_LOCK_MS), entries: Mutex::new(HashMap::new()) }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        // A panic elsewhere while holding the lock leaves plain counters behind: still usable.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn key(email: &str, ip: Option<IpAddr>) -> Key {
        (email.trim().to_lowercase(), ip)
    }

    /// `Err(seconds to wait)` while this email is locked out from this address.
    pub fn check(&self, email: &str, ip: Option<IpAddr>, now: i64) -> Result<(), u64> {
        match self.entries().get(&Self::key(email, ip)) {
            Some(e) if e.locked_until > now => {
                let ms = e.locked_until - now;
                Err(u64::try_from((ms + 999) / 1000).unwrap_or(1).max(1))
            }
            _ => Ok(()),
        }
    }

    /// Counts a failure; returns the lock-out it starts, in milliseconds (0 while still free).
    pub fn failed(&self, email: &str, ip: Option<IpAddr>, now: i64) -> i64 {
        let mut entries = self.entries();
        if entries.len() >= CAPACITY {
            entries.retain(|_, e| e.locked_until > now);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        let e = entries.entry(Self::key(email, ip)).or_insert(Entry { failures: 0, locked_until: 0 });
        e.failures = e.failures.saturating_add(1);
        if e.failures < FREE_FAILURES {
            return 0;
        }
        let doublings = (e.failures - FREE_FAILURES).min(20);
        let lock = self.base_ms.saturating_mul(1 << doublings).min(MAX_LOCK_MS);
        e.locked_until = now + lock;
        lock
    }

    /// A successful sign-in clears the count.
    pub fn succeeded(&self, email: &str, ip: Option<IpAddr>) {
        self.entries().remove(&Self::key(email, ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));

    #[test]
    fn five_failures_are_free_then_the_lock_out_doubles_up_to_the_limit() {
        let t = SignInThrottle::new(30);
        for i in 0..FREE_FAILURES - 1 {
            assert_eq!(t.failed("ada@acme.example", IP, 1000 + i64::from(i)), 0);
            assert_eq!(t.check("ada@acme.example", IP, 1000), Ok(()));
        }
        assert_eq!(t.failed("Ada@Acme.example ", IP, 2000), 30_000, "the same email, however written");
        assert_eq!(t.check("ada@acme.example", IP, 2000), Err(30));
        assert_eq!(t.check("ada@acme.example", IP, 31_001), Err(1));
        assert_eq!(t.check("ada@acme.example", IP, 32_000), Ok(()));
        assert_eq!(t.failed("ada@acme.example", IP, 32_000), 60_000);
        assert_eq!(t.failed("ada@acme.example", IP, 100_000), 120_000);
        for _ in 0..30 {
            t.failed("ada@acme.example", IP, 200_000);
        }
        assert_eq!(t.check("ada@acme.example", IP, 200_000), Err(900), "at most 15 minutes");
    }

    #[test]
    fn another_address_or_email_is_not_locked_and_success_clears() {
        let t = SignInThrottle::new(10);
        for _ in 0..FREE_FAILURES {
            t.failed("ada@acme.example", IP, 0);
        }
        assert!(t.check("ada@acme.example", IP, 1).is_err());
        assert_eq!(t.check("ada@acme.example", None, 1), Ok(()), "another address");
        assert_eq!(t.check("bob@acme.example", IP, 1), Ok(()), "another email");
        t.succeeded("ada@acme.example", IP);
        assert_eq!(t.check("ada@acme.example", IP, 1), Ok(()));
        assert_eq!(t.failed("ada@acme.example", IP, 2), 0, "counting starts again");
    }

    #[test]
    fn the_table_stays_bounded() {
        let t = SignInThrottle::new(10);
        for i in 0..(CAPACITY as u32 + 50) {
            t.failed(&format!("u{i}@x.example"), IP, 0);
        }
        assert!(t.entries().len() <= CAPACITY);
    }
}
