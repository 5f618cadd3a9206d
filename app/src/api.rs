//! The server functions. Each one is a few lines: who is asking → the Backend → the result.
//! Every path is fixed (`/rpc/<name>`), so tests and other clients can name them.

use crate::error::AppError;
use crate::model::{Password, Viewer};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod ssr {
    use crate::backend::{Backend, RequestIdentity};
    use crate::error::AppError;
    use leptos::prelude::*;
    use std::sync::Arc;

    pub fn backend() -> Result<Arc<dyn Backend>, AppError> {
        use_context::<Arc<dyn Backend>>().ok_or_else(AppError::internal)
    }

    pub fn identity() -> RequestIdentity {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<RequestIdentity>().cloned())
            .unwrap_or_default()
    }

    /// Gives the response the HTTP status that matches the error's code.
    pub fn finish<T>(result: Result<T, AppError>) -> Result<T, AppError> {
        if let Err(e) = &result {
            if let (Some(opts), Ok(status)) =
                (use_context::<leptos_axum::ResponseOptions>(), http::StatusCode::from_u16(e.code.http_status()))
            {
                opts.set_status(status);
            }
        }
        result
    }

    pub fn set_cookie(value: &str) -> Result<(), AppError> {
        let opts = use_context::<leptos_axum::ResponseOptions>().ok_or_else(AppError::internal)?;
        let value = http::HeaderValue::from_str(value).map_err(|_| AppError::internal())?;
        opts.append_header(http::header::SET_COOKIE, value);
        Ok(())
    }
}

/// Where a signed-in user lands.
pub const HOME: &str = "/settings/developer-space/connections";

/// The signed-in user, or `None`.
#[server(prefix = "/rpc", endpoint = "me")]
pub async fn me() -> Result<Option<Viewer>, AppError> {
    Ok(ssr::identity().viewer)
}

/// Whether the first-run setup is still open.
#[server(prefix = "/rpc", endpoint = "setup_needed")]
pub async fn setup_needed() -> Result<bool, AppError> {
    ssr::finish(ssr::backend()?.setup_needed().await)
}

/// First-run setup: creates the organisation and its first admin, then signs them in.
#[server(prefix = "/rpc", endpoint = "setup")]
pub async fn create_first_admin(
    org_name: String,
    name: String,
    email: String,
    password: Password,
    password_confirm: Password,
) -> Result<(), AppError> {
    ssr::finish(
        async {
            let form = crate::model::SetupForm::parse(&org_name, &name, &email, password, &password_confirm)
                .map_err(AppError::validation)?;
            let started = ssr::backend()?.create_first_admin(form).await?;
            ssr::set_cookie(&started.set_cookie)?;
            leptos_axum::redirect(HOME);
            Ok(())
        }
        .await,
    )
}

/// Signs in with email and password.
#[server(prefix = "/rpc", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: Password) -> Result<(), AppError> {
    ssr::finish(
        async {
            let started = ssr::backend()?.sign_in(&email, &password).await?;
            ssr::set_cookie(&started.set_cookie)?;
            leptos_axum::redirect(HOME);
            Ok(())
        }
        .await,
    )
}

/// Signs out of this browser.
#[server(prefix = "/rpc", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    ssr::finish(
        async {
            let clear = ssr::backend()?.sign_out(ssr::identity().session.as_ref()).await?;
            ssr::set_cookie(&clear)?;
            leptos_axum::redirect("/login");
            Ok(())
        }
        .await,
    )
}
