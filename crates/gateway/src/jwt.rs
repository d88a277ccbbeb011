//! Guest JWTs (HS256) for the history endpoint, and HMAC signatures for presigned URLs.
//! Hand-written on `hmac`/`sha2` to keep the dependency tree small.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

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
    pub fn issue(&self, claims: &GuestClaims) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let signature = self.sign(&signing_input);
        format!("{signing_input}.{signature}")
    }

    /// Verifies signature and expiry at `now_seconds`.
    pub fn verify_jwt(&self, jwt: &str, now_seconds: u64) -> Result<GuestClaims, JwtError> {
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
        let claims: GuestClaims =
            serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)?;
        if claims.exp <= now_seconds {
            return Err(JwtError::Expired);
        }
        Ok(claims)
    }
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
        assert_eq!(signer.verify_jwt(&jwt, 100), Err(JwtError::Expired));
        assert_eq!(
            Signer::new(b"other".to_vec()).verify_jwt(&jwt, 50),
            Err(JwtError::BadSignature)
        );
        assert_eq!(signer.verify_jwt("nope", 50), Err(JwtError::Malformed));
    }
}
