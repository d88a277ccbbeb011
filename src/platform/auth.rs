//! Sign-in in the browser (SPEC §11): the built-in redirect flow (authorization code + PKCE
//! S256 + nonce) against the configured IdP, the code exchange, resuming after a reload, and
//! the host page's token provider (`auth.getTokens` in `window.ThreadlineConfig`).
//!
//! Secrets: the JWT goes straight into the engine (memory only). The refresh token goes into
//! the engine and into `sessionStorage` under `threadline:{deploymentId}:refreshToken`, so a
//! reload in this tab can resume the conversation; it is removed on sign-out, `LogoutEvent`
//! and whenever the engine asks the customer to sign in again. Nothing goes to `localStorage`
//! and nothing stays in the URL: the IdP's `?code=…&state=…` is replaced at once with the page
//! URL the round trip started from (only for the round trip this tab started: a host page's own
//! OAuth return is left alone).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use threadline_core::protocol::{CodeExchangeRequest, CodeGrant, DeploymentId, JwtExchangeResponse, OAuthGrant, RefreshRequest, RefreshResponse};
use wasm_bindgen::{JsCast, JsValue};

use super::driver::Driver;
use super::{clock, Http};
use crate::address::Endpoints;
use crate::auth::{AuthSettings, IdpReturn, PendingSignIn, SignInProblem};

/// The round trip in progress (one per tab: `sessionStorage` is per tab).
const PENDING_KEY: &str = "threadline:pending-sign-in";

/// What the driver needs from the sign-in machinery.
pub trait AuthHooks {
    /// The customer asked to sign in (header button or the sign-in-again prompt).
    fn begin_sign_in(&self);
    /// The refresh token the engine holds changed (`None`: it is gone).
    fn refresh_token_changed(&self, refresh_token: Option<&str>);
}

/// The IdP's answer found in the page URL at start-up.
#[derive(Debug)]
pub enum Returned {
    /// A code for the round trip this tab started.
    Code { code: String, pending: PendingSignIn },
    /// The return did not give a usable code.
    Failed(SignInProblem),
}

thread_local! {
    /// What [`capture_redirect_return`] found, until a messenger with sign-in takes it.
    static CAPTURED: RefCell<Option<Option<Returned>>> = const { RefCell::new(None) };
}

/// Takes an IdP return out of the page URL now and keeps it for the messenger that will be
/// mounted with sign-in. Call before anything reads the URL's query: the URL is replaced with
/// the one the round trip started from (settings included), so the code never stays in the
/// address bar or history.
pub fn capture_redirect_return() {
    let returned = take_redirect_return();
    CAPTURED.with(|slot| *slot.borrow_mut() = Some(returned));
}

/// The IdP return captured at page start, or (for a messenger mounted without
/// [`capture_redirect_return`], such as an embed) the one in the URL now. Given out once.
pub fn redirect_return() -> Option<Returned> {
    match CAPTURED.with(|slot| slot.borrow_mut().take()) {
        Some(captured) => captured,
        None => take_redirect_return(),
    }
}

/// Takes the IdP's answer to the round trip this tab started out of the page URL (see
/// [`capture_redirect_return`]); any other `?code=…&state=…` is left alone.
fn take_redirect_return() -> Option<Returned> {
    let window = web_sys::window()?;
    let location = window.location();
    let search = location.search().ok()?;
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
    let pairs: Vec<(String, String)> = ["code", "state", "error"]
        .iter()
        .filter_map(|key| params.get(key).map(|value| (key.to_string(), value)))
        .collect();
    let returned = IdpReturn::from_pairs(pairs.iter().map(|(key, value)| (key.as_str(), value.as_str())))?;
    let storage = session_storage()?;
    let pending = storage.get_item(PENDING_KEY).ok().flatten().and_then(|raw| serde_json::from_str::<PendingSignIn>(&raw).ok())?;
    let outcome = pending.accept(&returned, clock::now().0);
    if outcome == Err(SignInProblem::StateMismatch) {
        // Not the round trip this tab started (the host page's own OAuth flow, say): its URL
        // and parameters are none of our business.
        return None;
    }
    // Single use, whatever the outcome.
    let _ = storage.remove_item(PENDING_KEY);
    replace_url(&window, &pending.return_url);
    Some(match outcome {
        Ok(code) => Returned::Code { code, pending },
        Err(problem) => Returned::Failed(problem),
    })
}

