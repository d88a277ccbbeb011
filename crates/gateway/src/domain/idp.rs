//! The development identity provider: OAuth 2.0 authorization code grant (RFC 6749) with PKCE
//! S256 (RFC 7636) for a few demo users, issuing OpenID Connect id tokens (HS256).
//!
//! Authorization codes live in memory only: they are single-use and short-lived, so losing them
//! on restart costs at most one sign-in attempt. Time is passed in (no clock reads here).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::jwt::{pkce_s256_matches, random_token, IdTokenClaims, JwtError, Signer};

/// `iss` of every id token.
pub const ISSUER: &str = "threadline-gateway-dev-idp";

/// Most codes pending at once; beyond it expired ones are dropped, then the oldest.
const MAX_PENDING_CODES: usize = 10_000;

/// A user of the development identity provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemoUser {
    /// Stable subject id (`sub`).
    pub sub: &'static str,
    pub given_name: &'static str,
    pub family_name: &'static str,
    pub email: &'static str,
    /// Default of the contact's `curated` flag (long message retention); the control API can
    /// change it.
    pub curated: bool,
}

impl DemoUser {
    /// "Given Family".
    pub fn display_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }
}

/// The demo users offered on the login page.
pub const DEMO_USERS: [DemoUser; 3] = [
    DemoUser {
        sub: "alice",
        given_name: "Alice",
        family_name: "Andersen",
        email: "alice@example.com",
        curated: true,
    },
    DemoUser {
        sub: "bob",
        given_name: "Bob",
        family_name: "Brown",
        email: "bob@example.com",
        curated: false,
    },
    DemoUser {
        sub: "carol",
        given_name: "Carol",
        family_name: "Chen",
        email: "carol@example.com",
        curated: false,
    },
];

/// Looks up a demo user by `sub`.
pub fn demo_user(sub: &str) -> Option<&'static DemoUser> {
    DEMO_USERS.iter().find(|user| user.sub == sub)
}

/// Why an authorization or token request was refused (the client's fault). The variants map to
/// the RFC 6749 error codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdpError {
    /// `invalid_request`: a parameter is missing or malformed.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// `invalid_grant`: unknown, expired or reused code, redirect or PKCE mismatch.
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// `unsupported_grant_type` / `unsupported_response_type`.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl IdpError {
    /// The RFC 6749 `error` value.
    pub fn code(&self) -> &'static str {
        match self {
            IdpError::InvalidRequest(_) => "invalid_request",
            IdpError::InvalidGrant(_) => "invalid_grant",
            IdpError::Unsupported(_) => "unsupported_grant_type",
        }
    }

    /// The human-readable part.
    pub fn description(&self) -> &str {
        match self {
            IdpError::InvalidRequest(text)
            | IdpError::InvalidGrant(text)
            | IdpError::Unsupported(text) => text,
        }
    }
}

/// A validated `/auth/authorize` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    /// PKCE S256 challenge; optional (the SDK allows code flow without PKCE), verified if given.
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
}

impl AuthorizeRequest {
    /// Validates the query (or form) parameters of `/auth/authorize`.
    pub fn from_params(params: &HashMap<String, String>) -> Result<Self, IdpError> {
        let get = |key: &str| {
            params
                .get(key)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        match get("response_type") {
            Some("code") => {}
            Some(other) => {
                return Err(IdpError::Unsupported(format!(
                    "response_type {other:?} (only \"code\")"
                )))
            }
            None => return Err(IdpError::InvalidRequest("response_type is required".into())),
        }
        let client_id = get("client_id")
            .filter(|id| id.len() <= 200)
            .ok_or_else(|| IdpError::InvalidRequest("client_id is required".into()))?;
        let redirect_uri = get("redirect_uri")
            .ok_or_else(|| IdpError::InvalidRequest("redirect_uri is required".into()))?;
        validate_redirect_uri(redirect_uri)?;
        let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
            (None, None) => None,
            (Some(challenge), Some("S256")) => {
                let well_formed = (43..=128).contains(&challenge.len())
                    && challenge
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !well_formed {
                    return Err(IdpError::InvalidRequest(
                        "code_challenge must be 43-128 base64url characters".into(),
                    ));
                }
                Some(challenge.to_owned())
            }
            (Some(_), _) => {
                return Err(IdpError::InvalidRequest(
                    "code_challenge_method must be S256".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(IdpError::InvalidRequest(
                    "code_challenge_method without code_challenge".into(),
                ))
            }
        };
        let bounded = |key: &str| -> Result<Option<String>, IdpError> {
            match get(key) {
                Some(value) if value.len() > 1024 => Err(IdpError::InvalidRequest(format!(
                    "{key} is longer than 1024 characters"
                ))),
                value => Ok(value.map(str::to_owned)),
            }
        };
        Ok(Self {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            state: bounded("state")?,
            code_challenge,
            nonce: bounded("nonce")?,
        })
    }

    /// The form fields that carry this request through the login page.
    pub fn hidden_fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            ("response_type", "code".to_owned()),
            ("client_id", self.client_id.clone()),
            ("redirect_uri", self.redirect_uri.clone()),
        ];
        if let Some(state) = &self.state {
            fields.push(("state", state.clone()));
        }
        if let Some(challenge) = &self.code_challenge {
            fields.push(("code_challenge", challenge.clone()));
            fields.push(("code_challenge_method", "S256".to_owned()));
        }
        if let Some(nonce) = &self.nonce {
            fields.push(("nonce", nonce.clone()));
        }
        fields
    }
}

