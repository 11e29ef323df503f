//! The access-token verifier, built from the configuration: where its keys come from
//! and whether revocations are polled. It holds no keys itself.
//!
//! [`from_config`] is the one place that decides:
//! * `--auth-service-url`: keys are fetched from the auth-service (and fetched again when
//!   a token names an unknown key id), and revocations are polled from it.
//! * `--jwt-public-keys-file`: keys are pinned from a file; with an auth-service URL as
//!   well, revocations are still polled from it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use scim_authn::remote::{DEFAULT_POLL_INTERVAL, remote_verifier, spawn_revocation_poller};
use scim_authn::{PublicJwk, StaticKeySource, Verifier};
use tonic::transport::{Channel, Endpoint};

use crate::config::Config;

/// Why no verifier could be built.
#[derive(Debug, thiserror::Error)]
pub enum KeyConfigError {
    /// Neither a keys file nor an auth-service URL was given.
    #[error("no verification keys configured: set --auth-service-url or --jwt-public-keys-file")]
    NotConfigured,
    /// The auth-service URL is not a valid URI.
    #[error("invalid --auth-service-url: {0}")]
    InvalidUrl(String),
    /// The keys file could not be read.
    #[error("cannot read the keys file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The keys file is not a JSON array of `{kid, x}` objects.
    #[error("the keys file {path} is not a JSON array of {{\"kid\", \"x\"}} keys: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
}

/// Reads a pinned key set.
pub fn load_keys_file(path: &Path) -> Result<StaticKeySource, KeyConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let keys: Vec<PublicJwk> =
        serde_json::from_str(&text).map_err(|source| KeyConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(StaticKeySource(keys))
}

/// A lazy channel to the auth-service: the identity-service may start first.
/// A channel to the auth-service at `urls`: one URL, or its replicas' URLs separated by
/// commas. Key fetches and revocation polls are background work that retries by
/// itself, so several replicas share tonic's plain balancing channel (a call to a dead
/// replica fails, and the next poll picks again).
fn auth_channel(urls: &str) -> Result<Channel, KeyConfigError> {
    let endpoints = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            Endpoint::from_shared(u.to_owned())
                .map_err(|e| KeyConfigError::InvalidUrl(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    match endpoints.as_slice() {
        [] => Err(KeyConfigError::InvalidUrl(urls.to_owned())),
        [one] => Ok(one.connect_lazy()),
        _ => Ok(Channel::balance_list(endpoints.into_iter())),
    }
}

/// The token verifier for this configuration. Must run inside a Tokio runtime when an
/// auth-service URL is configured (the revocation poller is a task).
pub fn from_config(config: &Config) -> Result<Arc<Verifier>, KeyConfigError> {
    let channel = config
        .auth_service_url
        .as_deref()
        .map(auth_channel)
        .transpose()?;
    let (issuer, audience) = (config.jwt_issuer.clone(), config.jwt_audience.clone());
    match (&config.jwt_public_keys_file, channel) {
        (Some(path), channel) => {
            let keys = Arc::new(load_keys_file(path)?);
            let verifier = Arc::new(Verifier::new(issuer, audience, keys));
            if let Some(channel) = channel {
                // The task ends by itself once the verifier is dropped.
                drop(spawn_revocation_poller(
                    channel,
                    verifier.revocations().clone(),
                    DEFAULT_POLL_INTERVAL,
                ));
            }
            Ok(verifier)
        }
        (None, Some(channel)) => Ok(remote_verifier(
            channel,
            issuer,
            audience,
            DEFAULT_POLL_INTERVAL,
        )),
        (None, None) => Err(KeyConfigError::NotConfigured),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn config(extra: &[&str]) -> Config {
        let mut args = vec!["identity-service", "--jwt-issuer", "i"];
        args.extend_from_slice(extra);
        Config::try_parse_from(args).unwrap()
    }

    #[tokio::test]
    async fn a_keys_file_pins_the_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        std::fs::write(&path, r#"[{"kid":"k1","x":"abc"}]"#).unwrap();
        let keys = load_keys_file(&path).unwrap();
        assert_eq!(keys.0.len(), 1);
        assert_eq!(keys.0[0].kid, "k1");
        let v = from_config(&config(&["--jwt-public-keys-file", path.to_str().unwrap()])).unwrap();
        assert_eq!((v.issuer(), v.audience()), ("i", "scim-stack"));
    }

    #[tokio::test]
    async fn an_auth_service_url_gives_a_remote_verifier() {
        assert!(from_config(&config(&["--auth-service-url", "http://127.0.0.1:1"])).is_ok());
        assert!(matches!(
            from_config(&config(&["--auth-service-url", "not a uri"])),
            Err(KeyConfigError::InvalidUrl(_))
        ));
    }

    #[test]
    fn missing_or_bad_sources_are_errors() {
        assert!(matches!(
            from_config(&config(&[])),
            Err(KeyConfigError::NotConfigured)
        ));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        std::fs::write(&path, "{}").unwrap();
        assert!(matches!(
            load_keys_file(&path),
            Err(KeyConfigError::Parse { .. })
        ));
        let missing = dir.path().join("missing.json");
        assert!(matches!(
            load_keys_file(&missing),
            Err(KeyConfigError::Read { .. })
        ));
    }
}
