//! First-start operator credentials.
//!
//! With `--bootstrap-admin-file PATH`, the first start registers a provider named
//! `operator` (tenant `default`, scopes `admin scim:read scim:write`) and writes
//! `{"client_id": .., "client_secret": ..}` to PATH with mode 0600. Later starts find
//! the file and do nothing. `scimctl` and docker-compose read it to obtain admin
//! tokens. The file is written under a temporary name and renamed into place, so a
//! crash never leaves a half-written file behind that would block the next attempt.
//!
//! Which start is the first is decided in the database, not by each process: the
//! operator is registered in the same transaction that records the
//! [`BOOTSTRAP_CLAIM`] setting, so of several replicas starting on one database exactly
//! one registers it and writes its file. The others log which client id the operator
//! has and leave the file to the replica that made it (the secret exists only there).

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use scim_authn::scopes;

use crate::authority::{Authority, NewProviderSpec};
use crate::error::AuthError;

/// Name of the bootstrapped provider.
pub const OPERATOR_NAME: &str = "operator";

/// The setting that records, once per database, the client id of the bootstrapped
/// operator.
pub const BOOTSTRAP_CLAIM: &str = "bootstrap_operator";

/// The file's content.
#[derive(serde::Serialize)]
struct Credentials<'a> {
    client_id: &'a str,
    client_secret: &'a str,
}

fn io_error(context: String) -> impl FnOnce(std::io::Error) -> AuthError {
    move |source| AuthError::Io { context, source }
}

/// Registers the operator and writes its credentials unless `path` exists.
pub async fn ensure_admin_file(authority: &Authority, path: &Path) -> Result<(), AuthError> {
    if path.try_exists().map_err(io_error(format!(
        "checking the bootstrap admin file {}",
        path.display()
    )))? {
        tracing::debug!(path = %path.display(), "bootstrap admin file exists; nothing to do");
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_error(format!(
            "creating the directory {}",
            dir.display()
        )))?;
    }
    let spec = NewProviderSpec {
        name: OPERATOR_NAME.into(),
        tenant: crate::authority::DEFAULT_TENANT.into(),
        allowed_scopes: vec![
            scopes::ADMIN.into(),
            scopes::SCIM_READ.into(),
            scopes::SCIM_WRITE.into(),
        ],
        ..Default::default()
    };
    let Some((provider, secret)) = authority
        .create_provider_once(spec, Some(BOOTSTRAP_CLAIM))
        .await?
    else {
        let client_id = authority
            .setting(BOOTSTRAP_CLAIM)
            .await?
            .unwrap_or_default();
        tracing::warn!(
            client_id = %String::from_utf8_lossy(&client_id),
            path = %path.display(),
            "the operator was registered earlier, by another replica or an earlier start; \
             its credentials are in the bootstrap admin file that start wrote, not here"
        );
        return Ok(());
    };
    let body = serde_json::to_vec_pretty(&Credentials {
        client_id: &provider.client_id,
        client_secret: &secret,
    })
    .map_err(|e| AuthError::Internal(e.to_string()))?;

    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(&body)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error(format!(
            "writing the bootstrap admin file {}",
            path.display()
        ))(e));
    }
    tracing::info!(
        client_id = %provider.client_id,
        path = %path.display(),
        "operator provider created; credentials written"
    );
    Ok(())
}
