//! Who is asking: passwords, sessions, sign-in throttling, and the same-origin rule for
//! state-changing requests.

pub mod csrf;
pub mod embedded;
pub mod password;
pub mod session;
pub mod sessions;
pub mod throttle;
