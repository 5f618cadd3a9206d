//! What the two popup routes (`/oauth/start/…` and `/oauth/callback/…`) take from every request:
//! the Flows area and Liaison's public origin from the app state, and who is asking.

use super::page::PublicOrigin;
use super::Flows;
use app::backend::RequestIdentity;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::Extension;
use std::sync::Arc;

pub struct FlowRequest {
    pub flows: Arc<Flows>,
    /// The only window the popup's page talks to.
    pub origin: PublicOrigin,
    /// The person signed in and their browser session, if any (`routes::identify` puts it there).
    pub identity: RequestIdentity,
}

impl<S> FromRequestParts<S> for FlowRequest
where
    S: Send + Sync,
    Arc<Flows>: FromRef<S>,
    PublicOrigin: FromRef<S>,
{
    type Rejection = <Extension<RequestIdentity> as FromRequestParts<S>>::Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Extension(identity) = Extension::<RequestIdentity>::from_request_parts(parts, state).await?;
        Ok(Self { flows: Arc::from_ref(state), origin: PublicOrigin::from_ref(state), identity })
    }
}
