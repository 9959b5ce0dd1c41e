//! The proxy's certificates: its own CA, the leaf certificates it shows a
//! command for the hosts it intercepts, and the roots it trusts upstream.
//!
//! The CA is generated when the proxy starts (at `claulock unlock`), and
//! its private key lives only in this process's memory: it is never
//! written anywhere, so a CA the model could read or reuse does not
//! exist. The price is that the CA changes at each unlock; a command
//! trusts it through the bundle file written for it
//! ([`Authority::bundle_pem`]), never through the system's trust store.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// Leaf configurations kept at most (one per intercepted host).
const MAX_LEAVES: usize = 1024;

fn tls_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("TLS setup: {e}"))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The proxy's CA and the leaves it has issued.
pub(crate) struct Authority {
    key: KeyPair,
    cert: rcgen::Certificate,
    leaves: Mutex<HashMap<String, Arc<ServerConfig>>>,
}

impl Authority {
    /// A new CA.
    pub(crate) fn generate() -> io::Result<Authority> {
        let key = KeyPair::generate().map_err(tls_error)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "ClauLock proxy CA (this unlock only)");
        dn.push(DnType::OrganizationName, "ClauLock");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).map_err(tls_error)?;
        Ok(Authority {
            key,
            cert,
            leaves: Mutex::new(HashMap::new()),
        })
    }

    /// The CA certificate, PEM.
    pub(crate) fn ca_pem(&self) -> String {
        self.cert.pem()
    }

    /// The TLS configuration that shows a command a certificate for
    /// `host`, issued now (or earlier in this unlock) by the CA.
    pub(crate) fn server_config(&self, host: &str) -> io::Result<Arc<ServerConfig>> {
        let mut leaves = self
            .leaves
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = leaves.get(host) {
            return Ok(Arc::clone(c));
        }
        let key = KeyPair::generate().map_err(tls_error)?;
        let mut params = CertificateParams::new(vec![host.to_owned()]).map_err(tls_error)?;
        params
            .distinguished_name
            .push(DnType::CommonName, host.to_owned());
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let leaf = params
            .signed_by(&key, &self.cert, &self.key)
            .map_err(tls_error)?;
        let chain = vec![leaf.der().clone(), self.cert.der().clone()];
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .map_err(tls_error)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let config = Arc::new(config);
        if leaves.len() >= MAX_LEAVES {
            leaves.clear();
        }
        leaves.insert(host.to_owned(), Arc::clone(&config));
        Ok(config)
    }
}

/// The roots the proxy trusts upstream: the system's, and the
/// certificates of `extra` (a PEM file, read now and never again).
pub(crate) struct Roots {
    certs: Vec<CertificateDer<'static>>,
}

impl Roots {
    /// Loads them.
    ///
    /// # Errors
    ///
    /// When `extra` cannot be read or holds no certificate, or when there
    /// is no root at all.
    pub(crate) fn load(extra: Option<&Path>) -> io::Result<Roots> {
        let mut certs: Vec<CertificateDer<'static>> =
            rustls_native_certs::load_native_certs().certs;
        if let Some(path) = extra {
            let mut n = 0;
            for c in CertificateDer::pem_file_iter(path).map_err(|e| {
                io::Error::other(format!("cannot read the CA file {}: {e}", path.display()))
            })? {
                certs.push(c.map_err(|e| {
                    io::Error::other(format!("in the CA file {}: {e}", path.display()))
                })?);
                n += 1;
            }
            if n == 0 {
                return Err(io::Error::other(format!(
                    "the CA file {} holds no certificate",
                    path.display()
                )));
            }
        }
        if certs.is_empty() {
            return Err(io::Error::other(
                "no trusted root certificate found (install ca-certificates, or set CLAULOCK_EXTRA_CA_FILE)",
            ));
        }
        Ok(Roots { certs })
    }

    /// The client configuration for upstream connections.
    pub(crate) fn client_config(&self) -> io::Result<ClientConfig> {
        let mut store = RootCertStore::empty();
        let (_added, _ignored) = store.add_parsable_certificates(self.certs.iter().cloned());
        Ok(ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_root_certificates(store)
            .with_no_client_auth())
    }

    /// A PEM bundle of every root and `ca`: what a command trusts, so that
    /// it accepts both the proxy's leaves and the hosts it tunnels.
    pub(crate) fn bundle_pem(&self, ca: &str) -> String {
        let mut out = String::new();
        for c in &self.certs {
            out.push_str(&pem("CERTIFICATE", c.as_ref()));
        }
        out.push_str(ca);
        out
    }
}

/// PEM text of `der`.
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_chain_to_the_ca_and_are_cached() {
        let ca = Authority::generate().unwrap();
        let a = ca.server_config("api.example.com").unwrap();
        let b = ca.server_config("api.example.com").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(
            ca.server_config("127.0.0.1").is_ok(),
            "IP hosts get IP SANs"
        );
        // The CA PEM parses back.
        let der = CertificateDer::from_pem_slice(ca.ca_pem().as_bytes()).unwrap();
        assert_eq!(der.as_ref(), ca.cert.der().as_ref());
        // The bundle holds it after the roots, and parses as a whole.
        let roots = Roots { certs: vec![] };
        let bundle = roots.bundle_pem(&ca.ca_pem());
        assert_eq!(CertificateDer::pem_slice_iter(bundle.as_bytes()).count(), 1);
    }
}
