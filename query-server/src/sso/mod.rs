//! Prosecutors' sign-in through the Ministry of Justice single sign-on: an
//! OpenID Connect relying party (authorization code flow, PKCE S256), built
//! on the `openidconnect` crate.
//!
//! `Sso` owns everything between "sign in with MOJ" and a verified
//! `Identity`: the provider's metadata and keys (discovered, cached,
//! refreshed on a schedule and when a token names a key not seen yet), the
//! authorisation URL, the browser-bound flow (`flow`: a sealed cookie, used
//! once), the code exchange, the ID token's checks (signature against the
//! provider's keys, issuer, audience, expiry, nonce), the claims (the MOJ
//! account from `sso.account_claim`, `sso.required_claims`, a verified
//! e-mail) and the provider's logout URL. It makes no session and reads no
//! snapshot: the caller maps `Identity::account` to `prosecutors.account`
//! (refusing an unknown one with `SsoError::UnknownAccount`) and signs the
//! browser in.
//!
//! Every method that may talk to the provider blocks (ureq, 10 s timeout):
//! call them on the blocking pool (`tokio::task::spawn_blocking`).

pub mod config;
mod error;
pub mod flow;
mod http;

#[cfg(test)]
mod provider_harness;
#[cfg(test)]
mod tests;

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreSubjectIdentifierType, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::url::Url;
use openidconnect::{
    AccessToken, AdditionalClaims, AdditionalProviderMetadata, AuthorizationCode,
    ClaimsVerificationError, Client, ClientId, ClientSecret, CsrfToken, DiscoveryError,
    EmptyExtraTokenFields, EndSessionUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdToken,
    IdTokenClaims, IdTokenFields, IdTokenVerifier, IssuerUrl, JsonWebKeySet, JwsSigningAlgorithm,
    LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, ProviderMetadata, RedirectUrl, RequestTokenError, Scope,
    SignatureVerificationError, StandardErrorResponse, StandardTokenResponse, SubjectIdentifier,
    TokenResponse as _,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use config::{SsoConfig, SsoSettings, CALLBACK_PATH};
pub use error::SsoError;
pub use flow::{safe_return_path, FLOW_SECONDS};
use flow::{Consumed, Flow, Purpose, Unsealed};
use http::HttpClient;

/// The base name of the flow cookie (`__Host-` prefixed over HTTPS, like
/// every cookie of the site). It lives `FLOW_SECONDS`.
pub const FLOW_COOKIE: &str = "sso_flow";

/// Clocks of the provider and of this server may disagree this much.
const CLOCK_SKEW: chrono::Duration = chrono::Duration::seconds(60);

/// At most one key-set fetch for an unknown `kid` this often: a stream of
/// forged tokens with made-up key ids must not become a stream of requests
/// to the provider.
const KEY_REFRESH_EVERY: Duration = Duration::from_secs(30);

/// After a failed fetch of the provider's metadata by a request, no request
/// asks again for this long: sign-ins use what is cached, or are
/// unavailable, at once (the refresher thread keeps its own schedule).
const RETRY_DISCOVERY: Duration = Duration::from_secs(10);

/// The Retry-After of a sign-on refused for the provider (503): the pause
/// above.
pub const RETRY_AFTER: u64 = RETRY_DISCOVERY.as_secs();

/// How many calls to the provider's token and userinfo endpoints may be
/// under way at once.
pub(crate) const MAX_PROVIDER_CALLS: usize = 4;

/// How long a sign-in waits for another request's first fetch of the
/// metadata, when nothing is cached yet.
const FIRST_FETCH_WAIT: Duration = Duration::from_secs(3);

/// Claims beyond the standard ones, whatever the provider sends (the account
/// and required claims are named by configuration, not by type).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OtherClaims(Map<String, Value>);
impl AdditionalClaims for OtherClaims {}

/// Discovery fields `openidconnect` leaves to extensions: RP-initiated
/// logout, and RFC 9207's `iss` in the authorisation response.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExtraMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end_session_endpoint: Option<EndSessionUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authorization_response_iss_parameter_supported: Option<bool>,
}
impl AdditionalProviderMetadata for ExtraMetadata {}

type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