/// An absolute http(s) URL without a fragment (RFC 6749 §3.1.2).
fn validate_redirect_uri(uri: &str) -> Result<(), IdpError> {
    let rest = uri
        .strip_prefix("http://")
        .or_else(|| uri.strip_prefix("https://"));
    let host_ok = rest
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/') && !rest.starts_with('?'));
    if !host_ok || uri.contains('#') || uri.len() > 2048 || uri.chars().any(char::is_whitespace) {
        return Err(IdpError::InvalidRequest(
            "redirect_uri must be an absolute http(s) URL without a fragment".into(),
        ));
    }
    Ok(())
}

/// What a redeemed code proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redeemed {
    pub user: &'static DemoUser,
    pub client_id: String,
    pub nonce: Option<String>,
}

struct PendingCode {
    request: AuthorizeRequest,
    user: &'static DemoUser,
    expires_ms: u64,
}

/// The identity provider's state: pending codes and its signing keys.
pub struct IdentityProvider {
    codes: Mutex<HashMap<String, PendingCode>>,
    id_signer: Signer,
    access_signer: Signer,
}

impl IdentityProvider {
    /// An identity provider signing with keys derived from `signer`.
    pub fn new(signer: &Signer) -> Self {
        Self {
            codes: Mutex::new(HashMap::new()),
            id_signer: signer.derive("idp-id-token"),
            access_signer: signer.derive("idp-access-token"),
        }
    }