/// `history.replaceState(null, "", url)`: same-origin only (the browser enforces it); on
/// failure the URL stays as it was and a warning says so.
fn replace_url(window: &web_sys::Window, url: &str) {
    let replaced = js_sys::Reflect::get(window, &JsValue::from_str("history")).ok().and_then(|history| {
        let replace = js_sys::Reflect::get(&history, &JsValue::from_str("replaceState")).ok()?.dyn_into::<js_sys::Function>().ok()?;
        replace.call3(&history, &JsValue::NULL, &JsValue::from_str(""), &JsValue::from_str(url)).ok()
    });
    if replaced.is_none() {
        web_sys::console::warn_1(&JsValue::from_str("Threadline: could not remove the sign-in code from the page URL"));
    }
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// `n` bytes from `crypto.getRandomValues`; `None` when the browser has no CSPRNG (then no
/// sign-in: weak randomness would make state, nonce and verifier guessable).
fn random_bytes<const N: usize>() -> Option<[u8; N]> {
    let window = web_sys::window()?;
    let crypto = js_sys::Reflect::get(&window, &JsValue::from_str("crypto")).ok()?;
    let get_random_values = js_sys::Reflect::get(&crypto, &JsValue::from_str("getRandomValues")).ok()?.dyn_into::<js_sys::Function>().ok()?;
    let array = js_sys::Uint8Array::new_with_length(N as u32);
    get_random_values.call1(&crypto, &array).ok()?;
    let mut bytes = [0u8; N];
    array.copy_to(&mut bytes);
    Some(bytes)
}

thread_local! {
    /// `auth.getTokens` handed over by the embed loader (`Threadline('init', { auth })`).
    static HOST_PROVIDER: RefCell<Option<js_sys::Function>> = const { RefCell::new(None) };
}

/// How a `POST …/token/refresh` ended.
pub(super) enum Refresh {
    /// 2xx with a new JWT (and maybe a rotated refresh token).
    Refreshed(RefreshResponse),
    /// 2xx without a usable JWT: the server's fault.
    Malformed,
    /// The server refused the refresh token with this status.
    Refused(u16),
    /// No HTTP answer (network, CORS).
    NoAnswer,
}

/// `POST …/token/refresh` (SPEC, authenticated sessions) with `refresh_token`; `done` gets the
/// outcome. Shared by the sign-in resume after a reload, the engine's JWT refresh and the
/// revoke retry, which each react differently.
pub(super) fn post_refresh(http: &dyn Http, endpoints: &Endpoints, refresh_token: &str, done: impl FnOnce(Refresh) + 'static) {
    let body = RefreshRequest { refresh_token: refresh_token.to_string() }.to_json();
    http.request(
        "POST",
        &endpoints.token_url("refresh"),
        None,
        Some(&body),
        Box::new(move |result| {
            done(match result {
                Ok(response) if (200..300).contains(&response.status) => match RefreshResponse::from_json(&response.body) {
                    Ok(refreshed) => Refresh::Refreshed(refreshed),
                    Err(_) => Refresh::Malformed,
                },
                Ok(response) => Refresh::Refused(response.status),
                Err(_) => Refresh::NoAnswer,
            })
        }),
    );
}

/// Sets the token provider of an embedded messenger (its settings never reach
/// `window.ThreadlineConfig`); it wins over `window.ThreadlineConfig.auth.getTokens`.
pub fn set_host_token_provider(provider: Option<js_sys::Function>) {
    HOST_PROVIDER.with(|slot| *slot.borrow_mut() = provider);
}

/// The embed's provider, else the host page's `window.ThreadlineConfig.auth.getTokens`, if it
/// is a function.
fn token_provider() -> Option<js_sys::Function> {
    if let Some(provider) = HOST_PROVIDER.with(|slot| slot.borrow().clone()) {
        return Some(provider);
    }
    let window = web_sys::window()?;
    let config = js_sys::Reflect::get(&window, &JsValue::from_str("ThreadlineConfig")).ok()?;
    let auth = js_sys::Reflect::get(&config, &JsValue::from_str("auth")).ok()?;
    js_sys::Reflect::get(&auth, &JsValue::from_str("getTokens")).ok()?.dyn_into::<js_sys::Function>().ok()
}

/// The built-in sign-in for one messenger (see the module docs).
pub struct BrowserAuth {
    this: Weak<BrowserAuth>,
    settings: AuthSettings,
    endpoints: Endpoints,
    http: Rc<dyn Http>,
    driver: Weak<Driver>,
    provider: Option<js_sys::Function>,
}

impl BrowserAuth {
    /// Connects sign-in to `driver` and continues what the page load brought: a code to
    /// exchange, a refresh token to resume with, or the host page's provider to ask.
    pub fn install(driver: &Rc<Driver>, settings: AuthSettings, endpoints: Endpoints, http: Rc<dyn Http>, returned: Option<Returned>) -> Rc<Self> {
        let auth = Rc::new_cyclic(|this| Self {
            this: this.clone(),
            settings,
            endpoints,
            http,
            driver: Rc::downgrade(driver),
            provider: token_provider(),
        });
        driver.enable_auth(auth.clone());
        match returned {
            Some(Returned::Code { code, pending }) => {
                driver.expect_sign_in();
                auth.exchange(code, pending);
            }
            Some(Returned::Failed(problem)) => driver.sign_in_failed(&problem.to_string()),
            None => {
                if let Some(refresh_token) = auth.stored_refresh_token() {
                    driver.expect_sign_in();
                    auth.resume_with(refresh_token);
                } else if auth.provider.is_some() {
                    driver.expect_sign_in();
                    auth.ask_provider(false);
                }
            }
        }
        auth
    }

    fn refresh_key(&self) -> String {
        format!("threadline:{}:refreshToken", self.endpoints.deployment_id)
    }

    fn stored_refresh_token(&self) -> Option<String> {
        session_storage()?.get_item(&self.refresh_key()).ok().flatten().filter(|token| !token.is_empty())
    }

    /// Sends the browser to the IdP. The page unloads; [`take_redirect_return`] continues.
    fn redirect_to_idp(&self) -> Result<(), String> {
        let window = web_sys::window().ok_or("no window")?;
        let page_url = window.location().href().map_err(|_| "the page URL is unreadable")?;
        let random = random_bytes::<96>().ok_or("this browser has no secure random numbers (crypto.getRandomValues)")?;
        let redirect_uri = self.settings.redirect_uri_for(&page_url);
        let pending = PendingSignIn::new(&random, redirect_uri, page_url, clock::now().0);
        let json = serde_json::to_string(&pending).map_err(|error| error.to_string())?;
        let storage = session_storage().ok_or("sessionStorage is unavailable, so the sign-in cannot survive the redirect")?;
        storage.set_item(PENDING_KEY, &json).map_err(|_| "sessionStorage refused the sign-in state")?;
        let endpoint = self.settings.authorize_endpoint(&self.endpoints.api_base);
        window
            .location()
            .assign(&pending.authorize_url(&endpoint, &self.settings.client_id))
            .map_err(|_| "the browser refused to open the sign-in page".to_string())
    }

    /// `POST …/token/oauthcodegrantjwtexchange` with the code, verifier and nonce.
    fn exchange(&self, code: String, pending: PendingSignIn) {
        let url = self.endpoints.token_url("oauthcodegrantjwtexchange");
        let body = CodeExchangeRequest {
            deployment_id: DeploymentId::new(self.endpoints.deployment_id.clone()),
            oauth: OAuthGrant::Code(CodeGrant {
                code,
                redirect_uri: pending.redirect_uri,
                code_verifier: Some(pending.code_verifier),
                nonce: Some(pending.nonce),
                max_age: None,
                iss: None,
            }),
        }
        .to_json();
        let driver = self.driver.clone();
        self.http.request(
            "POST",
            &url,
            None,
            Some(&body),
            Box::new(move |result| {
                let Some(driver) = driver.upgrade() else { return };
                let tokens = match result {
                    Ok(response) if (200..300).contains(&response.status) => {
                        // A 2xx without a JWT is the server's fault: report it as a bad gateway.
                        JwtExchangeResponse::from_json(&response.body).map_err(|_| SignInProblem::Exchange(502))
                    }
                    Ok(response) => Err(SignInProblem::Exchange(response.status)),
                    Err(_) => Err(SignInProblem::Exchange(0)),
                };
                match tokens {
                    Ok(tokens) => driver.sign_in(tokens.jwt, tokens.refresh_token),
                    Err(problem) => driver.sign_in_failed(&problem.to_string()),
                }
            }),
        );
    }

    /// After a reload: the JWT died with the page, the refresh token in this tab's
    /// sessionStorage gets a new one. A refused refresh token is forgotten.
    fn resume_with(&self, refresh_token: String) {
        let driver = self.driver.clone();
        let this = self.this.clone();
        post_refresh(&*self.http, &self.endpoints, &refresh_token.clone(), move |outcome| {
            let Some(driver) = driver.upgrade() else { return };
            match outcome {
                Refresh::Refreshed(refreshed) => driver.sign_in(refreshed.jwt, Some(refreshed.refresh_token.unwrap_or(refresh_token))),
                Refresh::Malformed => driver.sign_in_failed(&SignInProblem::Exchange(502).to_string()),
                Refresh::Refused(_) => {
                    // Revoked or expired: this refresh token will never work again.
                    if let Some(auth) = this.upgrade() {
                        auth.refresh_token_changed(None);
                    }
                    driver.sign_in_lapsed();
                }
                Refresh::NoAnswer => driver.sign_in_failed(&SignInProblem::Exchange(0).to_string()),
            }
        });
    }

    /// Calls the host page's `getTokens()`; it may return `{jwt, refreshToken?}`, `null`, or a
    /// promise of either. `interactive`: the customer clicked "Sign in" (a `null` answer is then
    /// reported; at start-up it just means "not signed in").
    fn ask_provider(&self, interactive: bool) {
        let Some(provider) = self.provider.clone() else { return };
        let driver = self.driver.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let answer = match provider.call0(&JsValue::NULL) {
                Ok(value) => match value.dyn_into::<js_sys::Promise>() {
                    Ok(promise) => wasm_bindgen_futures::JsFuture::from(promise).await,
                    Err(value) => Ok(value),
                },
                Err(error) => Err(error),
            };
            let Some(driver) = driver.upgrade() else { return };
            let field = |value: &JsValue, name: &str| {
                js_sys::Reflect::get(value, &JsValue::from_str(name)).ok().and_then(|field| field.as_string()).filter(|text| !text.is_empty())
            };
            match answer {
                Ok(value) if value.is_object() => match field(&value, "jwt") {
                    Some(jwt) => driver.sign_in(jwt, field(&value, "refreshToken")),
                    None => driver.sign_in_failed("auth.getTokens() returned no jwt"),
                },
                Ok(_) if !interactive => driver.sign_in_lapsed(),
                Ok(_) => driver.sign_in_failed("auth.getTokens() returned no tokens"),
                Err(error) => {
                    let detail = error
                        .as_string()
                        .or_else(|| error.dyn_ref::<js_sys::Error>().map(|error| String::from(error.message())))
                        .unwrap_or_default();
                    driver.sign_in_failed(&format!("auth.getTokens() failed: {detail}"));
                }
            }
        });
    }
}

impl AuthHooks for BrowserAuth {
    fn begin_sign_in(&self) {
        if self.provider.is_some() {
            if let Some(driver) = self.driver.upgrade() {
                driver.expect_sign_in();
            }
            return self.ask_provider(true);
        }
        if let Err(problem) = self.redirect_to_idp() {
            web_sys::console::error_1(&JsValue::from_str(&format!("Threadline: sign-in failed: {problem}")));
            if let Some(driver) = self.driver.upgrade() {
                driver.sign_in_failed(&problem);
            }
        }
    }

    fn refresh_token_changed(&self, refresh_token: Option<&str>) {
        let Some(storage) = session_storage() else { return };
        let key = self.refresh_key();
        match refresh_token {
            // A full or blocked sessionStorage only costs resuming after a reload.
            Some(token) => {
                let _ = storage.set_item(&key, token);
            }
            None => {
                let _ = storage.remove_item(&key);
            }
        }
    }
}
