//! Guest attachments (SPEC §10): upload grants, the upload itself, downloads with expiring
//! URLs, refresh and delete.

use serde_json::{json, Value};
use threadline_core::protocol::OnAttachment;

use super::client::RequestParts;
use super::hub::{send_to, Hub, Outgoing};
use super::session::Session;
use crate::clock::iso8601_millis;
use crate::store::AttachmentRecord;
use crate::wire::{self, text};

/// Longest accepted attachment file name.
const MAX_FILE_NAME_CHARS: usize = 255;

/// Outcome of a PUT to an upload URL, for the HTTP adapter.
#[derive(Debug, PartialEq, Eq)]
pub enum UploadOutcome {
    /// Bytes stored; `UploadSuccessEvent` pushed.
    Stored,
    /// Bytes received but refused; `UploadFailureEvent` pushed with this code.
    Rejected(u16),
    /// URL signature wrong or expired, or presigned headers missing (HTTP 403).
    Forbidden(&'static str),
    /// No such attachment (HTTP 404).
    NotFound,
}

/// A PUT to an upload URL, as received.
#[derive(Clone, Copy, Debug)]
pub struct UploadRequest<'a> {
    pub attachment_id: &'a str,
    /// `expires` query parameter (Unix ms).
    pub expires: u64,
    /// `signature` query parameter.
    pub signature: &'a str,
    /// The `x-amz-tagging` header, if sent.
    pub tagging_header: Option<&'a str>,
    /// The `Content-Type` header, if sent.
    pub content_type: Option<&'a str>,
    pub bytes: &'a [u8],
    /// `http://host:port` for the download URL in `UploadSuccessEvent`.
    pub base_url: &'a str,
}

/// A downloadable attachment.
pub struct Download {
    pub mime: String,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

impl Hub {
    pub(crate) fn on_attachment(
        &self,
        request: &RequestParts<'_>,
        announced: &OnAttachment,
    ) -> Result<Option<String>, String> {
        let file_name = announced.file_name.as_str();
        // Optional in the frame model, required here: the type decides what is allowed.
        let file_type = announced.file_type.as_deref().ok_or_else(|| {
            wire::error_string(
                4020,
                "Missing required parameter: fileType",
                request.tracing_id,
            )
        })?;
        let file_size = announced.file_size;
        let attachment_id = match announced.attachment_id.as_ref().map(|id| id.as_str()) {
            Some(id) if is_safe_id(id) => id.to_owned(),
            Some(_) => {
                return Err(wire::error_string(
                    400,
                    "attachmentId must be 1-128 letters, digits or dashes.",
                    request.tracing_id,
                ))
            }
            None => uuid::Uuid::new_v4().to_string(),
        };
        let mut state = self.lock();
        let Some(session) = self.socket_session(&mut state, request)? else {
            return Ok(None);
        };
        let refuse = |code: u16, message: String| {
            tracing::info!(attachment = %attachment_id, code, %message, "upload URL refused");
            Ok(Some(wire::envelope(
                "message",
                "GenerateUrlError",
                200,
                json!({"attachmentId": attachment_id, "errorCode": code, "errorMessage": message}),
                request.tracing_id,
            )))
        };
        let rules = &session.settings.attachments;
        if !rules.enabled() {
            return refuse(4001, "Attachments are disabled for this deployment".into());
        }
        if !is_safe_file_name(file_name) {
            return refuse(4004, format!("File name {file_name:?} is not allowed"));
        }
        if file_name.chars().count() > MAX_FILE_NAME_CHARS {
            return refuse(
                4005,
                format!("File name is longer than {MAX_FILE_NAME_CHARS} characters"),
            );
        }
        if rules.blocks_name(file_name) || !rules.allows_type(file_type) {
            return refuse(4001, format!("File type {file_type} is not allowed"));
        }
        if let Some(size) = file_size {
            if size == 0 || size > rules.max_bytes() {
                return refuse(
                    4002,
                    format!(
                        "File size must be between 1 byte and {} KB",
                        rules.max_file_size_kb
                    ),
                );
            }
        }
        let tagging = format!(
            "deploymentId={}&attachmentId={attachment_id}",
            session.deployment_id
        );
        let record = AttachmentRecord {
            id: attachment_id.clone(),
            session_id: session.session_id.clone(),
            deployment_id: session.deployment_id.clone(),
            token: session.token.clone(),
            file_name: file_name.into(),
            mime: file_type.into(),
            declared_size: file_size.unwrap_or(0),
            tagging: tagging.clone(),
            uploaded: false,
            size: 0,
            created_ms: self.now_ms(),
        };
        if let Some(existing) = self.store.attachment(&attachment_id).ok().flatten() {
            if existing.session_id != session.session_id {
                return Err(wire::error_string(
                    400,
                    "attachmentId is already in use.",
                    request.tracing_id,
                ));
            }
        }
        if let Err(error) = self.store.insert_attachment(&record) {
            tracing::error!(%error, "failed to store attachment metadata");
            return Err(wire::error_string(
                500,
                text::SERVER_ERROR,
                request.tracing_id,
            ));
        }
        let base_url = state
            .sockets
            .get(&request.socket_id)
            .map(|socket| socket.base_url.clone())
            .unwrap_or_default();
        let expires = self.now_ms().saturating_add(self.options.upload_url_ttl_ms);
        let signature = self
            .signer
            .sign(&format!("upload:{attachment_id}:{expires}"));
        let mut body = json!({
            "attachmentId": attachment_id,
            "headers": {"x-amz-tagging": tagging},
            "url": format!("{base_url}/uploads/{attachment_id}?expires={expires}&signature={signature}"),
            "fileName": file_name,
            "fileType": file_type
        });
        if let Some(size) = file_size {
            body["fileSize"] = Value::from(size);
        }
        Ok(Some(wire::envelope(
            "response",
            "PresignedUrlResponse",
            200,
            body,
            request.tracing_id,
        )))
    }

