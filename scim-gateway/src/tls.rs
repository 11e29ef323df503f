//! HTTPS for the gateway listener (rustls).
//!
//! Okta only accepts `https://` base URLs, so the gateway can terminate TLS itself:
//! from PEM files (`--tls-cert`, `--tls-key`), or, for development, with a self-signed
//! certificate made at start-up (`--tls-self-signed`) for `localhost`, `127.0.0.1` and
//! the public URL's host. Production deployments may equally terminate TLS in front of
//! the gateway and run it on plain HTTP.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::server::StartError;

/// A TLS server configuration plus, for self-signed mode, the certificate in PEM (so a
/// client can be told to trust it).
pub struct TlsSetup {
    /// What the acceptor uses.
    pub config: Arc<rustls::ServerConfig>,
    /// The self-signed certificate, when one was generated.
    pub self_signed_pem: Option<String>,
}

fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, StartError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StartError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| StartError::Tls(format!("certificate and key do not fit: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Loads a PEM certificate chain and private key.
pub fn from_files(cert: &Path, key: &Path) -> Result<TlsSetup, StartError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| StartError::Tls(format!("cannot read {}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| {
            StartError::Tls(format!(
                "{} is not a PEM certificate chain: {e}",
                cert.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(StartError::Tls(format!(
            "{} holds no certificate",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        StartError::Tls(format!(
            "cannot read a private key from {}: {e}",
            key.display()
        ))
    })?;
    Ok(TlsSetup {
        config: server_config(certs, key)?,
        self_signed_pem: None,
    })
}

/// Makes a self-signed certificate for `localhost`, `127.0.0.1` and `extra_host`.
pub fn self_signed(extra_host: Option<&str>) -> Result<TlsSetup, StartError> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    if let Some(h) = extra_host
        && !names.iter().any(|n| n == h)
    {
        names.push(h.to_owned());
    }
    let certified = rcgen::generate_simple_self_signed(names)
        .map_err(|e| StartError::Tls(format!("cannot make a self-signed certificate: {e}")))?;
    let pem = certified.cert.pem();
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::try_from(certified.signing_key.serialize_der())
        .map_err(|e| StartError::Tls(e.to_string()))?;
    Ok(TlsSetup {
        config: server_config(vec![cert], key)?,
        self_signed_pem: Some(pem),
    })
}
