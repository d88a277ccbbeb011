//! Sign-in without browser APIs: the `auth` settings, the OAuth 2.0 authorization request with
//! PKCE (S256) and a nonce, and the checks on the way back (SPEC §11, RFC 7636).
//!
//! Everything here is pure so it runs in native unit tests; the browser side (redirecting,
//! sessionStorage, the token exchange) is [`crate::platform::auth`]. Randomness comes in as
//! bytes from the caller.
//!
//! Where secrets live: the Web Messaging JWT only in the engine's memory; the refresh token in
//! the engine's memory and, so a reload can resume, in `sessionStorage` (this tab only, gone
//! when the tab closes); the PKCE verifier and nonce in `sessionStorage` for the few seconds of
//! the IdP round trip. Never in `localStorage`, never in a URL (the authorization `code` that
//! comes back in the URL is removed at once and is single-use).

use serde::{Deserialize, Serialize};

/// The OAuth client id used when the host page gives none (the gateway's development IdP
/// accepts any).
pub const DEFAULT_CLIENT_ID: &str = "threadline-demo";

/// A pending sign-in older than this is ignored on return (the gateway's codes live 2 min).
pub const PENDING_MAX_AGE_MS: u64 = 10 * 60 * 1000;

/// Sign-in settings (`auth` in `window.ThreadlineConfig`, or `?auth=1`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthSettings {
    /// The IdP authorization endpoint; default `{server}/auth/authorize` (the gateway's IdP).
    pub authorize_url: Option<String>,
    /// OAuth client id.
    pub client_id: String,
    /// Where the IdP sends the browser back; default: this page without query or fragment.
    pub redirect_uri: Option<String>,
}

/// `auth` as the host page writes it: `true`/`"1"` for the defaults, or an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawAuth {
    /// `auth: true` / `auth: false`.
    Switch(bool),
    /// `auth: "1"` (as in the URL query) or `"0"`.
    Text(String),
    /// `auth: {authorizeUrl, clientId, redirectUri}` (every key optional).
    Settings(RawAuthSettings),
}

/// The object form of [`RawAuth`]. Unknown keys (such as a `getTokens` function, which the
/// browser side reads itself) are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawAuthSettings {
    pub authorize_url: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    /// `false` turns sign-in off while keeping the other keys.
    pub enabled: Option<bool>,
}