    /// The attachment `attachment_id` if `session` owns it (a store error counts as unknown).
    fn session_attachment(&self, session: &Session, attachment_id: &str) -> Option<AttachmentRecord> {
        self.store
            .attachment(attachment_id)
            .ok()
            .flatten()
            .filter(|record| record.session_id == session.session_id)
    }

    pub(crate) fn get_attachment(
        &self,
        request: &RequestParts<'_>,
        attachment_id: &str,
    ) -> Result<Option<String>, String> {
        let mut state = self.lock();
        let Some(session) = self.socket_session(&mut state, request)? else {
            return Ok(None);
        };
        let record = self
            .session_attachment(&session, attachment_id)
            .filter(|record| record.uploaded)
            .ok_or_else(|| wire::error_string(4009, "Attachment not found.", request.tracing_id))?;
        let base_url = state
            .sockets
            .get(&request.socket_id)
            .map(|socket| socket.base_url.clone())
            .unwrap_or_default();
        let body = json!({
            "attachmentId": record.id,
            "headers": {},
            "url": self.download_url(&base_url, &record.id),
            "fileName": record.file_name,
            "fileSize": record.size,
            "fileType": record.mime
        });
        Ok(Some(wire::envelope(
            "response",
            "PresignedUrlResponse",
            200,
            body,
            request.tracing_id,
        )))
    }

    pub(crate) fn delete_attachment(
        &self,
        request: &RequestParts<'_>,
        attachment_id: &str,
    ) -> Result<Option<String>, String> {
        let mut state = self.lock();
        let Some(session) = self.socket_session(&mut state, request)? else {
            return Ok(None);
        };
        if self.session_attachment(&session, attachment_id).is_none() {
            return Err(wire::error_string(
                4009,
                "Attachment not found.",
                request.tracing_id,
            ));
        }
        if let Err(error) = self.store.delete_attachment(attachment_id) {
            tracing::error!(%error, "failed to delete an attachment");
            return Err(wire::error_string(
                500,
                text::SERVER_ERROR,
                request.tracing_id,
            ));
        }
        Ok(Some(wire::envelope(
            "response",
            "AttachmentDeletedResponse",
            200,
            json!({"attachmentId": attachment_id}),
            request.tracing_id,
        )))
    }

    /// Turns a client `{contentType:"Attachment", attachment:{id}}` into the full echo shape,
    /// or refuses with 4009 (unknown) / 4010 (not uploaded).
    pub(crate) fn resolve_attachment(
        &self,
        request: &RequestParts<'_>,
        session: &super::session::Session,
        base_url: &str,
        item: &Value,
    ) -> Result<Value, String> {
        let Some(id) = item.pointer("/attachment/id").and_then(Value::as_str) else {
            return Err(wire::error_string(
                4020,
                "Missing required parameter: attachment.id",
                request.tracing_id,
            ));
        };
        let record = self
            .session_attachment(session, id)
            .ok_or_else(|| wire::error_string(4009, "Attachment not found.", request.tracing_id))?;
        if !record.uploaded {
            return Err(wire::error_string(
                4010,
                "Attachment was not successfully uploaded.",
                request.tracing_id,
            ));
        }
        Ok(json!({
            "contentType": "Attachment",
            "attachment": {
                "id": record.id,
                "url": self.download_url(base_url, &record.id),
                "filename": record.file_name,
                "fileSize": record.size,
                "mediaType": media_type(&record.mime),
                "mime": record.mime
            }
        }))
    }

