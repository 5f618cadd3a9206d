//! Passwords: argon2id with the crate's recommended parameters, hashed and checked off the async
//! threads, a few at a time. Each check takes 19 MiB and a core for a moment: a burst of sign-ins
//! waits for one of [`Slots`]' places, and past a short wait is answered "try again shortly"
//! (code `busy`), so memory stays bounded whatever arrives. An unknown email still costs one
//! verification, so timing does not reveal accounts.

use crate::error::{Error, Result};
use app::error::{AppError, ErrorCode};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::Semaphore;

/// How long a password check waits for a place before it is answered "try again shortly".
pub const WAIT: Duration = Duration::from_secs(3);

/// The places for password hashing and checking.
#[derive(Debug)]
pub struct Slots {
    places: Arc<Semaphore>,
    wait: Duration,
}

impl Slots {
    pub fn new(places: usize, wait: Duration) -> Self {
        Self { places: Arc::new(Semaphore::new(places.max(1))), wait }
    }

    /// The process's places: as many as cores, 2 to 4.
    pub fn shared() -> &'static Slots {
        static SHARED: OnceLock<Slots> = OnceLock::new();
        SHARED.get_or_init(|| {
            let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
            Slots::new(cores.clamp(2, 4), WAIT)
        })
    }

    /// Runs `work` on a blocking thread once a place is free. The place is held until `work`
    /// ends, even when the caller stops waiting for it.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
        let place = match tokio::time::timeout(self.wait, self.places.clone().acquire_owned()).await {
            Ok(Ok(place)) => place,
            Ok(Err(_)) | Err(_) => return Err(busy()),
        };
        tokio::task::spawn_blocking(move || {
            let _place = place;
            work()
        })
        .await?
    }
}

/// Makes the C allocator give large blocks (argon2's 19 MiB, large request bodies) back to the
/// system when they are freed. glibc's malloc otherwise raises its mmap threshold after the first
/// such block is freed and keeps the later ones in its heaps, where they pile up: 30 password
/// checks, two at a time, left 330 MB resident; with this, under 30 MB. Call it at start-up, before
/// other threads run.
pub fn return_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc parameter; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

/// "Try again shortly": every place was taken for the whole wait.
fn busy() -> Error {
    tracing::warn!("password check refused: every place was taken");
    Error::App(AppError::new(ErrorCode::Busy, "Liaison is busy checking other sign-ins. Try again shortly."))
}

pub async fn hash(password: String) -> Result<String> {
    Slots::shared().run(move || hash_now(&password)).await
}

fn hash_now(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::PasswordHash(e.to_string()))
}

/// Checks `password` against `stored` (a PHC string), or against a throw-away hash when there is
/// no user, so both cases take the same time. Returns false for a malformed stored hash.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool> {
    verify_in(Slots::shared(), password, stored).await
}

async fn verify_in(slots: &Slots, password: String, stored: Option<String>) -> Result<bool> {
    slots
        .run(move || {
            let known = stored.is_some();
            let stored = match stored {
                Some(s) => s,
                None => dummy_hash()?.to_string(),
            };
            let Ok(parsed) = PasswordHash::new(&stored) else {
                tracing::error!("a stored password hash is malformed");
                return Ok(false);
            };
            let ok = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
            Ok(ok && known)
        })
        .await
}

fn dummy_hash() -> Result<&'static str> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let h = hash_now("liaison: no such user")?;
    Ok(DUMMY.get_or_init(|| h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verifiable() {
        let a = hash("correct horse battery".into()).await.unwrap();
        let b = hash("correct horse battery".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "salted");
        assert!(verify("correct horse battery".into(), Some(a.clone())).await.unwrap());
        assert!(!verify("wrong horse battery".into(), Some(a)).await.unwrap());
    }

    #[tokio::test]
    async fn no_user_and_bad_hash_never_verify() {
        assert!(!verify("liaison: no such user".into(), None).await.unwrap());
        assert!(!verify("x".into(), Some("not a hash".into())).await.unwrap());
    }

    #[tokio::test]
    async fn past_the_wait_for_a_place_the_answer_is_busy() {
        let slots = Slots::new(1, Duration::from_millis(50));
        let taken = slots.places.clone().acquire_owned().await.unwrap();
        let e = verify_in(&slots, "x".into(), None).await.unwrap_err();
        let e = AppError::from(e);
        assert_eq!(e.code, ErrorCode::Busy);
        assert_eq!(e.message, "Liaison is busy checking other sign-ins. Try again shortly.");
        drop(taken);
        assert!(!verify_in(&slots, "x".into(), None).await.unwrap(), "a free place: checked");
    }

    #[tokio::test]
    async fn no_more_checks_run_at_once_than_there_are_places() {
        let slots = Arc::new(Slots::new(2, Duration::from_secs(60)));
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (slots, running, most) = (slots.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    slots
                        .run(move || {
                            use std::sync::atomic::Ordering::SeqCst;
                            let now = running.fetch_add(1, SeqCst) + 1;
                            most.fetch_max(now, SeqCst);
                            std::thread::sleep(Duration::from_millis(20));
                            running.fetch_sub(1, SeqCst);
                            Ok(())
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