// Hand-written rather than `#[serde(untagged)]`: an untagged enum buffers the whole value first,
// and a JS function (`getTokens`) cannot be buffered, which would make serde-wasm-bindgen refuse
// the entire `window.ThreadlineConfig`. Here unknown keys are skipped without being read.
impl<'de> Deserialize<'de> for RawAuth {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawAuth;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("true, false, \"1\", or an object {authorizeUrl, clientId, redirectUri}")
            }

            fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<RawAuth, E> {
                Ok(RawAuth::Switch(value))
            }

            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<RawAuth, E> {
                Ok(RawAuth::Text(value.to_string()))
            }

            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<RawAuth, E> {
                Ok(RawAuth::Switch(value != 0))
            }

            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<RawAuth, E> {
                Ok(RawAuth::Switch(value != 0))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RawAuth, A::Error> {
                let mut settings = RawAuthSettings::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "authorizeUrl" => settings.authorize_url = map.next_value()?,
                        "clientId" => settings.client_id = map.next_value()?,
                        "redirectUri" => settings.redirect_uri = map.next_value()?,
                        "enabled" => settings.enabled = map.next_value()?,
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(RawAuth::Settings(settings))
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

impl RawAuth {
    /// The settings this value asks for (`None` = sign-in off).
    pub fn settings(&self) -> Option<AuthSettings> {
        let non_empty = |value: &Option<String>| value.as_deref().map(str::trim).filter(|value| !value.is_empty()).map(str::to_string);
        match self {
            Self::Switch(true) => Some(AuthSettings::defaults()),
            Self::Switch(false) => None,
            Self::Text(text) => crate::config::Flag::parse(text).0.then(AuthSettings::defaults),
            Self::Settings(raw) if raw.enabled == Some(false) => None,
            Self::Settings(raw) => Some(AuthSettings {
                authorize_url: non_empty(&raw.authorize_url),
                client_id: non_empty(&raw.client_id).unwrap_or_else(|| DEFAULT_CLIENT_ID.to_string()),
                redirect_uri: non_empty(&raw.redirect_uri),
            }),
        }
    }
}

impl AuthSettings {
    /// The gateway's development IdP with the demo client id.
    pub fn defaults() -> Self {
        Self { authorize_url: None, client_id: DEFAULT_CLIENT_ID.to_string(), redirect_uri: None }
    }

    /// The authorization endpoint: the configured one, else `{api_base}/auth/authorize`.
    pub fn authorize_endpoint(&self, api_base: &str) -> String {
        self.authorize_url.clone().unwrap_or_else(|| format!("{}/auth/authorize", api_base.trim_end_matches('/')))
    }

    /// The redirect URI: the configured one, else `page_url` without query and fragment.
    pub fn redirect_uri_for(&self, page_url: &str) -> String {
        self.redirect_uri.clone().unwrap_or_else(|| page_without_query(page_url).to_string())
    }
}

/// `page_url` up to (not including) its `?` or `#`.
pub fn page_without_query(page_url: &str) -> &str {
    let end = page_url.find(['?', '#']).unwrap_or(page_url.len());
    &page_url[..end]
}

/// One authorization round trip: what goes to the IdP and what must match on the way back.
/// Stored in `sessionStorage` while the browser is at the IdP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingSignIn {
    /// Anti-CSRF value echoed back by the IdP.
    pub state: String,
    /// Replay protection for the ID token, sent again with the code exchange.
    pub nonce: String,
    /// PKCE verifier (43 base64url characters); its S256 hash went to the IdP.
    pub code_verifier: String,
    /// The `redirect_uri` sent (the exchange must send the same).
    pub redirect_uri: String,
    /// The full page URL to restore after the return (it may carry settings in its query).
    pub return_url: String,
    /// When the round trip started (wall-clock ms), to ignore stale entries.
    pub started_ms: u64,
}

impl PendingSignIn {
    /// A new round trip from 96 random bytes (32 each for state, nonce and verifier).
    pub fn new(random: &[u8; 96], redirect_uri: String, return_url: String, now_ms: u64) -> Self {
        Self {
            state: base64url(&random[..32]),
            nonce: base64url(&random[32..64]),
            code_verifier: base64url(&random[64..]),
            redirect_uri,
            return_url,
            started_ms: now_ms,
        }
    }

    /// The PKCE `code_challenge`: base64url(SHA-256(verifier)).
    pub fn code_challenge(&self) -> String {
        code_challenge(&self.code_verifier)
    }

    /// The URL to send the browser to.
    pub fn authorize_url(&self, endpoint: &str, client_id: &str) -> String {
        let separator = if endpoint.contains('?') { '&' } else { '?' };
        let params = [
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", &self.redirect_uri),
            ("state", &self.state),
            ("code_challenge", &self.code_challenge()),
            ("code_challenge_method", "S256"),
            ("nonce", &self.nonce),
            ("scope", "openid"),
        ];
        let query: Vec<String> = params.iter().map(|(key, value)| format!("{key}={}", percent_encode(value))).collect();
        format!("{endpoint}{separator}{}", query.join("&"))
    }

    /// Checks an IdP return against this round trip.
    pub fn accept(&self, returned: &IdpReturn, now_ms: u64) -> Result<String, SignInProblem> {
        if returned.state.as_deref() != Some(self.state.as_str()) {
            return Err(SignInProblem::StateMismatch);
        }
        if now_ms.saturating_sub(self.started_ms) > PENDING_MAX_AGE_MS {
            return Err(SignInProblem::TooSlow);
        }
        if let Some(error) = &returned.error {
            return Err(SignInProblem::Refused(error.clone()));
        }
        returned.code.clone().filter(|code| !code.is_empty()).ok_or(SignInProblem::NoCode)
    }
}

/// What the IdP put in the page URL on its way back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdpReturn {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

impl IdpReturn {
    /// Reads the return from decoded query pairs; `None` when this is not an IdP return.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Self> {
        let mut returned = Self::default();
        for (key, value) in pairs {
            match key {
                "code" => returned.code = Some(value.to_string()),
                "state" => returned.state = Some(value.to_string()),
                "error" => returned.error = Some(value.to_string()),
                _ => {}
            }
        }
        (returned.state.is_some() && (returned.code.is_some() || returned.error.is_some())).then_some(returned)
    }
}

