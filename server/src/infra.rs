//! What the areas stand on, built once at start and shared: the store, the clock, the vault, the
//! outbound client and Liaison's public URL. Nothing of the domain lives here.

use crate::keys::live::Vault;
use crate::outbound::Outbound;
use crate::store::{Clock, Store};
use std::sync::Arc;

#[derive(Clone)]
pub struct Infra {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// Seals and opens every secret at rest.
    pub vault: Arc<Vault>,
    /// The client for calls to providers (SSRF guard at the resolver, no redirects, limits).
    pub outbound: Outbound,
    /// Liaison's public URL, ending in `/`.
    pub public_url: String,
}
