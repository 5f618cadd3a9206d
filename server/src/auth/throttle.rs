//! Sign-in throttling: sign-in attempts are counted per (email, client address), in memory, each
//! one *before* its password is checked, so guesses sent in parallel cannot outrun the count.
//! After [`FREE_FAILURES`] attempts in a row without a success, that email from that address is
//! refused for the base lock-out time, doubling with each further failure up to [`MAX_LOCK_MS`];
//! a success clears the count, and an attempt that was never evaluated (the password checks were
//! busy) is given back. Keyed by address as well as email, so a stranger cannot lock a person out
//! from elsewhere; an IPv6 client counts by its /64 (one subscriber's whole network), an IPv4
//! client by its address. Each instance counts on its own; the table is bounded, forgetting quiet
//! entries first.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;

/// Failures allowed before the first lock-out.
pub const FREE_FAILURES: u32 = 5;
/// The longest lock-out.
pub const MAX_LOCK_MS: i64 = 15 * 60 * 1000;
/// Entries kept at most; beyond this, those without a lock-out in force are forgotten.
const CAPACITY: usize = 10_000;
/// The most emails one client group may have counted in the last [`MAX_LOCK_MS`]: past it, new
/// emails from that group are refused for the base lock-out time (its flood cannot push other
/// entries, a victim's count among them, out of the table).
const PER_GROUP: usize = 256;

type Key = (String, Option<IpAddr>);

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Attempts counted since the last success, including those still being checked.
    failures: u32,
    locked_until: i64,
    /// The last attempt (to forget the stale first when the table is full).
    seen: i64,
}

#[derive(Debug)]
pub struct SignInThrottle {
    base_ms: i64,
    entries: Mutex<HashMap<Key, Entry>>,
}

