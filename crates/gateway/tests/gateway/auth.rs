//! Authenticated messaging: the development IdP (code + PKCE), the Web Messaging token
//! endpoints, `configureAuthenticatedSession` (expiry, tampering, resume, start new, other
//! devices, step-up, 4017), logout, earlier conversations and curated retention.

use serde_json::{json, Value};

use crate::support::*;

/// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://app.test/callback";
const REDIRECT_ENCODED: &str = "http%3A%2F%2Fapp.test%2Fcallback";

/// The fixtures' deployment with authentication (and step-up) turned on.
const AUTH_TOML: &str = "name = \"Auth\"\nguestSessionTtl = \"30m\"\nmessageTtlDays = 100\n\
[deployments.auth]\nenabled = true\nallowSessionUpgrade = true\n";

async fn auth_gateway() -> TestGateway {
    TestGateway::start_with(AUTH_TOML, Default::default()).await
}

fn authorize_query(nonce: &str) -> String {
    format!(
        "response_type=code&client_id=threadline&redirect_uri={REDIRECT_ENCODED}&state=st%20ate\
         &code_challenge={CHALLENGE}&code_challenge_method=S256&nonce={nonce}"
    )
}

/// Submits the login form for `user`; returns the code from the redirect.
async fn login(gateway: &TestGateway, user: &str, nonce: &str) -> String {
    let body = format!("{}&user={user}", authorize_query(nonce));
    let response = gateway
        .http(
            "POST",
            "/auth/authorize",
            &[("content-type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
        .await;
    assert_eq!(
        response.status,
        303,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let location = response.header("location").unwrap().to_owned();
    let query = location
        .strip_prefix(&format!("{REDIRECT}?"))
        .unwrap_or_else(|| panic!("unexpected redirect {location}"));
    assert!(query.ends_with("&state=st%20ate"), "{location}");
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("code="))
        .unwrap()
        .to_owned()
}

/// Exchanges a code directly at the Web Messaging endpoint.
async fn exchange_code(gateway: &TestGateway, code: &str, verifier: &str) -> (u16, Value) {
    let body = json!({"deploymentId": DEPLOYMENT, "oauth": {"code": code, "redirectUri": REDIRECT, "codeVerifier": verifier}});
    gateway
        .control(
            "POST",
            "/api/v2/webdeployments/token/oauthcodegrantjwtexchange",
            &body.to_string(),
        )
        .await
}

/// Signs `user` in: returns (jwt, refresh token).
async fn sign_in(gateway: &TestGateway, user: &str) -> (String, String) {
    let code = login(gateway, user, "n-1").await;
    let (status, tokens) = exchange_code(gateway, &code, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    (
        tokens["jwt"].as_str().unwrap().to_owned(),
        tokens["refreshToken"].as_str().unwrap().to_owned(),
    )
}

async fn refresh(gateway: &TestGateway, refresh_token: &str) -> (u16, Value) {
    gateway
        .control(
            "POST",
            "/api/v2/webdeployments/token/refresh",
            &json!({"refreshToken": refresh_token}).to_string(),
        )
        .await
}

fn auth_frame(token: &str, jwt: &str, start_new: bool) -> Value {
    json!({"action": "configureAuthenticatedSession", "token": token, "deploymentId": DEPLOYMENT,
           "startNew": start_new, "data": {"code": jwt}, "tracingId": "auth"})
}

/// Configures an authenticated session on `client`; returns the SessionResponse body.
async fn configure_auth(client: &mut Client, token: &str, jwt: &str, start_new: bool) -> Value {
    client.send(&auth_frame(token, jwt, start_new)).await;
    let frame = client.expect_class("SessionResponse").await;
    assert_eq!(frame["tracingId"], "auth");
    frame["body"].clone()
}

async fn conversation_of(gateway: &TestGateway, token: &str) -> Value {
    let (status, detail) = gateway
        .control("GET", &format!("/control/sessions/{token}"), "")
        .await;
    assert_eq!(status, 200, "{detail}");
    detail
}

#[tokio::test]
async fn login_page_code_and_pkce_at_the_idp_token_endpoint() {
    let gateway = auth_gateway().await;
    let page = gateway
        .http(
            "GET",
            &format!("/auth/authorize?{}", authorize_query("n-1")),
            &[],
            b"",
        )
        .await;
    assert_eq!(page.status, 200);
    let html = String::from_utf8_lossy(&page.body).to_string();
    assert!(
        html.contains("data-testid=\"login-user\"")
            && html.contains("data-testid=\"login-submit\"")
    );
    assert!(html.contains("value=\"alice\"") && html.contains("value=\"st ate\""));
    // A redirect_uri that does not validate gets an error page, never a redirect.
    let refused = gateway
        .http(
            "GET",
            "/auth/authorize?response_type=code&client_id=x&redirect_uri=javascript%3Aalert(1)",
            &[],
            b"",
        )
        .await;
    assert_eq!(refused.status, 400);

    let token_form = |code: &str, verifier: &str| {
        format!("grant_type=authorization_code&code={code}&redirect_uri={REDIRECT_ENCODED}&code_verifier={verifier}&client_id=threadline")
    };
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let code = login(&gateway, "alice", "n-1").await;
    let wrong = gateway
        .http(
            "POST",
            "/auth/token",
            &form,
            token_form(&code, "not-the-verifier").as_bytes(),
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.json()["error"], "invalid_grant");
    // The failed attempt consumed the code.
    let reused = gateway
        .http(
            "POST",
            "/auth/token",
            &form,
            token_form(&code, VERIFIER).as_bytes(),
        )
        .await;
    assert_eq!(reused.status, 400);

    let code = login(&gateway, "alice", "n-2").await;
    let tokens = gateway
        .http(
            "POST",
            "/auth/token",
            &form,
            token_form(&code, VERIFIER).as_bytes(),
        )
        .await;
    assert_eq!(tokens.status, 200);
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    let tokens = tokens.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert!(tokens["access_token"].as_str().unwrap().split('.').count() == 3);
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();

    // Implicit exchange of the id token: nonce must match, no refresh token.
    let implicit = |nonce: &str| {
        json!({"deploymentId": DEPLOYMENT, "oauth": {"idToken": id_token, "nonce": nonce}})
            .to_string()
    };
    let path = "/api/v2/webdeployments/token/oauthcodegrantjwtexchange";
    let (status, _) = gateway
        .control("POST", path, &implicit("other-nonce"))
        .await;
    assert_eq!(status, 401);
    let (status, answer) = gateway.control("POST", path, &implicit("n-2")).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["jwt"].is_string());
    assert!(answer.get("refreshToken").is_none());
    let mut tampered = id_token.clone();
    tampered.insert(tampered.len() - 2, 'x');
    let body = json!({"deploymentId": DEPLOYMENT, "oauth": {"idToken": tampered, "nonce": "n-2"}})
        .to_string();
    assert_eq!(gateway.control("POST", path, &body).await.0, 401);

    // The same works with a JSON body at /auth/token.
    let code = login(&gateway, "bob", "n-3").await;
    let body = json!({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": VERIFIER});
    let (status, answer) = gateway
        .control("POST", "/auth/token", &body.to_string())
        .await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn code_exchange_verifies_pkce_once_and_needs_auth_enabled() {
    let gateway = auth_gateway().await;
    let code = login(&gateway, "alice", "n-1").await;
    let (status, _) = exchange_code(&gateway, &code, "wrong-verifier").await;
    assert_eq!(status, 401);
    let code = login(&gateway, "alice", "n-1").await;
    let (status, tokens) = exchange_code(&gateway, &code, VERIFIER).await;
    assert_eq!(status, 200);
    assert!(tokens["jwt"].is_string() && tokens["refreshToken"].is_string());
    let (status, _) = exchange_code(&gateway, &code, VERIFIER).await;
    assert_eq!(status, 401, "a code is single-use");
    // Codes are short-lived.
    let code = login(&gateway, "alice", "n-1").await;
    gateway.clock.advance_ms(3 * 60 * 1000);
    assert_eq!(exchange_code(&gateway, &code, VERIFIER).await.0, 401);

    let path = "/api/v2/webdeployments/token/oauthcodegrantjwtexchange";
    assert_eq!(gateway.control("POST", path, "{not json").await.0, 400);
    assert_eq!(
        gateway
            .control("POST", path, r#"{"deploymentId": "x"}"#)
            .await
            .0,
        400
    );
    let code = login(&gateway, "alice", "n-1").await;
    let off = json!({"deploymentId": threadline_gateway::DEMO_DEPLOYMENT_ID, "oauth": {"code": code, "redirectUri": REDIRECT, "codeVerifier": VERIFIER}});
    assert_eq!(gateway.control("POST", path, &off.to_string()).await.0, 403);
    // CORS preflight on the token endpoints.
    let preflight = gateway
        .http(
            "OPTIONS",
            path,
            &[
                ("origin", "http://shop.test"),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type"),
            ],
            b"",
        )
        .await;
    assert!(preflight.status < 300);
    assert!(preflight.header("access-control-allow-origin").is_some());
}

#[tokio::test]
async fn expired_jwt_is_401_tampered_or_garbage_is_403_and_refresh_recovers() {
    let gateway = auth_gateway().await;
    let (jwt, refresh_token) = sign_in(&gateway, "alice").await;
    let mut client = gateway.connect().await;
    let mut tampered = jwt.clone();
    tampered.insert(tampered.len() - 2, 'x');
    for bad in [tampered.as_str(), "garbage", "a.b.c"] {
        client.send(&auth_frame("tok-a", bad, false)).await;
        let error = client.expect_error(403).await;
        assert!(error["body"]
            .as_str()
            .unwrap()
            .starts_with("Session authentication failed"));
        assert_eq!(error["tracingId"], "auth");
    }
    gateway.clock.advance_ms(15 * 60 * 1000);
    client.send(&auth_frame("tok-a", &jwt, false)).await;
    client.expect_error(401).await;
    let (status, refreshed) = refresh(&gateway, &refresh_token).await;
    assert_eq!(status, 200);
    let fresh = refreshed["jwt"].as_str().unwrap();
    let answer = configure_auth(&mut client, "tok-a", fresh, false).await;
    assert_eq!(answer["connected"], true);
    assert_eq!(answer["newSession"], true);
    let echo = client.say("tok-a", "signed in", "m1").await;
    assert_eq!(echo["body"]["metadata"]["authenticated"], "true");
    // A configured session keeps working after its JWT expires.
    gateway.clock.advance_ms(16 * 60 * 1000);
    client.say("tok-a", "still here", "m2").await;
    // The control API can force every JWT to count as expired.
    let (status, refreshed) = refresh(&gateway, &refresh_token).await;
    assert_eq!(status, 200);
    gateway
        .control("POST", "/control/auth/expire-jwts", "{}")
        .await;
    let mut other = gateway.connect().await;
    other
        .send(&auth_frame(
            "tok-a",
            refreshed["jwt"].as_str().unwrap(),
            false,
        ))
        .await;
    other.expect_error(401).await;
    // Refresh tokens expire after 24 h.
    gateway.clock.advance_ms(24 * 3600 * 1000);
    assert_eq!(refresh(&gateway, &refresh_token).await.0, 401);
    assert_eq!(refresh(&gateway, "never-issued").await.0, 401);
    assert_eq!(
        gateway
            .control("POST", "/api/v2/webdeployments/token/refresh", "{}")
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn control_revoke_makes_the_next_refresh_fail() {
    let gateway = auth_gateway().await;
    let (_, refresh_token) = sign_in(&gateway, "bob").await;
    assert_eq!(refresh(&gateway, &refresh_token).await.0, 200);
    let (status, answer) = gateway
        .control("POST", "/control/auth/revoke", r#"{"sub": "bob"}"#)
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["revoked"], 1);
    assert_eq!(refresh(&gateway, &refresh_token).await.0, 401);
}

#[tokio::test]
async fn revoke_pushes_logout_to_every_socket_and_kills_the_tokens() {
    let gateway = auth_gateway().await;
    let (jwt, refresh_token) = sign_in(&gateway, "alice").await;
    let mut first = gateway.connect().await;
    configure_auth(&mut first, "tok-l", &jwt, false).await;
    let mut second = gateway.connect().await;
    let resumed = configure_auth(&mut second, "tok-l", &jwt, false).await;
    assert_eq!(resumed["newSession"], false);
    let path = "/api/v2/webdeployments/token/revoke";
    let unauthorized = gateway.http("DELETE", path, &[], b"").await;
    assert_eq!(unauthorized.status, 401);
    let revoked = gateway
        .http(
            "DELETE",
            path,
            &[("authorization", &format!("bearer {jwt}"))],
            b"",
        )
        .await;
    assert_eq!(revoked.status, 204);
    assert_eq!(first.expect_class("LogoutEvent").await["body"], json!({}));
    assert_eq!(second.expect_class("LogoutEvent").await["body"], json!({}));
    // The logged-out sockets no longer act for the session.
    first
        .send(&json!({"action": "onMessage", "token": "tok-l", "message": {"type": "Text", "text": "hi"}}))
        .await;
    first.expect_error(4007).await;
    assert_eq!(refresh(&gateway, &refresh_token).await.0, 401);
    let mut third = gateway.connect().await;
    third.send(&auth_frame("tok-l", &jwt, false)).await;
    let error = third.expect_error(403).await;
    assert!(error["body"]
        .as_str()
        .unwrap()
        .starts_with("Session authentication failed"));
    // Signing in again resumes the same conversation.
    let (jwt, _) = sign_in(&gateway, "alice").await;
    let again = configure_auth(&mut third, "tok-l", &jwt, false).await;
    assert_eq!(again["newSession"], false);
}

#[tokio::test]
async fn another_device_resumes_the_conversation_and_closes_the_first_then_start_new() {
    let gateway = auth_gateway().await;
    let (jwt, _) = sign_in(&gateway, "alice").await;
    let mut laptop = gateway.connect().await;
    let first = configure_auth(&mut laptop, "tok-laptop", &jwt, false).await;
    assert_eq!(first["newSession"], true);
    laptop.say("tok-laptop", "from the laptop", "l1").await;
    let first_conversation =
        conversation_of(&gateway, "tok-laptop").await["conversationId"].clone();

    // The phone signs in on its own token: same conversation, the laptop is signed out.
    let (phone_jwt, _) = sign_in(&gateway, "alice").await;
    let mut phone = gateway.connect().await;
    let resumed = configure_auth(&mut phone, "tok-phone", &phone_jwt, false).await;
    assert_eq!(resumed["newSession"], false);
    assert_eq!(resumed["clearedExistingSession"], false);
    let closed = laptop.expect_class("ConnectionClosedEvent").await;
    assert_eq!(closed["body"]["reason"], "signedIn");
    assert_eq!(laptop.expect_end().await, Ending::Closed(1000));
    let detail = conversation_of(&gateway, "tok-phone").await;
    assert_eq!(detail["conversationId"], first_conversation);
    assert_eq!(detail["authenticated"], true);
    assert_eq!(detail["user"]["sub"], "alice");
    assert_eq!(detail["transcript"][0]["text"], "from the laptop");
    assert_eq!(detail["earlierConversations"], json!([]));
    // The agent's answer reaches the phone.
    gateway
        .control(
            "POST",
            "/control/sessions/tok-phone/messages",
            r#"{"text": "Hello Alice"}"#,
        )
        .await;
    let agent = phone.expect_class("StructuredMessage").await;
    assert_eq!(agent["body"]["text"], "Hello Alice");

    // Start new: closeSession, then startNew → a new conversation; the old one is "earlier".
    phone
        .send(&json!({"action": "closeSession", "token": "tok-phone", "closeAllConnections": true}))
        .await;
    assert_eq!(
        phone.expect_class("SessionResponse").await["body"]["connected"],
        false
    );
    let fresh = configure_auth(&mut phone, "tok-phone", &phone_jwt, true).await;
    assert_eq!(fresh["newSession"], true);
    phone.say("tok-phone", "a new question", "p1").await;
    let detail = conversation_of(&gateway, "tok-phone").await;
    assert_ne!(detail["conversationId"], first_conversation);
    assert_eq!(detail["transcript"].as_array().unwrap().len(), 1);
    let earlier = detail["earlierConversations"].as_array().unwrap();
    assert_eq!(earlier.len(), 1);
    assert_eq!(earlier[0]["conversationId"], first_conversation);
    assert!(earlier[0]["endedAt"].is_string());
    assert_eq!(earlier[0]["transcript"][0]["text"], "from the laptop");
    // The console shows them too.
    let console = gateway
        .http(
            "GET",
            &format!(
                "/console/api/conversations/{}",
                detail["conversationId"].as_str().unwrap()
            ),
            &[],
            b"",
        )
        .await;
    assert_eq!(
        console.json()["earlierConversations"][0]["conversationId"],
        first_conversation
    );
    // The same token resumes (a reload) without a new session.
    let mut reload = gateway.connect().await;
    let resumed = configure_auth(&mut reload, "tok-phone", &phone_jwt, false).await;
    assert_eq!(resumed["newSession"], false);
}

#[tokio::test]
async fn step_up_upgrades_the_guest_session_in_place() {
    let gateway = auth_gateway().await;
    // Alice is already signed in on another device.
    let (jwt, _) = sign_in(&gateway, "alice").await;
    let mut tablet = gateway.connect().await;
    configure_auth(&mut tablet, "tok-tablet", &jwt, false).await;

    let (mut browser, guest) = gateway.configured("tok-guest").await;
    assert_eq!(guest["newSession"], true);
    let guest_echo = browser.say("tok-guest", "question as a guest", "g1").await;
    assert!(guest_echo["body"]["metadata"]
        .get("authenticated")
        .is_none());
    let (mut other_tab, _) = gateway.configured("tok-guest").await;
    browser.send(&auth_frame("tok-guest", &jwt, false)).await;
    let sign_in_event = browser.expect_class("StructuredMessage").await;
    assert_eq!(
        sign_in_event["body"]["events"][0]["presence"]["type"],
        "SignIn"
    );
    assert_eq!(
        sign_in_event["body"]["channel"]["from"]["firstName"],
        "Alice"
    );
    assert_eq!(
        sign_in_event["body"]["channel"]["from"]["lastName"],
        "Andersen"
    );
    let answer = browser.expect_class("SessionResponse").await;
    assert_eq!(answer["body"]["clearedExistingSession"], true);
    assert_eq!(answer["body"]["newSession"], false);
    assert_eq!(
        other_tab.expect_class("StructuredMessage").await["body"]["events"][0]["presence"]["type"],
        "SignIn"
    );
    let closed = tablet.expect_class("ConnectionClosedEvent").await;
    assert_eq!(closed["body"]["reason"], "signedIn");
    let echo = browser.say("tok-guest", "now signed in", "g2").await;
    assert_eq!(echo["body"]["metadata"]["authenticated"], "true");
    let detail = conversation_of(&gateway, "tok-guest").await;
    assert_eq!(detail["user"]["sub"], "alice");
    assert_eq!(detail["transcript"][0]["text"], "question as a guest");

    // The token can never be a guest again, not even after a restart of the socket.
    let mut downgrade = gateway.connect().await;
    downgrade
        .send(&json!({"action": "configureSession", "token": "tok-guest", "deploymentId": DEPLOYMENT, "tracingId": "d"}))
        .await;
    assert_eq!(downgrade.expect_error(4017).await["tracingId"], "d");
    // The tablet's old token too.
    downgrade
        .send(&json!({"action": "configureSession", "token": "tok-tablet", "deploymentId": DEPLOYMENT}))
        .await;
    downgrade.expect_error(4017).await;
}

#[tokio::test]
async fn step_up_and_auth_need_the_deployment_settings() {
    let no_upgrade = "[deployments.auth]\nenabled = true\n";
    let gateway = TestGateway::start_with(no_upgrade, Default::default()).await;
    let code = login(&gateway, "bob", "n").await;
    let (status, tokens) = exchange_code(&gateway, &code, VERIFIER).await;
    assert_eq!(status, 200);
    let jwt = tokens["jwt"].as_str().unwrap();
    let (mut client, _) = gateway.configured("tok-g").await;
    client.send(&auth_frame("tok-g", jwt, false)).await;
    assert_eq!(
        client.expect_error(403).await["body"],
        "Turn on the Feature Toggle or fix the configuration."
    );
    // A fresh token signs in fine.
    let answer = configure_auth(&mut client, "tok-fresh", jwt, false).await;
    assert_eq!(answer["newSession"], true);
    // A JWT of another deployment is refused.
    let (other_gateway_jwt, _) = {
        let other = auth_gateway().await;
        sign_in(&other, "bob").await
    };
    client
        .send(&auth_frame("tok-fresh", &other_gateway_jwt, false))
        .await;
    client.expect_error(403).await;
}

#[tokio::test]
async fn curated_contacts_keep_history_longer_than_others() {
    let gateway = auth_gateway().await;
    let (alice_jwt, _) = sign_in(&gateway, "alice").await;
    let (bob_jwt, _) = sign_in(&gateway, "bob").await;
    let (status, contact) = gateway.control("GET", "/control/contacts/alice", "").await;
    assert_eq!((status, contact["curated"].clone()), (200, json!(true)));
    let (status, contact) = gateway.control("GET", "/control/contacts/bob", "").await;
    assert_eq!((status, contact["curated"].clone()), (200, json!(false)));
    let mut alice = gateway.connect().await;
    configure_auth(&mut alice, "tok-alice", &alice_jwt, false).await;
    alice.say("tok-alice", "alice's old message", "a").await;
    let mut bob = gateway.connect().await;
    configure_auth(&mut bob, "tok-bob", &bob_jwt, false).await;
    bob.say("tok-bob", "bob's old message", "b").await;
    let (_, guest) = gateway.configured("tok-guest-r").await;
    assert_eq!(guest["connected"], true);

    gateway.clock.advance_ms(20 * 86_400_000);
    let (_, purged) = gateway
        .control("POST", "/control/retention/purge", "")
        .await;
    assert_eq!(purged["purged"], 1, "only bob's message is past 15 days");
    assert_eq!(
        conversation_of(&gateway, "tok-bob").await["transcript"],
        json!([])
    );
    assert_eq!(
        conversation_of(&gateway, "tok-alice").await["transcript"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    gateway.clock.advance_ms(81 * 86_400_000);
    let (_, purged) = gateway
        .control("POST", "/control/retention/purge", "")
        .await;
    assert_eq!(
        purged["purged"], 1,
        "alice's message is past the deployment's 100 days"
    );

    // The flag can be changed; a TTL above 18 months is refused.
    let (status, _) = gateway
        .control("POST", "/control/contacts/bob", r#"{"curated": true}"#)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        gateway.control("GET", "/control/contacts/bob", "").await.1["curated"],
        true
    );
    let (status, _) = gateway
        .control(
            "PATCH",
            &format!("/control/deployments/{DEPLOYMENT}"),
            r#"{"messageTtlDays": 549}"#,
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = gateway
        .control(
            "PATCH",
            &format!("/control/deployments/{DEPLOYMENT}"),
            r#"{"messageTtlDays": 548}"#,
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn sign_ins_and_authenticated_sessions_survive_a_restart() {
    let mut gateway = auth_gateway().await;
    let (jwt, refresh_token) = sign_in(&gateway, "carol").await;
    let mut client = gateway.connect().await;
    configure_auth(&mut client, "tok-r", &jwt, false).await;
    client.say("tok-r", "before the restart", "r1").await;
    gateway.restart().await;
    let mut client = gateway.connect().await;
    let resumed = configure_auth(&mut client, "tok-r", &jwt, false).await;
    assert_eq!(resumed["newSession"], false);
    let echo = client.say("tok-r", "after the restart", "r2").await;
    assert_eq!(echo["body"]["metadata"]["authenticated"], "true");
    assert_eq!(refresh(&gateway, &refresh_token).await.0, 200);
    let detail = conversation_of(&gateway, "tok-r").await;
    assert_eq!(detail["user"]["name"], "Carol Chen");
    assert_eq!(detail["transcript"].as_array().unwrap().len(), 2);
    let mut guest = gateway.connect().await;
    guest
        .send(&json!({"action": "configureSession", "token": "tok-r", "deploymentId": DEPLOYMENT}))
        .await;
    guest.expect_error(4017).await;
}
