//! Sign-in through OpenID Connect providers: authorization code flow with PKCE (S256), a random state bound to the
//! browser's session, endpoints from each provider's discovery document, and the identity from its userinfo
//! endpoint (fetched with the access token the token endpoint gave over TLS, so no ID token needs verifying).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use app::auth::model::SignInError;
use app::auth::ssr::VerifiedIdentity;
use app::email::EmailAddress;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    Scope, TokenResponse as _, TokenUrl,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::OidcProviderConfig;

/// How long a discovery document is trusted before it is fetched again.
pub const DISCOVERY_TTL: Duration = Duration::from_secs(60 * 60);
/// How long any request to a provider may take.
pub const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a started sign-in may take at the provider.
pub const FLOW_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// Why a provider sign-in failed. The visitor sees [`OidcError::sign_in_error`], never the cause.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// No provider has this id.
    #[error("unknown provider {0:?}")]
    UnknownProvider(String),
    /// The provider cannot be reached, or answered with an HTTP error.
    #[error("cannot reach the provider")]
    Unreachable(#[source] reqwest::Error),
    /// The discovery document is missing something or names another issuer.
    #[error("the discovery document is unusable: {0}")]
    Discovery(String),
    /// The provider sent the visitor back with an error (they cancelled, or it refused).
    #[error("the provider answered {error}")]
    Refused {
        /// The `error` parameter.
        error: String,
    },
    /// No sign-in was started in this browser, or its state does not match: a forged or replayed callback.
    #[error("the callback does not match a sign-in started in this browser")]
    StateMismatch,
    /// The started sign-in is too old.
    #[error("the sign-in took too long")]
    Expired,
    /// The token endpoint refused the code.
    #[error("the code exchange failed: {0}")]
    Exchange(String),
    /// The userinfo endpoint failed or sent something unusable.
    #[error("the userinfo request failed: {0}")]
    Userinfo(String),
}

impl OidcError {
    /// What the visitor is told (as a code the sign-in page turns into words), naming provider `id`.
    pub fn sign_in_error(&self, id: &str) -> SignInError {
        let provider = id.to_owned();
        match self {
            OidcError::UnknownProvider(_) => SignInError::ProviderUnknown,
            OidcError::Unreachable(_) | OidcError::Discovery(_) => SignInError::ProviderUnavailable { provider },
            OidcError::Refused { error } if error == "access_denied" => SignInError::ProviderCancelled { provider },
            OidcError::Refused { .. } | OidcError::Exchange(_) | OidcError::Userinfo(_) => {
                SignInError::ProviderFailed { provider }
            }
            OidcError::StateMismatch | OidcError::Expired => SignInError::FlowExpired,
        }
    }
}

/// A sign-in in progress, kept in the browser's (server-side) session between start and callback. `Debug` hides
/// the state and the PKCE verifier.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingFlow {
    /// Provider id.
    pub provider: String,
    /// The state sent to the provider.
    pub state: String,
    /// The PKCE verifier.
    pub verifier: String,
    /// When it started (Unix seconds).
    pub started_at: i64,
    /// The signed-in user who asked to link this provider to their account; `None` for a sign-in.
    #[serde(default)]
    pub link_user: Option<i64>,
}

impl std::fmt::Debug for PendingFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingFlow")
            .field("provider", &self.provider)
            .field("state", &"********")
            .field("verifier", &"********")
            .field("started_at", &self.started_at)
            .field("link_user", &self.link_user)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: Option<String>,
    #[serde(default)]
    code_challenge_methods_supported: Vec<String>,
}

#[derive(Debug, Clone)]
struct Endpoints {
    authorization: AuthUrl,
    token: TokenUrl,
    userinfo: Url,
}

#[derive(Debug, Deserialize)]
struct UserInfo {
    sub: String,
    email: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    email_verified: bool,
}

/// Some providers send `"true"` as a string.
fn lenient_bool<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    Ok(match Option::<Flag>::deserialize(deserializer)? {
        Some(Flag::Bool(flag)) => flag,
        Some(Flag::Text(text)) => text == "true",
        None => false,
    })
}

#[derive(Debug)]
struct Provider {
    config: OidcProviderConfig,
    endpoints: tokio::sync::Mutex<Option<(Instant, Endpoints)>>,
}

/// The configured providers.
#[derive(Debug)]
pub struct OidcProviders {
    providers: HashMap<String, Provider>,
    http: reqwest::Client,
    base_url: String,
}

