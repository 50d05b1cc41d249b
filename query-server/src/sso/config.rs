//! `[sso]`: the Ministry of Justice single sign-on, as the configuration
//! file and the `CPOR_SSO_*` variables give it, checked once at start-up.
//! An empty `issuer` turns single sign-on off, and then nothing else in the
//! section is looked at.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use mail::config::SiteUrl;
use serde::{Deserialize, Serialize};
use settings::{ConfigError, Layers, Section};
use url::Url;

/// The path of the callback (the redirect URI registered with the provider)
/// when `redirect_url` is left empty: `<mail.site_url>/sso/callback`.
pub const CALLBACK_PATH: &str = "/sso/callback";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SsoConfig {
    /// The provider's issuer identifier; its discovery document is at
    /// `<issuer>/.well-known/openid-configuration`. Empty: no single sign-on.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Where the provider sends the browser back. Empty:
    /// `<mail.site_url>/sso/callback`.
    pub redirect_url: String,
    /// Where the provider sends the browser after signing out there.
    /// Empty: `<mail.site_url>/`.
    pub post_logout_redirect_url: String,
    /// Scopes asked for besides `openid`, separated by spaces.
    pub scopes: String,
    /// The claim that carries the MOJ account, matched against
    /// 檢察官帳號 (`prosecutors.account`).
    pub account_claim: String,
    /// Claims that must be present with these values (a table, or in the
    /// environment `role=prosecutor,unit=tpd`).
    pub required_claims: RequiredClaimsRaw,
    /// The native app's client id at the provider: the app signs in there
    /// itself (RFC 8252) and exchanges its ID token for a bearer token.
    /// Empty: no native sign-in.
    pub app_client_id: String,
    /// Whether the provider gives a person one subject (`sub`) per client
    /// (pairwise, OpenID Connect Core 8), the website's and the app's
    /// apart. Off (public subjects): an account stays with the subject it
    /// first signed in with, through either client.
    pub pairwise_subjects: bool,
    /// Extra trusted root certificates (PEM) for the provider's TLS, for a
    /// provider whose certificate chains to a root the built-in list lacks.
    pub ca_file: String,
    /// How often the provider's metadata and keys are fetched again (they
    /// are also fetched when a token names a key not seen yet).
    pub discovery_refresh_seconds: u64,
}

impl Default for SsoConfig {
    fn default() -> Self {
        SsoConfig {
            issuer: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
            redirect_url: String::new(),
            post_logout_redirect_url: String::new(),
            scopes: "email".into(),
            account_claim: "sub".into(),
            required_claims: RequiredClaimsRaw::Table(BTreeMap::new()),
            app_client_id: String::new(),
            pairwise_subjects: false,
            ca_file: String::new(),
            discovery_refresh_seconds: 3600,
        }
    }
}

/// `required_claims` as written: a TOML table in the file, a string in the
/// environment (every variable is a string).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequiredClaimsRaw {
    Table(BTreeMap<String, String>),
    Text(String),
}

/// `[sso]`, validated.
#[derive(Debug, Clone)]
pub struct SsoSettings {
    /// As configured (no trailing-slash normalisation: the issuer is an
    /// identifier, compared exactly).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_url: Url,
    pub post_logout_redirect_url: Url,
    pub scopes: Vec<String>,
    pub account_claim: String,
    pub required_claims: BTreeMap<String, String>,
    pub app_client_id: Option<String>,
    pub subjects: store::accounts::prosecutors::Subjects,
    pub ca_file: Option<PathBuf>,
    pub discovery_refresh: Duration,
}

impl SsoSettings {
    /// Reads `[sso]`: `None` when no issuer is configured. `site` is
    /// `mail.site_url`, which must be https (or loopback, for tests) for
    /// the sign-on: its cookies and tokens never travel in the clear. The
    /// callback is made from it when not set, so a plain `http://` site was
    /// refused as `sso.redirect_url = ```, a key never set (the
    /// architecture review of the fifty-third session); the key to change
    /// is named.
    pub fn load(layers: &Layers, site: &SiteUrl) -> Result<Option<SsoSettings>, ConfigError> {
        let s: Section<SsoConfig> = layers.section("sso")?;
        if !s.raw.issuer.trim().is_empty() && !site.https() && !site.loopback() {
            let mail: Section<mail::config::MailConfig> = layers.section("mail")?;
            return Err(mail.invalid(
                "site_url",
                site,
                "must be https:// when sso.issuer is set (plain http only to localhost, for tests)",
            ));
        }
        SsoSettings::from_section(&s, site.as_str())
    }

