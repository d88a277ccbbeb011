//! Authenticated-session bookkeeping (SPEC §3.2, §5, §11): which credentials the engine holds
//! and how many times the server refused them. The decisions live in the engine; this module
//! only keeps the facts together so no token can be forgotten in one place and kept in another.
//!
//! The JWT and the refresh token exist only here, in memory. They never reach [`super::Persisted`]
//! or [`super::StorageWrite`]; outputs that must carry them wrap them in [`Secret`], whose
//! `Debug` output is redacted so a driver logging outputs does not leak them.

use super::AuthFailure;

/// `configureAuthenticatedSession` attempts refused with 401 before the user must sign in
/// again (SDK `MAX_RECONFIGURE_ATTEMPTS`).
pub(crate) const MAX_CONFIGURE_ATTEMPTS: u32 = 3;

/// A token or other credential. Compare and clone freely; `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself, for the one place that must send it (an HTTP header or body).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The credential, consuming the wrapper.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

/// Tokens of a signed-in customer.
#[derive(Clone, Debug)]
pub(crate) struct Credentials {
    /// The Genesys auth JWT: `data.code` of every `configureAuthenticatedSession`.
    pub jwt: Secret,
    /// Renews the JWT after a 401 (absent after an implicit-flow sign-in).
    pub refresh_token: Option<Secret>,
    /// Configure attempts refused with 401 since the last success or sign-in.
    pub rejected_configures: u32,
    /// `Output::RefreshJwt` is outstanding: configuring waits for its answer.
    pub refreshing: bool,
}

impl Credentials {
    pub(crate) fn new(jwt: Secret, refresh_token: Option<Secret>) -> Self {
        Self { jwt, refresh_token, rejected_configures: 0, refreshing: false }
    }
}

/// Who the engine connects as.
#[derive(Clone, Debug)]
pub(crate) enum AuthMode {
    /// A guest session (`configureSession`).
    Guest,
    /// A signed-in customer (`configureAuthenticatedSession`).
    SignedIn(Credentials),
    /// The customer was signed in, but the server no longer accepts the tokens and they were
    /// dropped: nothing connects until `sign_in` (or `sign_out` returns to guest).
    SignInRequired(AuthFailure),
}

impl AuthMode {
    pub(crate) fn credentials(&self) -> Option<&Credentials> {
        match self {
            Self::SignedIn(credentials) => Some(credentials),
            _ => None,
        }
    }

    pub(crate) fn credentials_mut(&mut self) -> Option<&mut Credentials> {
        match self {
            Self::SignedIn(credentials) => Some(credentials),
            _ => None,
        }
    }

    pub(crate) fn is_guest(&self) -> bool {
        matches!(self, Self::Guest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let secret = Secret::new("eyJhbGciOiJIUzI1NiJ9.payload.signature");
        let shown = format!("{secret:?}");
        assert!(!shown.contains("eyJ"), "{shown}");
        assert_eq!(secret.expose(), "eyJhbGciOiJIUzI1NiJ9.payload.signature");
    }
}
