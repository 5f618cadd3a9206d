//! The sign-in a host console vouches for (`crate::embed` checks its token): once per token, in a
//! session bound to the console's origin, and, when the operator allows it, the first arrival of a
//! person Liaison does not know yet creates them in the organisation the token names.
//!
//! A token never changes a person who exists: their name, role and organisation stay as Liaison
//! has them (a token naming another organisation than theirs is refused; where consoles may bring
//! people, a token naming no organisation is refused too, whoever it names). A person created here
//! is a member unless the token says admin and `embed_provision_admins` allows it; they have no
//! password ([`users::NO_PASSWORD`]), so they sign in only through the console. Every creation is
//! audited, the console's origin as the actor. A person an admin removed from the organisation is
//! not created again (`crate::members`) until an admin adds them back.

use crate::auth::session;
use crate::auth::sessions::Sessions;
pub use crate::config::Provision;
use crate::error::{Error, Result};
use crate::store::{audit, embed_tokens, members, orgs, sessions, users};
use app::model::Role;

/// A person arriving from a console, as its (verified) token says.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    /// A valid email address, lower case.
    pub email: &'a str,
    /// The console's origin.
    pub origin: &'a str,
    /// What identifies the token ([`crate::embed::Embed::token_id`]), and its expiry (Unix ms).
    pub token_id: &'a str,
    pub expires_at: i64,
    /// The person's display name and role, used only to create them.
    pub name: Option<&'a str>,
    pub role: Option<Role>,
    /// The name of the person's organisation in Liaison.
    pub org: Option<&'a str>,
}

/// What an embedded sign-in came to.
#[derive(Debug)]
pub enum Embedded {
    /// Signed in: the new session's token, for the embedded cookie.
    Started { session_token: String },
    /// The token names a person Liaison does not know, and may not create.
    UnknownPerson,
    /// The token signed someone in before.
    Replayed,
    /// The token names an organisation Liaison does not have.
    UnknownOrganisation,
    /// The person exists in another organisation than the one the token names.
    OtherOrganisation,
    /// Consoles may bring people here, and the token does not say which organisation it means:
    /// refused whoever it names (decided before the person is looked up).
    NoOrganisation,
    /// The token asks for a new admin and `embed_provision_admins` is off.
    AdminNotAllowed,
    /// An admin of the organisation (named) removed this person, and nobody added them back.
    RemovedByAdmin { org: String },
}

impl Sessions {
    /// Signs in the person a console vouches for, once per token (the token's id is remembered
    /// until a token lifetime past its expiry), creating them first when `provision` allows it. A refusal changes
    /// nothing: the token stays unused.
    pub async fn start_embedded(&self, arrival: Arrival<'_>, provision: Provision) -> Result<Embedded> {
        let now = self.clock.now_ms();
        embed_tokens::prune(&self.store.pool, now).await?;
        // Two first arrivals of one person at once: one creates them, the other, refused by the
        // unique email, tries again and finds them.
        let mut attempts = 2;
        loop {
            attempts -= 1;
            match self.try_start_embedded(arrival, provision, now).await {
                Err(Error::EmailTaken) if attempts > 0 => continue,
                other => return other,
            }
        }
    }

    async fn try_start_embedded(&self, a: Arrival<'_>, provision: Provision, now: i64) -> Result<Embedded> {
        let mut tx = self.store.begin().await?;
        if !embed_tokens::use_once(&mut *tx, a.token_id, a.expires_at).await? {
            tracing::warn!(origin = %a.origin, "embedded sign-in refused: token replayed");
            return Ok(Embedded::Replayed);
        }
        let named_org = match a.org {
            // Where consoles may bring people, the organisation is always checked.
            None if provision.users => {
                tracing::warn!(origin = %a.origin, "embedded sign-in refused: the token names no organisation");
                return Ok(Embedded::NoOrganisation);
            }
            None => None,
            Some(name) => match orgs::id_by_name(&mut *tx, name).await? {
                Some(id) => Some(id),
                None => return Ok(Embedded::UnknownOrganisation),
            },
        };
        let (org_id, user_id) = match users::credentials_by_email(&mut *tx, a.email).await? {
            Some(user) if named_org.is_some_and(|org| org != user.org_id) => {
                tracing::warn!(user_id = user.id, origin = %a.origin, "embedded sign-in refused: another organisation");
                return Ok(Embedded::OtherOrganisation);
            }
            Some(user) => (user.org_id, user.id),
            None if !provision.users => return Ok(Embedded::UnknownPerson),
            None => {
                let Some(org_id) = named_org else { return Ok(Embedded::NoOrganisation) };
                if members::was_removed(&mut *tx, org_id, a.email).await? {
                    tracing::warn!(org_id, origin = %a.origin, "embedded sign-in refused: an admin removed this person");
                    return Ok(Embedded::RemovedByAdmin { org: a.org.unwrap_or_default().to_string() });
                }
                let role = a.role.unwrap_or(Role::Member);
                if role == Role::Admin && !provision.admins {
                    tracing::warn!(origin = %a.origin, "embedded sign-in refused: the token asks for a new admin");
                    return Ok(Embedded::AdminNotAllowed);
                }
                let name = a.name.unwrap_or(a.email);
                let user = users::NewUser { org_id, email: a.email, name, role, password_hash: users::NO_PASSWORD };
                let user_id = users::create(&mut *tx, user, now).await?;
                let detail = format!("as {}, named {name:?}, on first arrival from the console", role.as_str());
                audit::By::new(Some(org_id), a.origin, now)
                    .record(&mut *tx, "member.create", a.email, Some(&detail))
                    .await?;
                tracing::info!(user_id, org_id, role = role.as_str(), origin = %a.origin, "a console's person created");
                (org_id, user_id)
            }
        };
        let token = session::new_token();
        let expires = now + (self.cookies.max_age_secs as i64) * 1000;
        sessions::create_embedded(&mut *tx, &session::token_hash(&token), (org_id, user_id), a.origin, now, expires)
            .await?;
        tx.commit().await?;
        tracing::info!(user_id, origin = %a.origin, "embedded sign-in");
        Ok(Embedded::Started { session_token: token })
    }
}
