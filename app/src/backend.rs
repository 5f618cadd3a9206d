//! The seam between the UI and the server (ssr only): every operation a page may ask of the server,
//! in one trait. `server/` implements it; server functions call it and do nothing else.

use crate::error::Result;
use crate::model::{Password, SetupForm, Viewer};
use async_trait::async_trait;

/// What the server learnt about the request before the server function ran: the signed-in user
/// (if any) and an opaque handle on their session. Put in the request's extensions by the server.
#[derive(Debug, Clone, Default)]
pub struct RequestIdentity {
    pub viewer: Option<Viewer>,
    pub session: Option<SessionHandle>,
}

/// Names a session without carrying its token (the server keeps only a hash of the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionHandle(pub String);

/// A new session: who it belongs to, and the `Set-Cookie` value that hands it to the browser.
#[derive(Debug, Clone)]
pub struct SessionStart {
    pub viewer: Viewer,
    pub set_cookie: String,
}

#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// True while no user exists: the first-run setup page is open.
    async fn setup_needed(&self) -> Result<bool>;
    /// Creates the first organisation and its admin, and signs the admin in.
    async fn create_first_admin(&self, form: SetupForm) -> Result<SessionStart>;
    /// Checks an email and password and starts a session.
    async fn sign_in(&self, email: &str, password: &Password) -> Result<SessionStart>;
    /// Ends the session (if any); returns the `Set-Cookie` value that clears the cookie.
    async fn sign_out(&self, session: Option<&SessionHandle>) -> Result<String>;
}
