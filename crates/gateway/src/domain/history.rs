//! The history REST endpoint's logic (SPEC §9): bearer guest JWT → newest-first pages.

use serde_json::{json, Value};

use super::hub::Hub;
use crate::jwt::JwtError;

/// Why a history request was refused.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("storage failure: {0}")]
    Store(#[from] crate::store::StoreError),
}

impl From<JwtError> for HistoryError {
    fn from(error: JwtError) -> Self {
        HistoryError::Unauthorized(error.to_string())
    }
}

/// Default and largest page sizes.
const DEFAULT_PAGE_SIZE: u64 = 25;
const MAX_PAGE_SIZE: u64 = 200;

impl Hub {
    /// One page of the session's messages named by `jwt`, newest first.
    pub fn history(
        &self,
        jwt: &str,
        page_number: Option<u64>,
        page_size: Option<u64>,
    ) -> Result<Value, HistoryError> {
        let claims: crate::jwt::GuestClaims = self.signer.verify_jwt(jwt, self.now_ms() / 1000)?;
        let current = {
            let state = self.lock();
            state
                .sessions
                .get(&(claims.dep.clone(), claims.sub.clone()))
                .is_some_and(|session| session.session_id == claims.sid)
        };
        if !current {
            return Err(HistoryError::Unauthorized(
                "the session of this JWT no longer exists".into(),
            ));
        }
        let page_size = page_size
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE);
        let page_number = page_number.unwrap_or(1).max(1);
        let (entities, total) = self
            .store
            .history_page(&claims.sid, page_number, page_size)?;
        Ok(json!({
            "entities": entities,
            "pageSize": page_size,
            "pageNumber": page_number,
            "total": total,
            "pageCount": total.div_ceil(page_size)
        }))
    }

    /// Sends an arbitrary frame to a session's sockets (control API: unknown classes, forced errors).
    pub fn send_raw(
        &self,
        token: &str,
        deployment_id: Option<&str>,
        frame: &Value,
    ) -> Result<usize, super::hub::ControlError> {
        let state = self.lock();
        let key = super::hub::select_key(&state, token, deployment_id).ok_or_else(|| {
            super::hub::ControlError::NotFound(format!("no session for token {token}"))
        })?;
        let count = state
            .sessions
            .get(&key)
            .map_or(0, |session| session.sockets.len());
        self.fan_out(&state, &key, &frame.to_string(), None);
        Ok(count)
    }
}