    /// `[sso]` read with `site_url` already checked ([`SsoSettings::load`]).
    fn from_section(
        s: &Section<SsoConfig>,
        site_url: &str,
    ) -> Result<Option<SsoSettings>, ConfigError> {
        let c = &s.raw;
        let issuer = c.issuer.trim();
        if issuer.is_empty() {
            return Ok(None);
        }
        web_url(s, "issuer", issuer)?;
        let required = |key: &str, v: &str| {
            if v.trim().is_empty() {
                Err(s.invalid(key, v, "required when sso.issuer is set"))
            } else {
                Ok(v.trim().to_string())
            }
        };
        let client_id = required("client_id", &c.client_id)?;
        // Not trimmed: a secret is used exactly as given.
        if c.client_secret.is_empty() {
            return Err(s.invalid(
                "client_secret",
                "",
                "required when sso.issuer is set (cpor is a confidential client)",
            ));
        }
        let or_site = |v: &str, path: &str| {
            if v.trim().is_empty() {
                format!("{site_url}{path}")
            } else {
                v.trim().to_string()
            }
        };
        let redirect_url = web_url(s, "redirect_url", &or_site(&c.redirect_url, CALLBACK_PATH))?;
        if redirect_url.fragment().is_some() {
            return Err(s.invalid("redirect_url", &c.redirect_url, "must not have a #fragment"));
        }
        // cpor's own route, under a proxy's prefix at most: a sign-in begun
        // at another host name moves to the `/sso/login` beside it.
        if !redirect_url.path().ends_with(CALLBACK_PATH) {
            return Err(s.invalid(
                "redirect_url",
                &c.redirect_url,
                "must end in /sso/callback (this site's callback route)",
            ));
        }
        let post_logout_redirect_url = web_url(
            s,
            "post_logout_redirect_url",
            &or_site(&c.post_logout_redirect_url, "/"),
        )?;
        let scopes: Vec<String> = c
            .scopes
            .split_whitespace()
            .filter(|sc| *sc != "openid")
            .map(str::to_string)
            .collect();
        let account_claim = required("account_claim", &c.account_claim)?;
        let required_claims = match &c.required_claims {
            RequiredClaimsRaw::Table(t) => t.clone(),
            RequiredClaimsRaw::Text(text) => parse_pairs(text).ok_or_else(|| {
                s.invalid(
                    "required_claims",
                    text,
                    "claim=value pairs separated by commas (e.g. role=prosecutor)",
                )
            })?,
        };
        if let Some((k, _)) = required_claims.iter().find(|(k, _)| k.trim().is_empty()) {
            return Err(s.invalid("required_claims", k, "a claim name must not be empty"));
        }
        let ca_file = match c.ca_file.trim() {
            "" => None,
            path => {
                let p = PathBuf::from(path);
                if !p.is_file() {
                    return Err(s.invalid("ca_file", path, "no such file"));
                }
                Some(p)
            }
        };
        Ok(Some(SsoSettings {
            issuer: issuer.to_string(),
            client_id,
            client_secret: c.client_secret.clone(),
            redirect_url,
            post_logout_redirect_url,
            scopes,
            account_claim,
            required_claims,
            app_client_id: Some(c.app_client_id.trim().to_string()).filter(|a| !a.is_empty()),
            subjects: if c.pairwise_subjects {
                store::accounts::prosecutors::Subjects::Pairwise
            } else {
                store::accounts::prosecutors::Subjects::Public
            },
            ca_file,
            discovery_refresh: s.seconds(
                "discovery_refresh_seconds",
                c.discovery_refresh_seconds,
                60,
            )?,
        }))
    }
}

/// An absolute http(s) URL; plain http only to a loopback host (tests, a
/// laptop), since tokens and secrets travel over it.
fn web_url<T>(s: &Section<T>, key: &str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value)
        .map_err(|e| s.invalid(key, value, format!("not an absolute URL ({e})")))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if mail::config::loopback(&url) => Ok(url),
        "http" => Err(s.invalid(
            key,
            value,
            "must be https:// (plain http only to localhost, for tests)",
        )),
        _ => Err(s.invalid(key, value, "must be an https:// address")),
    }
}