    /// Handles `PUT /uploads/{id}`: checks the URL signature, the presigned header, the size
    /// and the type, stores the bytes and tells the session's sockets how it went.
    pub fn upload(&self, upload: &UploadRequest<'_>) -> UploadOutcome {
        let UploadRequest {
            attachment_id,
            expires,
            signature,
            tagging_header,
            content_type,
            bytes,
            base_url,
        } = *upload;
        if expires < self.now_ms()
            || !self
                .signer
                .verify(&format!("upload:{attachment_id}:{expires}"), signature)
        {
            return UploadOutcome::Forbidden("upload URL signature is invalid or expired");
        }
        let Some(record) = self.store.attachment(attachment_id).ok().flatten() else {
            return UploadOutcome::NotFound;
        };
        if tagging_header != Some(record.tagging.as_str()) {
            return UploadOutcome::Forbidden(
                "the presigned x-amz-tagging header is missing or wrong",
            );
        }
        let settings = {
            let state = self.lock();
            state
                .sessions
                .get(&(record.deployment_id.clone(), record.token.clone()))
                .map(|session| session.settings.clone())
        };
        let Some(settings) = settings else {
            return UploadOutcome::NotFound;
        };
        let declared = record.mime.to_ascii_lowercase();
        let sent_type = content_type.map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        let failure = if bytes.is_empty() || bytes.len() as u64 > settings.attachments.max_bytes() {
            Some((
                4002,
                format!(
                    "File size must be between 1 byte and {} KB",
                    settings.attachments.max_file_size_kb
                ),
            ))
        } else if record.declared_size != 0 && record.declared_size != bytes.len() as u64 {
            Some((
                4002,
                "File size does not match the announced fileSize".to_string(),
            ))
        } else if sent_type
            .as_deref()
            .is_some_and(|sent| !sent.is_empty() && sent != declared)
        {
            Some((
                4003,
                "File content does not match the declared file type".to_string(),
            ))
        } else {
            None
        };
        let timestamp = iso8601_millis(self.now_ms());
        let (frame, outcome) = match failure {
            Some((code, message)) => {
                tracing::info!(attachment = %attachment_id, code, %message, "upload rejected");
                (
                    wire::event(
                        "UploadFailureEvent",
                        json!({"attachmentId": attachment_id, "errorCode": code, "errorMessage": message, "timestamp": timestamp}),
                        None,
                    ),
                    UploadOutcome::Rejected(code),
                )
            }
            None => {
                if let Err(error) = self.store.store_attachment_data(attachment_id, bytes) {
                    tracing::error!(%error, "failed to store attachment bytes");
                    return UploadOutcome::NotFound;
                }
                (
                    wire::event(
                        "UploadSuccessEvent",
                        json!({"attachmentId": attachment_id, "downloadUrl": self.download_url(base_url, attachment_id), "timestamp": timestamp}),
                        None,
                    ),
                    UploadOutcome::Stored,
                )
            }
        };
        let state = self.lock();
        if let Some(session) = state
            .sessions
            .get(&(record.deployment_id.clone(), record.token.clone()))
        {
            for socket_id in &session.sockets {
                send_to(&state, *socket_id, Outgoing::Text(frame.clone()));
            }
        }
        outcome
    }

    /// Handles `GET /api/v2/downloads/{id}`: `None` (→ 404) once the URL expired or is forged.
    pub fn download(&self, attachment_id: &str, expires: u64, signature: &str) -> Option<Download> {
        if expires < self.now_ms()
            || !self
                .signer
                .verify(&format!("download:{attachment_id}:{expires}"), signature)
        {
            return None;
        }
        let record = self.store.attachment(attachment_id).ok().flatten()?;
        let bytes = self.store.attachment_data(attachment_id).ok().flatten()?;
        Some(Download {
            mime: record.mime,
            file_name: record.file_name,
            bytes,
        })
    }
}

/// Attachment ids end up in URLs: letters, digits and dashes only.
pub fn is_safe_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Refuses path traversal, separators, control characters and empty names.
pub fn is_safe_file_name(name: &str) -> bool {
    let trimmed = name.trim();
    !trimmed.is_empty()
        && trimmed != "."
        && !trimmed.contains("..")
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control() || c == ':')
}

/// `mediaType` of an attachment from its MIME type.
fn media_type(mime: &str) -> &'static str {
    match mime.split('/').next().unwrap_or("") {
        "image" => "Image",
        "video" => "Video",
        "audio" => "Audio",
        _ => "File",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_with_traversal_are_refused() {
        assert!(is_safe_file_name("receipt.png"));
        assert!(!is_safe_file_name("../etc/passwd"));
        assert!(!is_safe_file_name("a\\b.png"));
        assert!(!is_safe_file_name(""));
        assert!(!is_safe_id("../x"));
    }
}
