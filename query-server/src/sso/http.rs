//! The relying party's HTTP client: ureq (blocking, rustls with ring, the
//! same TLS stack as the mailer), handed to `openidconnect` as its
//! `SyncHttpClient`.
//!
//! Chosen over the crate's reqwest and ureq features: every call is made on
//! the blocking pool (the argon2 pattern), so an async client buys nothing,
//! and our own adapter can do what theirs does not: never follow a redirect
//! (an SSRF guard the crate's documentation asks for), hand a 4xx body back
//! (the token endpoint's `invalid_grant` is JSON in a 400), cap what is read,
//! time out, and trust an extra root (`sso.ca_file`) for a provider whose
//! certificate chains to a root the built-in list lacks.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use openidconnect::http::{self, HeaderValue};
use openidconnect::{HttpRequest, HttpResponse, SyncHttpClient};

/// Discovery documents, key sets and token responses are a few KiB.
const MAX_BODY: u64 = 1 << 20;
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Transport(String),
    #[error("response larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Http(#[from] http::Error),
}

pub struct HttpClient {
    agent: ureq::Agent,
}

impl HttpClient {
    /// `ca_file`: extra trusted roots (PEM), besides the built-in list.
    pub fn new(ca_file: Option<&Path>) -> Result<HttpClient, String> {
        let mut builder = ureq::AgentBuilder::new()
            .redirects(0)
            .timeout(TIMEOUT)
            // (ureq's own connect timeout, 30 s, is not bounded by the
            // overall one)
            .timeout_connect(TIMEOUT)
            .user_agent("cpor-server (MOJ single sign-on relying party)");
        if let Some(path) = ca_file {
            builder = builder.tls_config(Arc::new(tls_with_extra_roots(path)?));
        }
        Ok(HttpClient {
            agent: builder.build(),
        })
    }
}

fn tls_with_extra_roots(path: &Path) -> Result<rustls::ClientConfig, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut added = 0;
    for cert in
        CertificateDer::pem_file_iter(path).map_err(|e| format!("{}: {e}", path.display()))?
    {
        let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        added += 1;
    }
    if added == 0 {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl SyncHttpClient for HttpClient {
    type Error = HttpError;

    fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let mut req = self
            .agent
            .request(request.method().as_str(), &request.uri().to_string());
        for (name, value) in request.headers() {
            let value = value
                .to_str()
                .map_err(|_| HttpError::Transport(format!("header {name} is not text")))?;
            req = req.set(name.as_str(), value);
        }
        let result = if request.body().is_empty() && request.method() == http::Method::GET {
            req.call()
        } else {
            req.send_bytes(request.body())
        };
        let response = match result {
            Ok(r) => r,
            // A 4xx/5xx is an answer, not a transport failure: oauth2 reads
            // the error JSON in it.
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(HttpError::Transport(e.to_string())),
        };
        let mut builder = http::Response::builder().status(response.status());
        for name in response.headers_names() {
            if let Some(v) = response.header(&name) {
                if let Ok(v) = HeaderValue::from_str(v) {
                    builder = builder.header(name.as_str(), v);
                }
            }
        }
        let mut body = Vec::new();
        response
            .into_reader()
            .take(MAX_BODY + 1)
            .read_to_end(&mut body)?;
        if body.len() as u64 > MAX_BODY {
            return Err(HttpError::TooLarge);
        }
        Ok(builder.body(body)?)
    }
}
