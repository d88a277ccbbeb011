//! HS256 JWTs (guest JWTs for history, Web Messaging auth JWTs, the development IdP's id
//! tokens) and HMAC signatures for presigned URLs. Hand-written on `hmac`/`sha2` to keep the
//! dependency tree small. Each token kind is signed with its own derived key
//! ([`Signer::derive`]), so a token of one kind never verifies as another.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Claims of a guest JWT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestClaims {
    /// The guest session token.
    pub sub: String,
    /// The deployment the session belongs to.
    pub dep: String,
    /// The session id (history is per session; `startNew` makes an old JWT useless).
    pub sid: String,
    pub iat: u64,
    /// Expiry, epoch seconds.
    pub exp: u64,
}

impl Expiring for GuestClaims {
    fn exp(&self) -> u64 {
        self.exp
    }
}

/// Claims that carry an expiry (epoch seconds).
pub trait Expiring {
    /// Expiry, epoch seconds.
    fn exp(&self) -> u64;
}

/// Claims of a Web Messaging auth JWT (the `jwt` of `oauthcodegrantjwtexchange` / `refresh`,
/// sent back in `configureAuthenticatedSession.data.code`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthClaims {
    /// The signed-in user (the IdP's `sub`).
    pub sub: String,
    /// The deployment the token was exchanged for.
    pub dep: String,
    /// The sign-in (grant) this token belongs to; revoking it invalidates the token.
    pub gid: String,
    pub iat: u64,
    /// Issue instant in milliseconds (finer than `iat`, for the control API's "expire JWTs").
    pub ims: u64,
    /// Expiry, epoch seconds.
    pub exp: u64,
}

impl Expiring for AuthClaims {
    fn exp(&self) -> u64 {
        self.exp
    }
}

/// Claims of an OpenID Connect id token issued by the development identity provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    /// The OAuth client id.
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub name: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
}

impl Expiring for IdTokenClaims {
    fn exp(&self) -> u64 {
        self.exp
    }
}

/// Why a JWT was refused (answered with HTTP 401).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("malformed JWT")]
    Malformed,
    #[error("JWT signature does not verify")]
    BadSignature,
    #[error("JWT has expired")]
    Expired,
}

/// Signs and verifies with one secret.
#[derive(Clone)]
pub struct Signer {
    secret: Vec<u8>,
}

impl Signer {
    pub fn new(secret: Vec<u8>) -> Self {
        Self { secret }
    }

    /// A signer whose key is derived from this one for `purpose` (domain separation).
    pub fn derive(&self, purpose: &str) -> Signer {
        let mut mac = self.mac();
        mac.update(b"derive:");
        mac.update(purpose.as_bytes());
        Signer::new(mac.finalize().into_bytes().to_vec())
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        match HmacSha256::new_from_slice(&self.secret) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        }
    }

    /// URL-safe base64 HMAC-SHA256 of `data`.
    pub fn sign(&self, data: &str) -> String {
        let mut mac = self.mac();
        mac.update(data.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Constant-time check of a signature made by [`Signer::sign`].
    pub fn verify(&self, data: &str, signature: &str) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(data.as_bytes());
        mac.verify_slice(&bytes).is_ok()
    }

    /// Encodes claims as a compact HS256 JWT.
    pub fn issue<T: Serialize>(&self, claims: &T) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let signature = self.sign(&signing_input);
        format!("{signing_input}.{signature}")
    }

    /// Verifies signature and expiry at `now_seconds`.
    pub fn verify_jwt<T: DeserializeOwned + Expiring>(
        &self,
        jwt: &str,
        now_seconds: u64,
    ) -> Result<T, JwtError> {
        let mut parts = jwt.trim().split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        if !self.verify(&format!("{header}.{payload}"), signature) {
            return Err(JwtError::BadSignature);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| JwtError::Malformed)?;
        let claims: T = serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)?;
        if claims.exp() <= now_seconds {
            return Err(JwtError::Expired);
        }
        Ok(claims)
    }
}

/// Lower-case hex SHA-256 of `text` (refresh tokens are stored only as hashes).
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// PKCE S256 (RFC 7636): whether `BASE64URL(SHA256(verifier)) == challenge`, in constant time.
pub fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    computed.len() == challenge.len()
        && computed
            .bytes()
            .zip(challenge.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// A fresh unguessable token (256 bits from two v4 UUIDs' random bits, URL-safe).
pub fn random_token() -> String {
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let signer = Signer::new(b"secret".to_vec());
        let claims = GuestClaims {
            sub: "t".into(),
            dep: "d".into(),
            sid: "s".into(),
            iat: 10,
            exp: 100,
        };
        let jwt = signer.issue(&claims);
        assert_eq!(signer.verify_jwt(&jwt, 50), Ok(claims));
        assert_eq!(
            signer.verify_jwt::<GuestClaims>(&jwt, 100),
            Err(JwtError::Expired)
        );
        assert_eq!(
            Signer::new(b"other".to_vec()).verify_jwt::<GuestClaims>(&jwt, 50),
            Err(JwtError::BadSignature)
        );
        assert_eq!(
            signer.derive("auth").verify_jwt::<GuestClaims>(&jwt, 50),
            Err(JwtError::BadSignature)
        );
        assert_eq!(
            signer.verify_jwt::<GuestClaims>("nope", 50),
            Err(JwtError::Malformed)
        );
    }

    #[test]
    fn pkce_example_from_rfc_7636() {
        assert!(pkce_s256_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_s256_matches(
            "wrong",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }
}