type Token = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Claims = IdTokenClaims<OtherClaims, CoreGenderClaim>;
type TokenResponse = StandardTokenResponse<
    IdTokenFields<
        OtherClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;
type OidcClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A prosecutor as the provider vouches for them.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The MOJ account (`sso.account_claim`), a well-formed 檢察官帳號.
    pub account: String,
    /// The provider's `sub`.
    pub subject: String,
    /// `email`, when the provider says it is verified.
    pub email_verified: Option<String>,
    /// Whether the claims said anything of an address (`email` or
    /// `email_verified`): an app may not have asked for it.
    pub email_given: bool,
    /// Every claim of the ID token, and of the userinfo response where the
    /// ID token lacked one.
    pub claims: Map<String, Value>,
    /// The ID token as received: keep it for `logout_url`'s hint.
    pub id_token: String,
}

/// A finished web sign-in.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub identity: Identity,
    /// A path on this site (never another origin).
    pub return_to: String,
}

/// A started web sign-in: send the browser to `redirect`, with the flow
/// cookie set (HttpOnly, SameSite=Lax: the callback is a top-level GET
/// from the provider's site), for `FLOW_SECONDS`.
#[derive(Debug, Clone)]
pub struct Begin {
    pub redirect: Url,
    pub flow_cookie: String,
}

/// For a native app (RFC 8252): put `nonce` in the app's own authorisation
/// request, and hand back `ticket` with the ID token.
#[derive(Debug, Clone, Serialize)]
pub struct NativeNonce {
    pub nonce: String,
    pub ticket: String,
    pub expires_in: i64,
}

/// The callback's query, as the provider sent it.
#[derive(Debug, Clone, Default)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl Callback {
    /// From the raw query string (`code=…&state=…&iss=…`).
    pub fn from_query(query: &str) -> Callback {
        let mut c = Callback::default();
        for (k, v) in openidconnect::url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match &*k {
                "code" => &mut c.code,
                "state" => &mut c.state,
                "iss" => &mut c.iss,
                "error" => &mut c.error,
                "error_description" => &mut c.error_description,
                _ => continue,
            };
            // A repeated parameter is a malformed response: keep the first,
            // the state check decides.
            if slot.is_none() {
                *slot = Some(v.into_owned());
            }
        }
        c
    }
}

/// The provider as last discovered.
struct Discovered {
    metadata: Metadata,
    at: Instant,
}

/// The relying party. One per server; shared by every request.
pub struct Sso {
    settings: SsoSettings,
    key: Vec<u8>,
    issuer: IssuerUrl,
    http: HttpClient,
    discovered: RwLock<Option<Arc<Discovered>>>,
    last_key_fetch: Mutex<Option<Instant>>,
    key_refresh_every: Duration,
    consumed: Consumed,
    /// Fetches of the key set, discovery included (metrics, tests).
    key_fetches: AtomicU64,
    /// Held by the one request that fetches the metadata; with when a
    /// request's fetch last failed.
    fetching: Mutex<Option<Instant>>,
    /// Calls to the token and userinfo endpoints under way, and when one
    /// last got no answer (`provider_slot`).
    calls: AtomicUsize,
    call_failed_at: Mutex<Option<Instant>>,
    /// Answers to exchange (a web callback's code, an app's ID token) per
    /// client address (`may_exchange`).
    exchanges: crate::rate::Limiter,
}

/// Answers from one client address whose exchange asks the provider: so
/// many at once, then so many a minute (`Sso::may_exchange`). An office
/// behind one address signing in at once passes; a forger's loop does not.
pub const EXCHANGE_BURST: u32 = 30;
pub const EXCHANGES_PER_MINUTE: u32 = 10;

/// A call to the provider, counted while it is under way
/// (`Sso::provider_slot`).
struct Slot<'a> {
    calls: &'a AtomicUsize,
    failed_at: &'a Mutex<Option<Instant>>,
}