/// Why a sign-in round trip did not give a code. The IdP or a stale tab is at fault, never the
/// customer; the UI says "sign-in failed, try again".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignInProblem {
    /// The returned `state` is not the one this tab sent (a forged or foreign redirect).
    StateMismatch,
    /// The round trip took longer than [`PENDING_MAX_AGE_MS`].
    TooSlow,
    /// The IdP answered with `error=…` (e.g. `access_denied`).
    Refused(String),
    /// The IdP returned no code.
    NoCode,
    /// The token exchange failed with this HTTP status (0 = network error).
    Exchange(u16),
}

impl std::fmt::Display for SignInProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::StateMismatch => f.write_str("the identity provider returned an unknown state (ignored)"),
            Self::TooSlow => f.write_str("the sign-in took too long; start it again"),
            Self::Refused(error) => write!(f, "the identity provider refused the sign-in: {error}"),
            Self::NoCode => f.write_str("the identity provider returned no authorization code"),
            Self::Exchange(0) => f.write_str("the token exchange could not reach the server"),
            Self::Exchange(status) => write!(f, "the server refused the token exchange (HTTP {status})"),
        }
    }
}

/// RFC 7636 S256: base64url(SHA-256(ASCII(verifier))), without padding.
pub fn code_challenge(verifier: &str) -> String {
    base64url(&sha256(verifier.as_bytes()))
}