impl OidcProviders {
    /// The providers of `configs`; callbacks go to `base_url`.
    pub fn new(configs: &[OidcProviderConfig], base_url: &Url) -> Self {
        let http = reqwest::Client::builder()
            // Following redirects from a token endpoint would let it point Berth at other hosts.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .expect("the HTTP client's settings are valid");
        let providers = configs
            .iter()
            .map(|config| {
                (config.id.clone(), Provider { config: config.clone(), endpoints: tokio::sync::Mutex::new(None) })
            })
            .collect();
        Self { providers, http, base_url: base_url.as_str().trim_end_matches('/').to_owned() }
    }

    /// The display name of provider `id`, or the id itself.
    pub fn display_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.providers.get(id).map_or(id, |provider| provider.config.display_name.as_str())
    }

    fn provider(&self, id: &str) -> Result<&Provider, OidcError> {
        self.providers.get(id).ok_or_else(|| OidcError::UnknownProvider(id.to_owned()))
    }

    fn redirect_url(&self, id: &str) -> RedirectUrl {
        RedirectUrl::new(format!("{}/auth/oidc/{id}/callback", self.base_url)).expect("the base URL is a valid URL")
    }

    async fn endpoints(&self, provider: &Provider) -> Result<Endpoints, OidcError> {
        let mut cached = provider.endpoints.lock().await;
        if let Some((fetched, endpoints)) = cached.as_ref()
            && fetched.elapsed() < DISCOVERY_TTL
        {
            return Ok(endpoints.clone());
        }
        let issuer = provider.config.issuer_url.as_str().trim_end_matches('/');
        let document: Discovery = self
            .http
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(OidcError::Unreachable)?
            .json()
            .await
            .map_err(OidcError::Unreachable)?;
        if document.issuer.trim_end_matches('/') != issuer {
            return Err(OidcError::Discovery(format!("it names the issuer {:?}", document.issuer)));
        }
        if !document.code_challenge_methods_supported.is_empty()
            && !document.code_challenge_methods_supported.iter().any(|method| method == "S256")
        {
            return Err(OidcError::Discovery("it does not support PKCE with S256".into()));
        }
        let bad = |what: &str| OidcError::Discovery(format!("invalid {what}"));
        let endpoints = Endpoints {
            authorization: AuthUrl::new(document.authorization_endpoint).map_err(|_| bad("authorization_endpoint"))?,
            token: TokenUrl::new(document.token_endpoint).map_err(|_| bad("token_endpoint"))?,
            userinfo: document
                .userinfo_endpoint
                .as_deref()
                .and_then(|url| Url::parse(url).ok())
                .ok_or_else(|| bad("userinfo_endpoint"))?,
        };
        if endpoints.authorization.url().origin() != provider.config.issuer_url.origin() {
            tracing::warn!(
                provider = ?provider.config.id,
                "the authorization endpoint is not on the issuer's origin; browsers will refuse to go there from \
                 Berth's sign-in form (Content-Security-Policy form-action)"
            );
        }
        *cached = Some((Instant::now(), endpoints.clone()));
        Ok(endpoints)
    }

    /// Starts a sign-in with provider `id` (or the linking of it to the account `link_user`): the URL to send the
    /// browser to, and what to keep in its session.
    pub async fn start(&self, id: &str, link_user: Option<i64>) -> Result<(Url, PendingFlow), OidcError> {
        let provider = self.provider(id)?;
        let endpoints = self.endpoints(provider).await?;
        let client = BasicClient::new(ClientId::new(provider.config.client_id.clone()))
            .set_auth_uri(endpoints.authorization)
            .set_redirect_uri(self.redirect_url(id));
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(CsrfToken::new_random).set_pkce_challenge(challenge);
        for scope in &provider.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state) = request.url();
        let flow = PendingFlow {
            provider: id.to_owned(),
            state: state.secret().clone(),
            verifier: verifier.secret().clone(),
            started_at: chrono::Utc::now().timestamp(),
            link_user,
        };
        Ok((url, flow))
    }

    /// Finishes a sign-in: checks the callback against the flow this browser started, exchanges the code and reads
    /// the identity.
    pub async fn finish(
        &self,
        id: &str,
        flow: Option<PendingFlow>,
        callback: &CallbackParams,
    ) -> Result<VerifiedIdentity, OidcError> {
        let provider = self.provider(id)?;
        let flow = flow.ok_or(OidcError::StateMismatch)?;
        let state_matches = callback.state.as_deref().is_some_and(|state| constant_time_eq(state, &flow.state));
        if flow.provider != id || !state_matches {
            return Err(OidcError::StateMismatch);
        }
        if let Some(error) = &callback.error {
            return Err(OidcError::Refused { error: error.chars().take(64).collect() });
        }
        let age = chrono::Utc::now().timestamp() - flow.started_at;
        if age < 0 || age > i64::try_from(FLOW_LIFETIME.as_secs()).unwrap_or(i64::MAX) {
            return Err(OidcError::Expired);
        }
        let code = callback.code.clone().ok_or_else(|| OidcError::Exchange("no code in the callback".into()))?;
        let endpoints = self.endpoints(provider).await?;
        let client = BasicClient::new(ClientId::new(provider.config.client_id.clone()))
            .set_client_secret(ClientSecret::new(provider.config.client_secret.expose().to_owned()))
            .set_token_uri(endpoints.token)
            .set_redirect_uri(self.redirect_url(id));
        let token = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier))
            .request_async(&self.http)
            .await
            .map_err(|error| OidcError::Exchange(app::error::cause_chain(&error)))?;
        let info: UserInfo = self
            .http
            .get(endpoints.userinfo)
            .bearer_auth(token.access_token().secret())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|error| OidcError::Userinfo(app::error::cause_chain(&error)))?
            .json()
            .await
            .map_err(|error| OidcError::Userinfo(app::error::cause_chain(&error)))?;
        if info.sub.is_empty() || info.sub.len() > 255 {
            return Err(OidcError::Userinfo("no usable subject".into()));
        }
        // Only an address the provider vouches for, in a domain it may vouch for, may find or name an account.
        let email = info
            .email
            .filter(|_| info.email_verified)
            .and_then(|email| EmailAddress::parse(&email).ok())
            .filter(|email| may_vouch_for(&provider.config.email_domains, email));
        Ok(VerifiedIdentity {
            provider: id.to_owned(),
            issuer: provider.config.issuer_url.as_str().trim_end_matches('/').to_owned(),
            subject: info.sub,
            email,
        })
    }
}

