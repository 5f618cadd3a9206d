//! What time it is: the one `Clock` every reading of "now" in the server goes through (sessions,
//! API token and grant expiry, refresh leases, authorisation flows, the sign-in throttle, the
//! vault's records, the command line).
//!
//! Release builds have only the wall clock. Debug builds (the integration tests' binary) also
//! have a clock moved by a file: with `LIAISON_TEST_CLOCK=<path>`, "now" is the wall clock plus
//! the whole number of milliseconds the file holds (0 while the file is absent), read at every
//! call, so a test moves time forward for every process that shares the file instead of sleeping.
//! A release build refuses to start with that setting (`crate::config`).
//!
//! Waits that a test must not spend in real time (the scripts' API waiting out a `Retry-After`)
//! go through [`Clock::sleep`]: the wall clock sleeps; the moved clock returns at once, having
//! moved its file forward by the wait, so a test reads from the file how long the server waited.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A wait, as [`Clock::sleep`] returns it.
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// The current time in Unix milliseconds. Time is a parameter: store functions take `now`.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;

    /// Waits `d` by this clock (the wall clock: a real sleep).
    fn sleep(&self, d: Duration) -> Sleep<'_> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }
}

/// The clock the configuration asks for: the wall clock, or in a debug build given
/// `LIAISON_TEST_CLOCK`, the wall clock moved by that file.
pub fn from_config(config: &crate::config::Config) -> Arc<dyn Clock> {
    #[cfg(debug_assertions)]
    if let Some(path) = &config.test_clock {
        tracing::warn!(file = %path.display(), "test clock: the time is moved by a file (debug builds only)");
        return Arc::new(OffsetFileClock { path: path.clone() });
    }
    let _ = config;
    Arc::new(SystemClock)
}

/// The wall clock plus the offset in milliseconds written in a file (debug builds only).
#[cfg(debug_assertions)]
pub struct OffsetFileClock {
    pub path: std::path::PathBuf,
}

#[cfg(debug_assertions)]
impl OffsetFileClock {
    /// The offset the file holds now: 0 when it is absent; a file that does not hold a whole
    /// number is said in the log and counts as 0 (the tests replace it by a rename, so a reader
    /// never sees half a number).
    pub fn offset_ms(&self) -> i64 {
        let Ok(text) = std::fs::read_to_string(&self.path) else { return 0 };
        text.trim().parse().unwrap_or_else(|_| {
            tracing::warn!(file = %self.path.display(), "test clock: the file does not hold a whole number of milliseconds");
            0
        })
    }
}

#[cfg(debug_assertions)]
impl Clock for OffsetFileClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms().saturating_add(self.offset_ms())
    }

    /// No real wait: the file moves forward by `d` (written beside it and renamed over it, one
    /// wait at a time in this process), so "now" is `d` later for every process that shares it.
    fn sleep(&self, d: Duration) -> Sleep<'_> {
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _held = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let next = self.offset_ms().saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let tmp = self.path.with_extension(format!("sleep-{}", std::process::id()));
        if let Err(e) = std::fs::write(&tmp, next.to_string()).and_then(|()| std::fs::rename(&tmp, &self.path)) {
            tracing::warn!(file = %self.path.display(), error = %e, "test clock: could not move the clock forward");
        }
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(debug_assertions)]
    fn clock(dir: &tempfile::TempDir) -> OffsetFileClock {
        OffsetFileClock { path: dir.path().join("test-clock") }
    }

    #[test]
    fn the_system_clock_is_the_unix_time_in_milliseconds() {
        let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        let now = SystemClock.now_ms();
        let after = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        assert!((before..=after).contains(&now), "{before} <= {now} <= {after}");
        assert!(now > 1_700_000_000_000, "milliseconds, not seconds: {now}");
    }

    #[cfg(debug_assertions)]
    #[test]
    fn without_its_file_the_offset_clock_is_the_wall_clock() {
        let dir = tempfile::tempdir().unwrap();
        let c = clock(&dir);
        assert_eq!(c.offset_ms(), 0);
        let (wall, moved) = (SystemClock.now_ms(), c.now_ms());
        assert!((0..1_000).contains(&(moved - wall)), "{moved} vs {wall}");
    }

    #[cfg(debug_assertions)]
    #[test]
    fn the_offset_clock_moves_by_what_its_file_says_at_each_reading() {
        let dir = tempfile::tempdir().unwrap();
        let c = clock(&dir);
        std::fs::write(&c.path, "3600000\n").unwrap();
        let ahead = c.now_ms() - SystemClock.now_ms();
        assert!((3_599_000..=3_600_000).contains(&ahead), "an hour ahead: {ahead}");
        std::fs::write(&c.path, "-86400000").unwrap();
        let behind = c.now_ms() - SystemClock.now_ms();
        assert!((-86_401_000..=-86_400_000).contains(&behind), "a day behind: {behind}");
        std::fs::remove_file(&c.path).unwrap();
        assert_eq!(c.offset_ms(), 0, "the file removed, the wall clock again");
    }

    #[cfg(debug_assertions)]
    #[tokio::test]
    async fn a_sleep_on_the_offset_clock_moves_its_file_instead_of_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let c = clock(&dir);
        let started = std::time::Instant::now();
        c.sleep(Duration::from_secs(3600)).await;
        assert_eq!(c.offset_ms(), 3_600_000, "the file moved by the wait");
        c.sleep(Duration::from_millis(1500)).await;
        assert_eq!(c.offset_ms(), 3_601_500, "waits add up");
        assert!(started.elapsed() < Duration::from_secs(5), "no real wait");
    }

    #[cfg(debug_assertions)]
    #[test]
    fn a_file_without_a_whole_number_counts_as_no_offset() {
        let dir = tempfile::tempdir().unwrap();
        let c = clock(&dir);
        for junk in ["", "soon", "1.5", "99999999999999999999999"] {
            std::fs::write(&c.path, junk).unwrap();
            assert_eq!(c.offset_ms(), 0, "{junk:?}");
        }
    }

    #[cfg(debug_assertions)]
    #[test]
    fn the_configuration_chooses_the_clock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test-clock");
        std::fs::write(&path, "60000").unwrap();
        let env = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
            [("LIAISON_DATA_DIR", dir.path().to_str().unwrap())]
                .iter()
                .chain(extra)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let plain = crate::config::Config::load_from(None, &env(&[])).unwrap();
        let wall = from_config(&plain).now_ms() - SystemClock.now_ms();
        assert!((-1_000..1_000).contains(&wall), "no setting, the wall clock: {wall}");
        let moved =
            crate::config::Config::load_from(None, &env(&[("LIAISON_TEST_CLOCK", path.to_str().unwrap())])).unwrap();
        let ahead = from_config(&moved).now_ms() - SystemClock.now_ms();
        assert!((59_000..=60_000).contains(&ahead), "a minute ahead: {ahead}");
    }

    #[cfg(not(debug_assertions))]
    #[test]
    fn a_release_build_refuses_to_start_with_the_test_clock() {
        let env = [("LIAISON_TEST_CLOCK".to_string(), "/tmp/test-clock".to_string())];
        let e = crate::config::Config::load_from(None, &env).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("LIAISON_TEST_CLOCK") && e.contains("only in debug builds"), "{e}");
        let plain = crate::config::Config::load_from(None, &[]).unwrap();
        let wall = from_config(&plain).now_ms() - SystemClock.now_ms();
        assert!((-1_000..1_000).contains(&wall), "{wall}");
    }
}
