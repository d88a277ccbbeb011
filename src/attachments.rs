//! Local checks on a file before asking the server for an upload URL (SPEC §10 step 1), so the
//! user gets a clear message at once instead of a server rejection. Pure, tested natively.

use threadline_core::protocol::DeploymentConfig;
use threadline_core::session::SessionInfo;

use crate::i18n::Locale;

/// What uploads the deployment allows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadPolicy {
    /// MIME types; `*/*` and `type/*` wildcards allowed. Empty = uploads disabled.
    pub allowed_types: Vec<String>,
    /// Size limit in KB (1 KB = 1000 bytes, as the SDK compares).
    pub max_kb: Option<u64>,
    /// Extensions like `.exe`, matched case-insensitively.
    pub blocked_extensions: Vec<String>,
}

/// Why a file cannot be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileProblem {
    /// The deployment allows no uploads.
    UploadsDisabled,
    /// The file has no bytes.
    Empty,
    /// Larger than the limit (in KB).
    TooLarge { max_kb: u64 },
    /// Type not allowed or extension blocked.
    TypeNotAllowed,
}

impl FileProblem {
    /// What the user is told (the leader tab says it to the follower tab that sent the file).
    pub fn message(&self, locale: Locale) -> String {
        let strings = locale.strings();
        match self {
            Self::UploadsDisabled => strings.uploads_disabled.to_string(),
            Self::Empty => strings.file_empty.to_string(),
            Self::TooLarge { max_kb } => locale.file_too_big(*max_kb),
            Self::TypeNotAllowed => strings.file_type_blocked.to_string(),
        }
    }
}

impl UploadPolicy {
    /// The policy from the `SessionResponse`, else from config.json's `fileUpload.modes`.
    pub fn from_sources(info: Option<&SessionInfo>, deployment: &DeploymentConfig) -> Self {
        if let Some(info) = info.filter(|info| !info.allowed_upload_types.is_empty()) {
            return Self {
                allowed_types: info.allowed_upload_types.clone(),
                max_kb: info.max_upload_kb,
                blocked_extensions: info.blocked_extensions.clone(),
            };
        }
        let blocked_extensions = info.map(|info| info.blocked_extensions.clone()).unwrap_or_default();
        let upload = deployment.messenger.as_ref().and_then(|messenger| messenger.file_upload.as_ref());
        let Some(upload) = upload.filter(|upload| upload.enable_attachments != Some(false)) else {
            return Self { blocked_extensions, ..Self::default() };
        };
        let allowed_types = upload.modes.iter().flat_map(|mode| mode.file_types.iter().cloned()).collect();
        let max_kb = upload.modes.iter().filter_map(|mode| mode.max_file_size_kb).max();
        Self { allowed_types, max_kb, blocked_extensions }
    }

    /// Uploads are possible at all (types listed and a positive size limit).
    pub fn enabled(&self) -> bool {
        !self.allowed_types.is_empty() && self.max_kb.is_some_and(|kb| kb > 0)
    }

    /// Checks one file. `mime` may be empty when the browser does not know the type.
    pub fn check(&self, name: &str, mime: &str, size_bytes: u64) -> Result<(), FileProblem> {
        if !self.enabled() {
            return Err(FileProblem::UploadsDisabled);
        }
        if size_bytes == 0 {
            return Err(FileProblem::Empty);
        }
        if let Some(max_kb) = self.max_kb {
            if size_bytes / 1000 > max_kb {
                return Err(FileProblem::TooLarge { max_kb });
            }
        }
        let lower_name = name.to_ascii_lowercase();
        let blocked = self.blocked_extensions.iter().any(|extension| {
            let extension = extension.trim().to_ascii_lowercase();
            let extension = extension.trim_start_matches('.');
            !extension.is_empty() && lower_name.ends_with(&format!(".{extension}"))
        });
        if blocked || !self.type_allowed(mime) {
            return Err(FileProblem::TypeNotAllowed);
        }
        Ok(())
    }

    fn type_allowed(&self, mime: &str) -> bool {
        let mime = mime.trim().to_ascii_lowercase();
        self.allowed_types.iter().any(|allowed| {
            let allowed = allowed.trim().to_ascii_lowercase();
            if allowed == "*/*" {
                return true;
            }
            if mime.is_empty() {
                return false;
            }
            match allowed.strip_suffix("/*") {
                Some(family) => mime.split('/').next() == Some(family),
                None => allowed == mime,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(max_kb: u64) -> UploadPolicy {
        UploadPolicy { allowed_types: vec!["image/png".into(), "image/jpeg".into()], max_kb: Some(max_kb), blocked_extensions: vec![".exe".into()] }
    }

    #[test]
    fn accepts_allowed_files() {
        assert_eq!(images(100).check("cat.png", "image/png", 50_000), Ok(()));
    }

    #[test]
    fn rejects_with_reasons() {
        assert_eq!(images(100).check("cat.png", "image/png", 0), Err(FileProblem::Empty));
        assert_eq!(images(100).check("cat.png", "image/png", 101_000), Err(FileProblem::TooLarge { max_kb: 100 }));
        assert_eq!(images(100).check("doc.pdf", "application/pdf", 10), Err(FileProblem::TypeNotAllowed));
        assert_eq!(images(100).check("x.PNG.EXE", "image/png", 10), Err(FileProblem::TypeNotAllowed));
        assert_eq!(UploadPolicy::default().check("a.png", "image/png", 10), Err(FileProblem::UploadsDisabled));
    }

    #[test]
    fn problems_read_as_the_composer_says_them() {
        let locale = Locale::En;
        assert_eq!(FileProblem::Empty.message(locale), locale.strings().file_empty);
        assert_eq!(FileProblem::TooLarge { max_kb: 5 }.message(locale), locale.file_too_big(5));
        assert_ne!(FileProblem::UploadsDisabled.message(locale), FileProblem::TypeNotAllowed.message(locale));
    }

    #[test]
    fn wildcards() {
        let any = UploadPolicy { allowed_types: vec!["*/*".into()], max_kb: Some(10), blocked_extensions: vec!["bat".into()] };
        assert_eq!(any.check("a.bin", "", 10), Ok(()));
        assert_eq!(any.check("run.BAT", "text/plain", 10), Err(FileProblem::TypeNotAllowed));
        let family = UploadPolicy { allowed_types: vec!["image/*".into()], max_kb: Some(10), blocked_extensions: vec![] };
        assert_eq!(family.check("a.gif", "image/gif", 10), Ok(()));
        assert_eq!(family.check("a.txt", "text/plain", 10), Err(FileProblem::TypeNotAllowed));
    }

    #[test]
    fn falls_back_to_deployment_config() {
        let deployment = DeploymentConfig::from_json(
            r#"{"messenger":{"fileUpload":{"enableAttachments":true,"modes":[{"fileTypes":["image/png"],"maxFileSizeKB":2048}]}}}"#,
        )
        .unwrap();
        let policy = UploadPolicy::from_sources(None, &deployment);
        assert_eq!(policy.allowed_types, vec!["image/png".to_string()]);
        assert_eq!(policy.max_kb, Some(2048));
        let info = SessionInfo { allowed_upload_types: vec!["*/*".into()], max_upload_kb: Some(5), ..SessionInfo::default() };
        assert_eq!(UploadPolicy::from_sources(Some(&info), &deployment).allowed_types, vec!["*/*".to_string()]);
    }
}