    fn codes(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingCode>> {
        self.codes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Issues a code for `sub` after the login form was submitted.
    pub fn issue_code(
        &self,
        request: AuthorizeRequest,
        sub: &str,
        now_ms: u64,
        ttl_ms: u64,
    ) -> Result<String, IdpError> {
        let user = demo_user(sub)
            .ok_or_else(|| IdpError::InvalidRequest(format!("unknown user {sub:?}")))?;
        let code = random_token();
        let mut codes = self.codes();
        if codes.len() >= MAX_PENDING_CODES {
            codes.retain(|_, pending| pending.expires_ms > now_ms);
            if codes.len() >= MAX_PENDING_CODES {
                if let Some(oldest) = codes
                    .iter()
                    .min_by_key(|(_, pending)| pending.expires_ms)
                    .map(|(code, _)| code.clone())
                {
                    codes.remove(&oldest);
                }
            }
        }
        codes.insert(
            code.clone(),
            PendingCode {
                request,
                user,
                expires_ms: now_ms.saturating_add(ttl_ms),
            },
        );
        Ok(code)
    }

    /// Redeems a code. The code is consumed by the first attempt, successful or not, so a
    /// leaked code cannot be replayed nor its verifier guessed.
    pub fn redeem_code(
        &self,
        code: &str,
        redirect_uri: &str,
        client_id: Option<&str>,
        code_verifier: Option<&str>,
        now_ms: u64,
    ) -> Result<Redeemed, IdpError> {
        let pending = self
            .codes()
            .remove(code)
            .ok_or_else(|| IdpError::InvalidGrant("unknown or already used code".into()))?;
        if pending.expires_ms <= now_ms {
            return Err(IdpError::InvalidGrant("the code has expired".into()));
        }
        if pending.request.redirect_uri != redirect_uri {
            return Err(IdpError::InvalidGrant(
                "redirect_uri does not match the authorization request".into(),
            ));
        }
        if client_id.is_some_and(|id| id != pending.request.client_id) {
            return Err(IdpError::InvalidGrant(
                "client_id does not match the authorization request".into(),
            ));
        }
        match (&pending.request.code_challenge, code_verifier) {
            (None, _) => {}
            (Some(_), None) => {
                return Err(IdpError::InvalidGrant("code_verifier is required".into()))
            }
            (Some(challenge), Some(verifier)) => {
                if !pkce_s256_matches(verifier, challenge) {
                    return Err(IdpError::InvalidGrant(
                        "code_verifier does not match the code_challenge".into(),
                    ));
                }
            }
        }
        Ok(Redeemed {
            user: pending.user,
            client_id: pending.request.client_id,
            nonce: pending.request.nonce,
        })
    }

    fn claims(
        user: &DemoUser,
        client_id: &str,
        nonce: Option<String>,
        now_ms: u64,
        ttl_seconds: u64,
    ) -> IdTokenClaims {
        let now = now_ms / 1000;
        IdTokenClaims {
            iss: ISSUER.to_owned(),
            sub: user.sub.to_owned(),
            aud: client_id.to_owned(),
            iat: now,
            exp: now.saturating_add(ttl_seconds),
            nonce,
            name: user.display_name(),
            given_name: user.given_name.to_owned(),
            family_name: user.family_name.to_owned(),
            email: user.email.to_owned(),
        }
    }

    /// A signed id token for `user`.
    pub fn id_token(
        &self,
        user: &DemoUser,
        client_id: &str,
        nonce: Option<String>,
        now_ms: u64,
        ttl_seconds: u64,
    ) -> String {
        self.id_signer
            .issue(&Self::claims(user, client_id, nonce, now_ms, ttl_seconds))
    }

    /// A signed access token (informational: no gateway route requires it).
    pub fn access_token(
        &self,
        user: &DemoUser,
        client_id: &str,
        now_ms: u64,
        ttl_seconds: u64,
    ) -> String {
        self.access_signer
            .issue(&Self::claims(user, client_id, None, now_ms, ttl_seconds))
    }

    /// Verifies an id token's signature and expiry.
    pub fn verify_id_token(&self, token: &str, now_ms: u64) -> Result<IdTokenClaims, JwtError> {
        self.id_signer.verify_jwt(token, now_ms / 1000)
    }
}

/// `redirect_uri` with `code` and `state` appended to its query.
pub fn redirect_location(redirect_uri: &str, code: &str, state: Option<&str>) -> String {
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let mut location = format!("{redirect_uri}{separator}code={}", percent_encode(code));
    if let Some(state) = state {
        location.push_str("&state=");
        location.push_str(&percent_encode(state));
    }
    location
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    #[test]
    fn authorize_validation() {
        let ok = params(&[
            ("response_type", "code"),
            ("client_id", "c"),
            ("redirect_uri", "http://localhost:1/cb"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]);
        assert!(AuthorizeRequest::from_params(&ok).is_ok());
        let mut plain = ok.clone();
        plain.insert("code_challenge_method".into(), "plain".into());
        assert!(AuthorizeRequest::from_params(&plain).is_err());
        let mut bad_uri = ok.clone();
        bad_uri.insert("redirect_uri".into(), "javascript:alert(1)".into());
        assert!(AuthorizeRequest::from_params(&bad_uri).is_err());
    }

    #[test]
    fn codes_are_single_use_and_check_pkce() {
        let idp = IdentityProvider::new(&Signer::new(b"k".to_vec()));
        let request = AuthorizeRequest {
            client_id: "c".into(),
            redirect_uri: "http://x/cb".into(),
            state: None,
            code_challenge: Some(CHALLENGE.into()),
            nonce: Some("n".into()),
        };
        let code = idp.issue_code(request.clone(), "alice", 0, 1000).unwrap();
        assert_eq!(
            idp.redeem_code(&code, "http://x/cb", None, Some(VERIFIER), 10)
                .unwrap()
                .user
                .sub,
            "alice"
        );
        assert!(idp
            .redeem_code(&code, "http://x/cb", None, Some(VERIFIER), 10)
            .is_err());
        let code = idp.issue_code(request.clone(), "alice", 0, 1000).unwrap();
        assert!(idp
            .redeem_code(&code, "http://x/cb", None, Some("wrong"), 10)
            .is_err());
        let code = idp.issue_code(request, "alice", 0, 1000).unwrap();
        assert!(idp
            .redeem_code(&code, "http://x/cb", None, Some(VERIFIER), 1000)
            .is_err());
    }

    #[test]
    fn redirect_keeps_existing_query() {
        assert_eq!(
            redirect_location("http://h/cb?x=1", "abc", Some("a b")),
            "http://h/cb?x=1&code=abc&state=a%20b"
        );
    }
}