/// Whether a provider limited to `domains` (none: any) may vouch for `email`: its domain is one of them or a
/// subdomain of one.
pub fn may_vouch_for(domains: &[String], email: &EmailAddress) -> bool {
    let Some((_, domain)) = email.as_str().rsplit_once('@') else { return false };
    domains.is_empty()
        || domains.iter().any(|allowed| {
            domain == allowed || domain.strip_suffix(allowed.as_str()).is_some_and(|rest| rest.ends_with('.'))
        })
}

/// Query of the callback. `Debug` hides the code and the state.
#[derive(Clone, Default, Deserialize)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// The state we sent.
    pub state: Option<String>,
    /// Error code, when the provider refused.
    pub error: Option<String>,
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackParams")
            .field("code", &self.code.as_ref().map(|_| "********"))
            .field("state", &self.state.as_ref().map(|_| "********"))
            .field("error", &self.error)
            .finish()
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_compare_whole() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }

    #[test]
    fn messages_name_the_provider_and_never_the_cause() {
        let error = OidcError::Exchange("invalid_grant: secret detail".into());
        let message = error.sign_in_error("haka").message(|_| Some("Haka".into()));
        assert!(message.contains("Haka") && !message.contains("secret detail"));
    }

    #[test]
    fn a_provider_vouches_only_for_its_domains() {
        let email = |text: &str| EmailAddress::parse(text).unwrap();
        let uni = vec!["uni.example".to_owned()];
        assert!(may_vouch_for(&[], &email("a@anything.example")), "no list: any domain");
        assert!(may_vouch_for(&uni, &email("a@uni.example")));
        assert!(may_vouch_for(&uni, &email("a@cs.uni.example")), "subdomains too");
        assert!(!may_vouch_for(&uni, &email("a@evil-uni.example")));
        assert!(!may_vouch_for(&uni, &email("a@uni.example.evil")));
    }

    #[test]
    fn secrets_of_a_flow_are_not_in_debug_output() {
        let flow = PendingFlow {
            provider: "p".into(),
            state: "state-secret".into(),
            verifier: "verifier-secret".into(),
            started_at: 0,
            link_user: None,
        };
        let params =
            CallbackParams { code: Some("code-secret".into()), state: Some("state-secret".into()), error: None };
        let shown = format!("{flow:?} {params:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn email_verified_may_be_a_string() {
        let info: UserInfo = serde_json::from_str(r#"{"sub":"1","email":"a@b.org","email_verified":"true"}"#).unwrap();
        assert!(info.email_verified);
        let info: UserInfo = serde_json::from_str(r#"{"sub":"1","email":"a@b.org"}"#).unwrap();
        assert!(!info.email_verified);
    }
}
