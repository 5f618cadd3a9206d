//! What the areas stand on, built once at start and shared: the store, the clock, the outbound
//! client and Liaison's public URL. Nothing of the domain lives here. The vault is not among them:
//! only the areas that seal or open secrets hold it (Services, Credentials, Flows, Connections).

use crate::outbound::Outbound;
use crate::store::{Clock, Store};
use std::sync::Arc;

#[derive(Clone)]
pub struct Infra {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// The client for calls to providers (SSRF guard at the resolver, no redirects, limits).
    pub outbound: Outbound,
    /// Liaison's public URL, ending in `/`.
    pub public_url: String,
}