/// The group a client address counts in: IPv4 by address, IPv6 by its /64 (an IPv4-mapped IPv6
/// address is the IPv4 address it carries).
pub fn client_group(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        v4 => v4,
    }
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
        (email.trim().to_lowercase(), ip.map(client_group))
    }

    fn wait_seconds(locked_until: i64, now: i64) -> u64 {
        u64::try_from((locked_until - now + 999) / 1000).unwrap_or(1).max(1)
    }

    /// Counts an attempt before its password is checked: `Err(seconds to wait)` while locked out.
    /// The attempt that reaches the limit starts the lock-out at once, so attempts in parallel
    /// with it are refused; [`SignInThrottle::failed`] restarts it when the check has failed.
    pub fn attempt(&self, email: &str, ip: Option<IpAddr>, now: i64) -> Result<(), u64> {
        let mut entries = self.entries();
        let key = Self::key(email, ip);
        if !entries.contains_key(&key) {
            let recent = |e: &Entry| e.locked_until > now || now - e.seen < MAX_LOCK_MS;
            if entries.iter().filter(|((_, group), e)| *group == key.1 && recent(e)).count() >= PER_GROUP {
                return Err(Self::wait_seconds(now + self.base_ms, now));
            }
            if entries.len() >= CAPACITY {
                Self::make_room(&mut entries, now);
            }
        }
        let e = entries.entry(key).or_insert(Entry { failures: 0, locked_until: 0, seen: now });
        e.seen = now;
        if e.locked_until > now {
            return Err(Self::wait_seconds(e.locked_until, now));
        }
        e.failures = e.failures.saturating_add(1);
        if e.failures >= FREE_FAILURES {
            e.locked_until = now + self.lock_ms(e.failures);
        }
        Ok(())
    }

    /// The table is full: entries with no recent failure go first; then, while it is still over
    /// nine tenths full, the unlocked entries with the fewest failures, newest first (a flood is
    /// newer than the count it tries to push out); locked entries stay while they are locked.
    fn make_room(entries: &mut HashMap<Key, Entry>, now: i64) {
        entries.retain(|_, e| e.locked_until > now || (e.failures > 0 && now - e.seen < MAX_LOCK_MS));
        let keep = CAPACITY * 9 / 10;
        if entries.len() <= keep {
            return;
        }
        let mut unlocked: Vec<(u32, i64, Key)> = entries
            .iter()
            .filter(|(_, e)| e.locked_until <= now)
            .map(|(k, e)| (e.failures, -e.seen, k.clone()))
            .collect();
        unlocked.sort_unstable();
        let excess = entries.len() - keep;
        for (_, _, k) in unlocked.into_iter().take(excess) {
            entries.remove(&k);
        }
    }

    fn lock_ms(&self, failures: u32) -> i64 {
        let doublings = failures.saturating_sub(FREE_FAILURES).min(20);
        self.base_ms.saturating_mul(1 << doublings).min(MAX_LOCK_MS)
    }

    /// An attempt's password did not match: its lock-out, if it started one, runs from now.
    /// Returns that lock-out in milliseconds (0 while still free).
    pub fn failed(&self, email: &str, ip: Option<IpAddr>, now: i64) -> i64 {
        match self.entries().get_mut(&Self::key(email, ip)) {
            Some(e) if e.failures >= FREE_FAILURES => {
                let lock = self.lock_ms(e.failures);
                e.locked_until = e.locked_until.max(now + lock);
                lock
            }
            _ => 0,
        }
    }

    /// An attempt counted by [`SignInThrottle::attempt`] was never evaluated: it is given back,
    /// with the lock-out it started.
    pub fn not_evaluated(&self, email: &str, ip: Option<IpAddr>) {
        if let Some(e) = self.entries().get_mut(&Self::key(email, ip)) {
            if e.failures >= FREE_FAILURES {
                e.locked_until = 0;
            }
            e.failures = e.failures.saturating_sub(1);
        }
    }

    /// A successful sign-in clears the count.
    pub fn succeeded(&self, email: &str, ip: Option<IpAddr>) {
        self.entries().remove(&Self::key(email, ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const IP: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));

    /// An attempt that is checked and fails.
    fn fail(t: &SignInThrottle, email: &str, ip: Option<IpAddr>, now: i64) -> Result<i64, u64> {
        t.attempt(email, ip, now)?;
        Ok(t.failed(email, ip, now))
    }

    #[test]
    fn five_failures_are_free_then_the_lock_out_doubles_up_to_the_limit() {
        let t = SignInThrottle::new(30);
        for i in 0..FREE_FAILURES - 1 {
            assert_eq!(fail(&t, "ada@acme.example", IP, 1000 + i64::from(i)), Ok(0));
        }
        assert_eq!(fail(&t, "Ada@Acme.example ", IP, 2000), Ok(30_000), "the same email, however written");
        assert_eq!(t.attempt("ada@acme.example", IP, 2000), Err(30));
        assert_eq!(t.attempt("ada@acme.example", IP, 31_001), Err(1));
        assert_eq!(fail(&t, "ada@acme.example", IP, 32_000), Ok(60_000));
        assert_eq!(fail(&t, "ada@acme.example", IP, 100_000), Ok(120_000));
        for i in 0..30 {
            let _ = fail(&t, "ada@acme.example", IP, 300_000 + i * 1_000_000);
        }
        assert_eq!(t.attempt("ada@acme.example", IP, 29_300_000), Err(900), "at most 15 minutes");
    }

    #[test]
    fn attempts_are_counted_before_their_check_so_parallel_guesses_cannot_outrun_the_limit() {
        let t = SignInThrottle::new(30);
        // 50 guesses arrive together: none has been checked (failed) yet when the others come.
        let admitted = (0..50).filter(|_| t.attempt("ada@acme.example", IP, 1000).is_ok()).count();
        assert_eq!(admitted, FREE_FAILURES as usize);
        // Their checks fail a little later: the lock-out runs from then.
        for _ in 0..admitted {
            t.failed("ada@acme.example", IP, 1500);
        }
        assert_eq!(t.attempt("ada@acme.example", IP, 31_000), Err(1));
        // One of the five turned out right: the count is cleared.
        t.succeeded("ada@acme.example", IP);
        assert_eq!(t.attempt("ada@acme.example", IP, 1600), Ok(()));
    }

    #[test]
    fn an_attempt_never_evaluated_is_given_back() {
        let t = SignInThrottle::new(30);
        for _ in 0..FREE_FAILURES {
            t.attempt("ada@acme.example", IP, 0).unwrap();
        }
        assert_eq!(t.attempt("ada@acme.example", IP, 0), Err(30), "five in flight");
        // Two of them were refused as busy before their check: two more may be evaluated.
        t.not_evaluated("ada@acme.example", IP);
        t.not_evaluated("ada@acme.example", IP);
        assert_eq!(t.attempt("ada@acme.example", IP, 0), Ok(()));
        assert_eq!(t.attempt("ada@acme.example", IP, 0), Ok(()));
        assert_eq!(t.attempt("ada@acme.example", IP, 0), Err(30));
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_ipv4_clients_by_address() {
        let t = SignInThrottle::new(10);
        let v6 = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // An attacker rotating through the addresses of their /64 is one client.
        for i in 1..FREE_FAILURES {
            assert_eq!(fail(&t, "ada@acme.example", v6(&format!("2001:db8:1:2::{i:x}")), 0), Ok(0));
        }
        assert_eq!(fail(&t, "ada@acme.example", v6("2001:db8:1:2:a:b:c:d"), 0), Ok(10_000));
        assert_eq!(t.attempt("ada@acme.example", v6("2001:db8:1:2:ffff:ffff:ffff:ffff"), 1), Err(10));
        assert_eq!(t.attempt("ada@acme.example", v6("2001:db8:1:3::1"), 1), Ok(()), "the next /64");
        assert_eq!(client_group("2001:db8:1:2:aaaa::1".parse().unwrap()), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        // IPv4: each address on its own, whether written as IPv4 or IPv4-mapped IPv6.
        for _ in 0..FREE_FAILURES {
            fail(&t, "bob@acme.example", v6("192.0.2.7"), 0).unwrap();
        }
        assert_eq!(t.attempt("bob@acme.example", v6("::ffff:192.0.2.7"), 1), Err(10));
        assert_eq!(t.attempt("bob@acme.example", v6("192.0.2.8"), 1), Ok(()), "the neighbouring address");
    }

    #[test]
    fn another_address_or_email_is_not_locked_and_success_clears() {
        let t = SignInThrottle::new(10);
        for _ in 0..FREE_FAILURES {
            fail(&t, "ada@acme.example", IP, 0).unwrap();
        }
        assert!(t.attempt("ada@acme.example", IP, 1).is_err());
        assert_eq!(t.attempt("ada@acme.example", None, 1), Ok(()), "another address");
        assert_eq!(t.attempt("bob@acme.example", IP, 1), Ok(()), "another email");
        t.succeeded("ada@acme.example", IP);
        assert_eq!(fail(&t, "ada@acme.example", IP, 2), Ok(0), "counting starts again");
    }

    #[test]
    fn the_table_stays_bounded() {
        let t = SignInThrottle::new(10);
        for i in 0..(CAPACITY as u32 + 50) {
            let ip = Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)));
            let _ = fail(&t, &format!("u{i}@x.example"), ip, 0);
        }
        assert!(t.entries().len() <= CAPACITY);
    }

    #[test]
    fn a_flood_of_other_emails_cannot_reset_a_victims_count() {
        let t = SignInThrottle::new(10);
        for _ in 0..4 {
            assert_eq!(fail(&t, "victim@x.example", IP, 0), Ok(0));
        }
        // From the same address: past its share of the table, the address is refused.
        let refused = (0..20_000).filter(|i| t.attempt(&format!("junk{i}@x.example"), IP, 1).is_err()).count();
        assert!(refused >= 20_000 - PER_GROUP, "{refused}");
        // From thousands of addresses: the table makes room, and the victim's count stays.
        for i in 0..(2 * CAPACITY as u32) {
            let ip = Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)));
            let _ = fail(&t, &format!("junk{i}@x.example"), ip, 2);
        }
        assert!(t.entries().len() <= CAPACITY);
        assert!(fail(&t, "victim@x.example", IP, 3).is_ok_and(|lock| lock > 0), "the fifth guess locks");
        assert!(fail(&t, "victim@x.example", IP, 4).is_err(), "and the sixth is refused");
    }
}
