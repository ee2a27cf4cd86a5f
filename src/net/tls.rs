//! rustls client settings for the mail adapters, with the `ring` crypto
//! provider chosen explicitly (never a process-wide default that another
//! crate could have installed differently).

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

/// Client settings trusting either the certificates of `ca_file` (a private
/// server: only them) or the public web PKI roots (webpki-roots).
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for cert in read_pem_certificates(path)? {
                roots
                    .add(cert)
                    .with_context(|| format!("ca_file {}: unusable certificate", path.display()))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The certificates of a PEM file; an error when it holds none, so that a
/// wrong path or a key file given by mistake is caught at start.
pub fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem =
        std::fs::read(path).with_context(|| format!("ca_file: cannot read {}", path.display()))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("ca_file {}: bad PEM", path.display()))?;
    if certs.is_empty() {
        bail!("ca_file {}: no certificate in it", path.display());
    }
    Ok(certs)
}

/// The name the server's certificate must carry.
pub fn server_name(host: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(host.to_string())
        .with_context(|| format!("`{host}` is not a valid TLS server name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ca.pem");
        std::fs::write(&f, "not a certificate\n").unwrap();
        let err = client_config(Some(&f)).unwrap_err();
        assert!(err.to_string().contains("no certificate"), "{err}");
        assert!(client_config(Some(&dir.path().join("missing.pem"))).is_err());
    }

    #[test]
    fn public_roots_are_the_default() {
        assert!(client_config(None).is_ok());
        assert!(server_name("imap.example.org").is_ok());
        assert!(server_name("127.0.0.1").is_ok());
        assert!(server_name("bad host").is_err());
    }
}