/// base64url without padding (RFC 4648 §5).
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextets = chunk.len() + 1;
        for i in 0..sextets {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters (query values).
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// SHA-256 (FIPS 180-4). Small and dependency-free: only PKCE needs it, on a few dozen bytes.
pub fn sha256(message: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
        0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
        0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
        0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
        0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
        0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ];
    let mut h: [u32; 8] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut padded = message.to_vec();
    padded.push(0x80);
    while padded.len() % 64 != 56 {
        padded.push(0);
    }
    padded.extend_from_slice(&((message.len() as u64).wrapping_mul(8)).to_be_bytes());
    for block in padded.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh.wrapping_add(s1).wrapping_add(ch).wrapping_add(K[i]).wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (state, value) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *state = state.wrapping_add(value);
        }
    }
    let mut digest = [0u8; 32];
    for (out, word) in digest.chunks_exact_mut(4).zip(h) {
        out.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    #[test]
    fn sha256_matches_the_fips_vectors() {
        assert_eq!(hex(&sha256(b"")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(hex(&sha256(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(
            hex(&sha256(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        // The length no longer fits the first block (56–63 bytes mod 64), and a multi-block input.
        assert_eq!(hex(&sha256(&[b'a'; 60])), "11ee391211c6256460b6ed375957fadd8061cafbb31daf967db875aebd5aaad4");
        assert_eq!(hex(&sha256(&[b'a'; 1000])), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
    }

    #[test]
    fn pkce_challenge_matches_rfc7636_appendix_b() {
        assert_eq!(code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn base64url_has_no_padding() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url(&[7u8; 32]).len(), 43);
    }

    fn pending() -> PendingSignIn {
        let mut random = [0u8; 96];
        for (i, byte) in random.iter_mut().enumerate() {
            *byte = i as u8;
        }
        PendingSignIn::new(&random, "http://127.0.0.1:8080/".into(), "http://127.0.0.1:8080/?auth=1".into(), 1_000)
    }

    #[test]
    fn authorize_url_carries_pkce_state_and_nonce() {
        let pending = pending();
        assert_ne!(pending.state, pending.nonce);
        assert_eq!(pending.code_verifier.len(), 43);
        let url = pending.authorize_url("http://127.0.0.1:8080/auth/authorize", "threadline-demo");
        assert!(url.starts_with("http://127.0.0.1:8080/auth/authorize?response_type=code&client_id=threadline-demo&"), "{url}");
        assert!(url.contains("&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2F&"), "{url}");
        assert!(url.contains(&format!("&state={}&", pending.state)), "{url}");
        assert!(url.contains(&format!("&code_challenge={}&code_challenge_method=S256&", pending.code_challenge())), "{url}");
        assert!(url.contains(&format!("&nonce={}", pending.nonce)), "{url}");
        assert!(!url.contains(&pending.code_verifier), "the verifier must never leave the tab: {url}");
        let with_query = pending.authorize_url("https://idp.example/authorize?tenant=x", "c");
        assert!(with_query.starts_with("https://idp.example/authorize?tenant=x&response_type=code"), "{with_query}");
    }

    #[test]
    fn a_return_must_match_state_and_be_recent() {
        let pending = pending();
        let good = IdpReturn { code: Some("abc".into()), state: Some(pending.state.clone()), error: None };
        assert_eq!(pending.accept(&good, 2_000), Ok("abc".to_string()));
        let forged = IdpReturn { state: Some("other".into()), ..good.clone() };
        assert_eq!(pending.accept(&forged, 2_000), Err(SignInProblem::StateMismatch));
        assert_eq!(pending.accept(&good, 1_000 + PENDING_MAX_AGE_MS + 1), Err(SignInProblem::TooSlow));
        let refused = IdpReturn { code: None, state: Some(pending.state.clone()), error: Some("access_denied".into()) };
        assert_eq!(pending.accept(&refused, 2_000), Err(SignInProblem::Refused("access_denied".into())));
        let empty = IdpReturn { code: Some(String::new()), state: Some(pending.state.clone()), error: None };
        assert_eq!(pending.accept(&empty, 2_000), Err(SignInProblem::NoCode));
    }

    #[test]
    fn idp_return_needs_state_and_code_or_error() {
        assert_eq!(IdpReturn::from_pairs([("deploymentId", "x"), ("auth", "1")]), None);
        assert_eq!(IdpReturn::from_pairs([("code", "c")]), None);
        let returned = IdpReturn::from_pairs([("code", "c"), ("state", "s")]).unwrap();
        assert_eq!(returned.code.as_deref(), Some("c"));
        assert!(IdpReturn::from_pairs([("error", "access_denied"), ("state", "s")]).is_some());
    }

    #[test]
    fn settings_from_switches_and_objects() {
        assert_eq!(RawAuth::Switch(true).settings(), Some(AuthSettings::defaults()));
        assert_eq!(RawAuth::Switch(false).settings(), None);
        assert_eq!(RawAuth::Text("1".into()).settings(), Some(AuthSettings::defaults()));
        assert_eq!(RawAuth::Text("0".into()).settings(), None);
        let raw: RawAuth = serde_json::from_str(r#"{"authorizeUrl":"https://idp.example/a","clientId":" web ","redirectUri":""}"#).unwrap();
        let settings = raw.settings().unwrap();
        assert_eq!(settings.authorize_url.as_deref(), Some("https://idp.example/a"));
        assert_eq!(settings.client_id, "web");
        assert_eq!(settings.redirect_uri, None);
        assert_eq!(settings.authorize_endpoint("http://x"), "https://idp.example/a");
        assert_eq!(AuthSettings::defaults().authorize_endpoint("http://127.0.0.1:8080/"), "http://127.0.0.1:8080/auth/authorize");
        assert_eq!(AuthSettings::defaults().redirect_uri_for("http://h/p/?auth=1#x"), "http://h/p/");
        let off: RawAuth = serde_json::from_str(r#"{"enabled":false,"clientId":"x"}"#).unwrap();
        assert_eq!(off.settings(), None);
        let bool_form: RawAuth = serde_json::from_str("true").unwrap();
        assert_eq!(bool_form, RawAuth::Switch(true));
        let text_form: RawAuth = serde_json::from_str(r#""1""#).unwrap();
        assert_eq!(text_form.settings(), Some(AuthSettings::defaults()));
        let with_provider: RawAuth = serde_json::from_str(r#"{"getTokens":{"any":"thing"},"clientId":"p"}"#).unwrap();
        assert_eq!(with_provider.settings().map(|s| s.client_id), Some("p".to_string()));
        assert!(serde_json::from_str::<RawAuth>("[1]").is_err());
    }
}