impl Slot<'_> {
    /// Makes the call. One that got no answer (`SsoError::Unavailable`:
    /// the connection failed or timed out; an answer that is an error is
    /// another refusal) pauses everyone's for `RETRY_DISCOVERY`.
    fn call<T>(&self, call: impl FnOnce() -> Result<T, SsoError>) -> Result<T, SsoError> {
        let result = call();
        if let Err(SsoError::Unavailable(_)) = &result {
            *self.failed_at.lock().expect("sso calls") = Some(Instant::now());
        }
        result
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.calls.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Sso {
    /// `key` is the data directory's key (`store::secret`): it seals flows,
    /// so every process that shares the directory can finish a flow. Talks
    /// to nobody: the provider is discovered on first use.
    pub fn new(settings: SsoSettings, key: &[u8]) -> Result<Sso, String> {
        if settings.account_claim != "sub" && settings.required_claims.is_empty() {
            tracing::warn!(
                "sso.required_claims is empty and the account comes from the claim `{}`, not \
                 `sub`: any identity the provider gives that claim may sign in as that \
                 prosecutor (only the subject an account first signed in with is let in \
                 again); require what marks a prosecutor, e.g. role=prosecutor",
                settings.account_claim
            );
        }
        let http = HttpClient::new(settings.ca_file.as_deref())?;
        let issuer = IssuerUrl::new(settings.issuer.clone()).map_err(|e| e.to_string())?;
        Ok(Sso {
            settings,
            key: key.to_vec(),
            issuer,
            http,
            discovered: RwLock::new(None),
            last_key_fetch: Mutex::new(None),
            key_refresh_every: KEY_REFRESH_EVERY,
            consumed: Consumed::default(),
            key_fetches: AtomicU64::new(0),
            fetching: Mutex::new(None),
            calls: AtomicUsize::new(0),
            call_failed_at: Mutex::new(None),
            exchanges: crate::rate::Limiter::new(
                crate::rate::Rate::per_minute(EXCHANGE_BURST, EXCHANGES_PER_MINUTE),
                10_000,
            ),
        })
    }

    /// Keeps the flows already finished in the accounts database behind
    /// `conn` (shared by every process) rather than in this process alone.
    pub fn with_shared_flows(mut self, conn: rusqlite::Connection) -> Sso {
        self.consumed = Consumed::shared(conn);
        self
    }

    /// Whether `ip` may have an answer exchanged with the provider now (a
    /// callback's code, an app's ID token: anyone can send one, made up,
    /// and each would call the Ministry's token endpoint with cpor's
    /// secret): `Err(seconds to wait)` past [`EXCHANGE_BURST`] and
    /// [`EXCHANGES_PER_MINUTE`], in this process. Asked before anything is
    /// used up, so a sign-in refused here can be finished once allowed.
    pub fn may_exchange(&self, ip: std::net::IpAddr) -> Result<(), u64> {
        self.exchanges
            .take(ip, Instant::now())
            .map_err(|r| r.retry_after)
    }

    pub fn settings(&self) -> &SsoSettings {
        &self.settings
    }

    /// The issuer's origin (`https://sso.moj.example`), for the site's
    /// Content-Security-Policy.
    pub fn origin(&self) -> String {
        self.issuer.url().origin().ascii_serialization()
    }

    /// Fetches the discovery document and the key set now.
    pub fn refresh(&self) -> Result<(), SsoError> {
        let metadata = Metadata::discover(&self.issuer, &self.http).map_err(discovery_error)?;
        self.key_fetches.fetch_add(1, Ordering::Relaxed);
        *self.discovered.write().expect("sso metadata") = Some(Arc::new(Discovered {
            metadata,
            at: Instant::now(),
        }));
        Ok(())
    }

    /// The provider: cached, fetched when absent, refreshed when older than
    /// `discovery_refresh` (a failed refresh keeps the old one, logged).
    /// One request at a time fetches, and none within `RETRY_DISCOVERY` of
    /// a failed fetch: the others take what is cached, or are unavailable,
    /// at once (with nothing cached, after waiting up to
    /// `FIRST_FETCH_WAIT` for the fetch under way). A provider that is down
    /// or hangs then costs one blocking thread, not one per sign-in (those
    /// threads are shared with applicants' logins).
    fn provider(&self) -> Result<Arc<Discovered>, SsoError> {
        let fresh = |d: &Arc<Discovered>| d.at.elapsed() < self.settings.discovery_refresh;
        let cached = self.current();
        if let Some(d) = cached.as_ref().filter(|d| fresh(d)) {
            return Ok(Arc::clone(d));
        }
        let failed = match self.fetching.try_lock() {
            Ok(mut failed_at) => {
                if failed_at.is_some_and(|t| t.elapsed() < RETRY_DISCOVERY) {
                    Some(SsoError::Unavailable(
                        "the provider did not answer a moment ago".into(),
                    ))
                } else if self.current().is_some_and(|d| fresh(&d)) {
                    // (another request fetched it just now)
                    None
                } else {
                    match self.refresh() {
                        Ok(()) => {
                            *failed_at = None;
                            None
                        }
                        Err(e) => {
                            *failed_at = Some(Instant::now());
                            if cached.is_some() {
                                tracing::warn!(
                                    "sso: refreshing the provider's metadata failed, keeping the old: {e}"
                                );
                            }
                            Some(e)
                        }
                    }
                }
            }
            Err(std::sync::TryLockError::WouldBlock) if cached.is_none() => {
                // Nothing to use meanwhile (a process just started): wait a
                // little for that fetch, rather than refuse the sign-in.
                let until = Instant::now() + FIRST_FETCH_WAIT;
                while self.current().is_none() && Instant::now() < until {
                    match self.fetching.try_lock() {
                        // (that fetch is over, and failed)
                        Ok(_) | Err(std::sync::TryLockError::Poisoned(_)) => break,
                        Err(std::sync::TryLockError::WouldBlock) => {
                            std::thread::sleep(Duration::from_millis(20))
                        }
                    }
                }
                Some(SsoError::Unavailable(
                    "the provider's metadata is being fetched".into(),
                ))
            }
            Err(std::sync::TryLockError::WouldBlock) => Some(SsoError::Unavailable(
                "the provider's metadata is being fetched".into(),
            )),
            Err(std::sync::TryLockError::Poisoned(_)) => {
                Some(SsoError::Unavailable("sso metadata".into()))
            }
        };
        match (self.current(), failed) {
            (Some(d), _) => Ok(d),
            (None, Some(e)) => Err(e),
            (None, None) => Err(SsoError::Unavailable("no metadata".into())),
        }
    }

    fn current(&self) -> Option<Arc<Discovered>> {
        self.discovered.read().expect("sso metadata").clone()
    }

    /// Refreshes the provider's metadata every `discovery_refresh`, on a
    /// thread of its own.
    pub fn spawn_refresher(self: &Arc<Self>) {
        let sso = Arc::clone(self);
        std::thread::Builder::new()
            .name("sso-refresh".into())
            .spawn(move || loop {
                if let Err(e) = sso.refresh() {
                    tracing::warn!("sso: refreshing the provider's metadata: {e}");
                }
                sso.consumed.sweep(Utc::now().timestamp());
                std::thread::sleep(sso.settings.discovery_refresh);
            })
            .expect("thread");
    }

    /// The key set fetched again because a token named a key we do not
    /// have: `None` if one was fetched too recently.
    fn refetch_keys(&self, d: &Discovered) -> Result<Option<Arc<Discovered>>, SsoError> {
        {
            let mut last = self.last_key_fetch.lock().expect("sso key fetch");
            if last.is_some_and(|t| t.elapsed() < self.key_refresh_every) {
                return Ok(None);
            }
            *last = Some(Instant::now());
        }
        let jwks = JsonWebKeySet::fetch(d.metadata.jwks_uri(), &self.http)
            .map_err(|e| SsoError::Unavailable(format!("fetching the key set: {e}")))?;
        self.key_fetches.fetch_add(1, Ordering::Relaxed);
        tracing::info!("sso: fetched the provider's keys again (a token named an unknown key)");
        let fresh = Arc::new(Discovered {
            metadata: d.metadata.clone().set_jwks(jwks),
            at: d.at,
        });
        *self.discovered.write().expect("sso metadata") = Some(Arc::clone(&fresh));
        Ok(Some(fresh))
    }

    fn client(&self, d: &Discovered) -> OidcClient {
        OidcClient::from_provider_metadata(
            d.metadata.clone(),
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::from_url(self.settings.redirect_url.clone()))
    }

    /// A place for one call to the provider's token or userinfo endpoint,
    /// made on a blocking thread the applicants' logins share, by anyone's
    /// callback: at most `MAX_PROVIDER_CALLS` at once, the others refused
    /// at once; and none for `RETRY_DISCOVERY` after one got no answer (the
    /// provider down or hung), so that a flood of callbacks neither hammers
    /// the provider nor holds the threads. Taken before a flow or ticket is
    /// used up, so that a sign-in refused here can be finished again.
    fn provider_slot(&self) -> Result<Slot<'_>, SsoError> {
        let failed_at = *self.call_failed_at.lock().expect("sso calls");
        if failed_at.is_some_and(|t| t.elapsed() < RETRY_DISCOVERY) {
            return Err(SsoError::Unavailable(
                "the provider did not answer a moment ago".into(),
            ));
        }
        let under_way = self.calls.fetch_add(1, Ordering::SeqCst);
        // (counted from here: dropped, refused or not, it counts no more)
        let slot = Slot {
            calls: &self.calls,
            failed_at: &self.call_failed_at,
        };
        if under_way >= MAX_PROVIDER_CALLS {
            return Err(SsoError::Unavailable("too many sign-ins at once".into()));
        }
        Ok(slot)
    }

    /// Starts a web sign-in that will come back to `return_to` (a path on
    /// this site; anything else becomes `/`).
    pub fn begin(&self, return_to: &str) -> Result<Begin, SsoError> {
        self.start(return_to, false)
    }

    /// Where a web sign-in asked for at `host` (the request's `Host`) must
    /// begin instead, if anywhere: `/sso/login` at the callback's host name,
    /// with `query` and `moved=1`. The flow cookie belongs to the host name
    /// it is set at, and the callback comes to the callback's: begun at
    /// another name of the site (127.0.0.1 for localhost, www. for the bare
    /// name), it would come back without it and be refused. Ports do not
    /// scope cookies; a request already moved once is not moved again (a
    /// proxy that rewrote `Host` could otherwise make it loop).
    pub fn login_elsewhere(&self, host: Option<&str>, query: &str) -> Option<Url> {
        let callback = &self.settings.redirect_url;
        let asked = Url::parse(&format!("http://{}/", host?.trim())).ok()?;
        let (asked, wanted) = (asked.host_str()?, callback.host_str()?);
        let moved = query.split('&').any(|p| p == "moved=1");
        if asked.eq_ignore_ascii_case(wanted) || moved {
            return None;
        }
        let mut to = callback.join("login").ok()?;
        to.set_query(Some(&if query.is_empty() {
            "moved=1".to_string()
        } else {
            format!("{query}&moved=1")
        }));
        Some(to)
    }

    /// [`begin`](Self::begin), the provider asked to have the person sign
    /// in again (`prompt=login`) instead of reusing its own session: after
    /// a refused account, to sign in with another.
    pub fn begin_asking_who(&self, return_to: &str) -> Result<Begin, SsoError> {
        self.start(return_to, true)
    }

    fn start(&self, return_to: &str, ask_who: bool) -> Result<Begin, SsoError> {
        let d = self.provider()?;
        let flow = Flow::new(return_to, Utc::now().timestamp())
            .map_err(|e| SsoError::Unavailable(e.to_string()))?;
        let verifier = PkceCodeVerifier::new(flow.pkce_verifier(&self.key));
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        let (state, nonce) = (flow.state(&self.key), flow.nonce(&self.key));
        let client = self.client(&d);
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .add_scopes(self.settings.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge);
        if ask_who {
            request = request.add_prompt(CoreAuthPrompt::Login);
        }
        let (url, _, _) = request.url();
        Ok(Begin {
            redirect: url,
            flow_cookie: flow.seal(&self.key, Purpose::Web),
        })
    }

    /// Finishes a web sign-in: the callback's query and this browser's flow
    /// cookie. Whatever the outcome, the caller clears the flow cookie.
    pub fn finish(
        &self,
        callback: &Callback,
        flow_cookie: Option<&str>,
    ) -> Result<SignIn, SsoError> {
        let now = Utc::now().timestamp();
        let sealed = flow_cookie.ok_or(SsoError::NoFlow("no flow cookie"))?;
        let flow = Flow::open(&self.key, Purpose::Web, sealed, now).map_err(|e| match e {
            Unsealed::Forged => SsoError::NoFlow("flow cookie forged or damaged"),
            Unsealed::Expired => SsoError::NoFlow("flow cookie expired"),
        })?;
        let state = callback.state.as_deref().unwrap_or("");
        if !ct_eq(state, &flow.state(&self.key)) {
            return Err(SsoError::StateMismatch);
        }
        let d = self.provider()?;
        // RFC 9207: a provider that says it sends `iss` must, and an `iss`
        // sent must be ours (a mix-up with another provider otherwise).
        let iss_promised = d
            .metadata
            .additional_metadata()
            .authorization_response_iss_parameter_supported
            == Some(true);
        match &callback.iss {
            Some(iss) if iss != self.issuer.as_str() => {
                return Err(SsoError::WrongIssuer(format!("callback iss {iss}")))
            }
            None if iss_promised => {
                return Err(SsoError::WrongIssuer("callback without iss".into()))
            }
            _ => {}
        }
        if let Some(error) = &callback.error {
            return Err(SsoError::Denied {
                error: error.clone(),
                description: callback.error_description.clone().unwrap_or_default(),
            });
        }
        let code = callback
            .code
            .clone()
            .ok_or_else(|| SsoError::Exchange("callback without code".into()))?;
        let slot = self.provider_slot()?;
        // Once, before anything is exchanged: a replayed callback (or the
        // same authorisation request answered twice) stops here.
        match self.consumed.consume(&flow, now) {
            Ok(true) => {}
            Ok(false) => return Err(SsoError::Replayed),
            Err(()) => return Err(SsoError::Unavailable("too many sign-ins at once".into())),
        }
        let client = self.client(&d);
        let response = slot.call(|| {
            client
                .exchange_code(AuthorizationCode::new(code))
                .map_err(|e| SsoError::Unavailable(e.to_string()))?
                .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier(&self.key)))
                .request(&self.http)
                .map_err(exchange_error)
        })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| SsoError::InvalidToken("token response without id_token".into()))?;
        let nonce = Nonce::new(flow.nonce(&self.key));
        let client_id = self.settings.client_id.clone();
        let claims = self.verify(id_token, &client_id, &nonce, d)?;
        let identity = self.identity(
            id_token,
            claims,
            Some(response.access_token().clone()),
            &slot,
        )?;
        Ok(SignIn {
            identity,
            return_to: flow.return_to,
        })
    }

    /// A nonce for a native app's own code flow, and the sealed ticket that
    /// proves we issued it (single use, `FLOW_SECONDS`).
    pub fn native_nonce(&self) -> Result<NativeNonce, SsoError> {
        if self.settings.app_client_id.is_none() {
            return Err(SsoError::NativeDisabled);
        }
        let flow = Flow::new("/", Utc::now().timestamp())
            .map_err(|e| SsoError::Unavailable(e.to_string()))?;
        Ok(NativeNonce {
            nonce: flow.nonce(&self.key),
            ticket: flow.seal(&self.key, Purpose::Native),
            expires_in: FLOW_SECONDS,
        })
    }

    /// A native app's ID token (audience `sso.app_client_id`, nonce from
    /// `native_nonce`) for an identity; `access_token`, the app's, lets the
    /// userinfo endpoint supply claims the ID token lacks.
    pub fn exchange_native(
        &self,
        id_token: &str,
        ticket: &str,
        access_token: Option<&str>,
    ) -> Result<Identity, SsoError> {
        let app = self
            .settings
            .app_client_id
            .clone()
            .ok_or(SsoError::NativeDisabled)?;
        let now = Utc::now().timestamp();
        let flow = Flow::open(&self.key, Purpose::Native, ticket, now).map_err(|e| match e {
            Unsealed::Forged => SsoError::NoFlow("ticket forged or damaged"),
            Unsealed::Expired => SsoError::NoFlow("ticket expired"),
        })?;
        let token = Token::from_str(id_token)
            .map_err(|e| SsoError::InvalidToken(format!("not an ID token: {e}")))?;
        let d = self.provider()?;
        let nonce = Nonce::new(flow.nonce(&self.key));
        let claims = self.verify(&token, &app, &nonce, d)?;
        let slot = self.provider_slot()?;
        match self.consumed.consume(&flow, now) {
            Ok(true) => {}
            Ok(false) => return Err(SsoError::Replayed),
            Err(()) => return Err(SsoError::Unavailable("too many sign-ins at once".into())),
        }
        self.identity(
            &token,
            claims,
            access_token.map(|t| AccessToken::new(t.to_string())),
            &slot,
        )
    }

    /// Checks an ID token for `audience` against the provider's keys,
    /// fetching them again once if the token names a key we do not have.
    fn verify(
        &self,
        token: &Token,
        audience: &str,
        nonce: &Nonce,
        d: Arc<Discovered>,
    ) -> Result<Claims, SsoError> {
        let check = |d: &Discovered| {
            let verifier = self.verifier(d, audience);
            token.claims(&verifier, nonce).cloned()
        };
        match check(&d) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => match self.refetch_keys(&d)? {
                Some(fresh) => check(&fresh).map_err(claims_error),
                None => Err(SsoError::BadSignature(
                    "no published key matches (keys fetched moments ago)".into(),
                )),
            },
            other => other.map_err(claims_error),
        }
    }

    fn verifier<'a>(
        &self,
        d: &'a Discovered,
        audience: &str,
    ) -> IdTokenVerifier<'a, CoreJsonWebKey> {
        // Asymmetric signatures only: an HMAC keyed with the client secret
        // would be the secret's proof, not the provider's.
        let mut algs: Vec<CoreJwsSigningAlgorithm> = d
            .metadata
            .id_token_signing_alg_values_supported()
            .iter()
            .filter(|a| !a.uses_shared_secret())
            .cloned()
            .collect();
        if algs.is_empty() {
            algs.push(CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256);
        }
        IdTokenVerifier::new_public_client(
            ClientId::new(audience.to_string()),
            self.issuer.clone(),
            d.metadata.jwks().clone(),
        )
        .set_allowed_algs(algs)
        // Expiry with the skew allowed: "now" is a minute earlier.
        .set_time_fn(|| Utc::now() - CLOCK_SKEW)
        // Issued for this flow: not in the future, not before the flow
        // could have started.
        .set_issue_time_verifier_fn(|iat| {
            let now = Utc::now();
            if iat > now + CLOCK_SKEW {
                Err(format!("issued in the future ({iat})"))
            } else if iat < now - chrono::Duration::seconds(FLOW_SECONDS) - CLOCK_SKEW {
                Err(format!("issued too long ago ({iat})"))
            } else {
                Ok(())
            }
        })
    }

    /// The claims of a verified ID token (plus userinfo for what it lacks)
    /// checked against the configuration.
    fn identity(
        &self,
        token: &Token,
        claims: Claims,
        access_token: Option<AccessToken>,
        slot: &Slot<'_>,
    ) -> Result<Identity, SsoError> {
        let subject = claims.subject().to_string();
        let mut all = match serde_json::to_value(&claims) {
            Ok(Value::Object(m)) => m,
            _ => return Err(SsoError::InvalidToken("claims are not an object".into())),
        };
        let s = &self.settings;
        let wanted = std::iter::once(s.account_claim.as_str())
            .chain(s.required_claims.keys().map(String::as_str))
            .chain(["email", "email_verified"]);
        let lacking = wanted.clone().any(|c| !all.contains_key(c));
        if let (true, Some(access_token)) = (lacking, access_token) {
            let d = self.provider()?;
            if d.metadata.userinfo_endpoint().is_some() {
                let client = self.client(&d);
                let info: openidconnect::UserInfoClaims<OtherClaims, CoreGenderClaim> =
                    slot.call(|| {
                        client
                            .user_info(access_token, Some(SubjectIdentifier::new(subject.clone())))
                            .map_err(|e| SsoError::Unavailable(e.to_string()))?
                            .request(&self.http)
                            .map_err(|e| match e {
                                // no answer: the provider is away
                                openidconnect::UserInfoError::Request(e) => {
                                    SsoError::Unavailable(format!("userinfo: {e}"))
                                }
                                // an answer, an error or not what was asked
                                other => SsoError::Exchange(format!("userinfo: {other}")),
                            })
                    })?;
                if let Ok(Value::Object(info)) = serde_json::to_value(&info) {
                    for (k, v) in info {
                        all.entry(k).or_insert(v);
                    }
                }
            }
        }
        let account = match all.get(&s.account_claim) {
            None | Some(Value::Null) => {
                return Err(SsoError::MissingClaim(s.account_claim.clone()))
            }
            Some(Value::String(a)) if schemas::contract().is_prosecutor_account(a) => a.clone(),
            Some(other) => {
                return Err(SsoError::InvalidAccount {
                    claim: s.account_claim.clone(),
                    value: match other {
                        Value::String(v) => v.clone(),
                        v => v.to_string(),
                    },
                })
            }
        };
        for (claim, expected) in &s.required_claims {
            match all.get(claim) {
                None | Some(Value::Null) => return Err(SsoError::MissingClaim(claim.clone())),
                Some(v) if claim_has(v, expected) => {}
                Some(_) => return Err(SsoError::ClaimMismatch(claim.clone())),
            }
        }
        let verified = matches!(all.get("email_verified"), Some(Value::Bool(true)))
            || matches!(all.get("email_verified"), Some(Value::String(v)) if v == "true");
        let email_verified = all
            .get("email")
            .and_then(Value::as_str)
            .filter(|_| verified)
            .map(str::to_string);
        let email_given = all.contains_key("email") || all.contains_key("email_verified");
        Ok(Identity {
            account,
            subject,
            email_verified,
            email_given,
            claims: all,
            id_token: token.to_string(),
        })
    }

    /// Where to send the browser to sign out at the provider too (RP-initiated
    /// logout), when the provider advertises an `end_session_endpoint`.
    /// Uses the metadata already fetched: never blocks.
    pub fn logout_url(&self, id_token_hint: Option<&str>) -> Option<Url> {
        let d = self.current()?;
        let endpoint = d
            .metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        let mut req = LogoutRequest::from(endpoint)
            .set_client_id(ClientId::new(self.settings.client_id.clone()))
            .set_post_logout_redirect_uri(PostLogoutRedirectUrl::from_url(
                self.settings.post_logout_redirect_url.clone(),
            ));
        if let Some(hint) = id_token_hint.and_then(|t| Token::from_str(t).ok()) {
            req = req.set_id_token_hint(&hint);
        }
        Some(req.http_get_url())
    }

    /// How many times the key set was fetched (discovery included).
    pub fn key_fetches(&self) -> u64 {
        self.key_fetches.load(Ordering::Relaxed)
    }
}

