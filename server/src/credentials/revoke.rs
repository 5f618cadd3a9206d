//! Revocation: a connection's grants (or one person's) revoked at the provider before they are
//! erased here. Only a grant made under the service's endpoints of now is sent (`crate::custody`);
//! a provider that cannot be reached or refuses does not stop the revocation here.

use super::{endpoint, token, Credentials};
use crate::error::Result;
use crate::store::audit;
use crate::store::connections::ConnectionRecord;
use crate::store::grants;
use crate::vault::SecretColumn;
use app::service::AuthType;

impl Credentials {
    /// Revokes every grant of a connection at the provider. A provider that cannot be reached or
    /// refuses does not stop the revocation here: the failure is logged and audited. A grant made
    /// under other endpoints than the service has now is sent nowhere (`crate::custody`).
    pub async fn revoke_grants(&self, c: &ConnectionRecord, actor: &str) -> Result<()> {
        self.revoke_grants_of(c, None, actor).await
    }

    /// Revokes one person's own grant of a login-user connection at the provider (the grant whose
    /// user key is their id), the same way as [`Self::revoke_grants`].
    pub async fn revoke_user_grant(&self, c: &ConnectionRecord, user_key: i64, actor: &str) -> Result<()> {
        self.revoke_grants_of(c, Some(user_key), actor).await
    }

    /// Revokes the grants of a connection at the provider: all of them, or only `only`'s.
    async fn revoke_grants_of(&self, c: &ConnectionRecord, only: Option<i64>, actor: &str) -> Result<()> {
        let resolved = self.services.resolve(c.org_id, &c.service).await?;
        let spec = &resolved.spec;
        let (Some(url), AuthType::OAuth2) = (spec.revoke_url.as_ref(), spec.auth_type) else { return Ok(()) };
        let Some(client) = self.services.client_for(c, &resolved)? else { return Ok(()) };
        let ep = endpoint(spec, Some(url.as_str()), &client);
        let custody = resolved.custody_of(c);
        for g in grants::grants(&self.infra.store.pool, c.id).await? {
            if only.is_some_and(|key| key != g.user_key) {
                continue;
            }
            if !custody.entrusts(g.custody.as_deref()) {
                tracing::warn!(link_name = %c.link_name, "a grant made under other endpoints is erased without revoking it");
                continue;
            }
            let (column, hint, sealed) = match (&g.refresh_token, &g.access_token) {
                (Some(r), _) => (SecretColumn::GrantRefreshToken, "refresh_token", r),
                (None, Some(a)) => (SecretColumn::GrantAccessToken, "access_token", a),
                (None, None) => continue,
            };
            let secret = match self.vault.open(column.at(g.id), sealed) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(link_name = %c.link_name, error = %e, "cannot open a token to revoke it");
                    continue;
                }
            };
            if let Err(e) = token::revoke(&self.infra.outbound, &ep, &secret, hint).await {
                tracing::warn!(link_name = %c.link_name, error = %e, "revoking at the provider failed");
                let now = self.infra.clock.now_ms();
                let detail = format!("the provider did not confirm the revocation: {e}");
                audit::By::new(Some(c.org_id), actor, now)
                    .record(&self.infra.store.pool, "connection.revoke_at_provider_failed", &c.link_name, Some(&detail))
                    .await?;
            }
        }
        Ok(())
    }
}