/// `role=prosecutor, unit=tpd` → a table; `None` if a pair has no `=`.
fn parse_pairs(text: &str) -> Option<BTreeMap<String, String>> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(
        file: &str,
        env: &'static [(&'static str, &'static str)],
    ) -> Result<Option<SsoSettings>, String> {
        let layers = Layers::from_parts(
            Some(("t.toml".into(), file.into())),
            Box::new(move |name| {
                env.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }),
        )
        .map_err(|e| e.to_string())?;
        SsoSettings::load(&layers, &SiteUrl::parse("http://localhost:8080").unwrap())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn no_issuer_means_no_single_sign_on() {
        assert!(load("", &[]).unwrap().is_none());
        assert!(load("[sso]\nclient_id = 'x'\n", &[]).unwrap().is_none());
    }

    #[test]
    fn the_example_file_has_every_sso_key_with_its_default() {
        let text = include_str!("../../../cpor.example.toml");
        let layers = Layers::from_parts(
            Some(("cpor.example.toml".into(), text.into())),
            Box::new(|_| None),
        )
        .unwrap();
        let s: Section<SsoConfig> = layers.section("sso").unwrap();
        let d = toml::Value::try_from(SsoConfig::default()).unwrap();
        assert_eq!(toml::Value::try_from(&s.raw).unwrap(), d);
        let table: toml::Table = toml::from_str(text).unwrap();
        assert_eq!(
            table["sso"].as_table().unwrap().len(),
            d.as_table().unwrap().len()
        );
        assert!(SsoSettings::from_section(&s, "http://localhost:8080")
            .unwrap()
            .is_none());
    }

    #[test]
    fn an_issuer_needs_a_client_and_defaults_fill_the_rest() {
        let err = load("[sso]\nissuer = 'https://sso.moj.example'\n", &[]).unwrap_err();
        assert!(
            err.starts_with("sso.client_id = `` (from the built-in default): required"),
            "{err}"
        );
        let s = load(
            "[sso]\nissuer = 'https://sso.moj.example'\nclient_id = 'cpor'\nrequired_claims = { role = 'prosecutor' }\n",
            &[("CPOR_SSO_CLIENT_SECRET", "s3cret")],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            s.redirect_url.as_str(),
            "http://localhost:8080/sso/callback"
        );
        assert_eq!(
            s.post_logout_redirect_url.as_str(),
            "http://localhost:8080/"
        );
        assert_eq!(s.account_claim, "sub");
        assert_eq!(s.scopes, ["email"]);
        assert_eq!(s.required_claims["role"], "prosecutor");
        assert_eq!(s.client_secret, "s3cret");
    }

    /// The callback is this site's `/sso/callback` (behind a proxy, under
    /// a prefix at most): the provider is told it, a sign-in begun at
    /// another host name moves to `/sso/login` beside it, and any other
    /// path would come back to a page that does not exist.
    #[test]
    fn the_callback_must_be_the_sites_sso_callback() {
        let base =
            "[sso]\nissuer = 'https://sso.moj.example'\nclient_id = 'c'\nclient_secret = 's'\n";
        let err = load(
            &format!("{base}redirect_url = 'https://cpor.example/oidc/return'\n"),
            &[],
        )
        .unwrap_err();
        assert!(err.contains("must end in /sso/callback"), "{err}");
        let s = load(
            &format!("{base}redirect_url = 'https://cpor.example/cpor/sso/callback'\n"),
            &[],
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.redirect_url.path(), "/cpor/sso/callback");
    }

    #[test]
    fn required_claims_come_from_the_environment_as_pairs() {
        let s = load(
            "[sso]\nissuer = 'http://127.0.0.1:9'\nclient_id = 'c'\nclient_secret = 's'\n",
            &[("CPOR_SSO_REQUIRED_CLAIMS", "role=prosecutor, unit = tpd")],
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.required_claims.len(), 2);
        assert_eq!(s.required_claims["unit"], "tpd");
        let err = load(
            "[sso]\nissuer = 'http://127.0.0.1:9'\nclient_id = 'c'\nclient_secret = 's'\n",
            &[("CPOR_SSO_REQUIRED_CLAIMS", "prosecutor")],
        )
        .unwrap_err();
        assert!(err.starts_with("sso.required_claims = `prosecutor` (from environment variable CPOR_SSO_REQUIRED_CLAIMS)"), "{err}");
    }

    #[test]
    fn subjects_are_public_unless_the_provider_is_said_to_give_pairwise_ones() {
        use store::accounts::prosecutors::Subjects;
        let base = "[sso]\nissuer = 'http://127.0.0.1:9'\nclient_id = 'c'\nclient_secret = 's'\n";
        let subjects = |extra: &str, env: &'static [(&'static str, &'static str)]| {
            load(&format!("{base}{extra}"), env)
                .unwrap()
                .unwrap()
                .subjects
        };
        assert_eq!(subjects("", &[]), Subjects::Public);
        assert_eq!(
            subjects("pairwise_subjects = true\n", &[]),
            Subjects::Pairwise
        );
        assert_eq!(
            subjects("", &[("CPOR_SSO_PAIRWISE_SUBJECTS", "true")]),
            Subjects::Pairwise
        );
    }

    #[test]
    fn plain_http_is_for_loopback_only() {
        let err = load(
            "[sso]\nissuer = 'http://sso.moj.example'\nclient_id = 'c'\nclient_secret = 's'\n",
            &[],
        )
        .unwrap_err();
        assert!(
            err.starts_with(
                "sso.issuer = `http://sso.moj.example` (from file t.toml): must be https://"
            ),
            "{err}"
        );
        let err = load(
            "[sso]\nissuer = 'https://sso.moj.example'\nclient_id = 'c'\nclient_secret = 's'\nredirect_url = 'http://cpor.example.tw/sso/callback'\n",
            &[],
        )
        .unwrap_err();
        assert!(err.starts_with("sso.redirect_url"), "{err}");
    }
}