/// A required claim's value: the string itself, one of an array's strings
/// (a `roles` list), or a boolean or number written as text.
fn claim_has(v: &Value, expected: &str) -> bool {
    match v {
        Value::String(s) => s == expected,
        Value::Array(items) => items.iter().any(|i| i.as_str() == Some(expected)),
        Value::Bool(b) => b.to_string() == expected,
        Value::Number(n) => n.to_string() == expected,
        _ => false,
    }
}

fn ct_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn discovery_error<E: std::error::Error>(e: DiscoveryError<E>) -> SsoError {
    match e {
        // openidconnect checks the document's `issuer` against ours.
        DiscoveryError::Validation(v) if v.contains("issuer") => SsoError::WrongIssuer(v),
        other => SsoError::Unavailable(format!("discovery: {other}")),
    }
}

fn exchange_error<RE: std::error::Error + 'static>(
    e: RequestTokenError<RE, StandardErrorResponse<CoreErrorResponseType>>,
) -> SsoError {
    match e {
        RequestTokenError::ServerResponse(r) => SsoError::Exchange(r.to_string()),
        RequestTokenError::Request(e) => SsoError::Unavailable(format!("token endpoint: {e}")),
        other => SsoError::Exchange(other.to_string()),
    }
}

fn claims_error(e: ClaimsVerificationError) -> SsoError {
    match e {
        ClaimsVerificationError::InvalidIssuer(m) => SsoError::WrongIssuer(m),
        ClaimsVerificationError::InvalidAudience(m) => SsoError::WrongAudience(m),
        ClaimsVerificationError::Expired(m) => SsoError::Expired(m),
        ClaimsVerificationError::InvalidNonce(m) => SsoError::NonceMismatch(m),
        ClaimsVerificationError::SignatureVerification(s) => SsoError::BadSignature(s.to_string()),
        other => SsoError::InvalidToken(other.to_string()),
    }
}
