//! Why a single sign-on is refused. Each kind has a message for the person
//! signing in (Traditional Chinese, never the details) and a detail for the
//! log (`Display`, never shown). The refusal page shows the message and
//! makes no session.

/// Every refusal of a sign-in.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// The provider cannot be reached, or answered nonsense.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// No flow cookie, a forged one, or one past its ten minutes: this
    /// browser did not start this sign-in (or took too long).
    #[error("no valid sign-in flow in this browser: {0}")]
    NoFlow(&'static str),
    /// The callback's `state` is not the one this browser's flow sent.
    #[error("state mismatch")]
    StateMismatch,
    /// This flow was finished before: a callback (or its nonce) replayed.
    #[error("flow already used (replayed)")]
    Replayed,
    /// The provider answered the authorisation request with an error
    /// (`access_denied` when the person cancelled).
    #[error("provider refused: {error} ({description})")]
    Denied { error: String, description: String },
    /// The discovery document, the callback's `iss` (RFC 9207) or the ID
    /// token's `iss` names another issuer than `sso.issuer`.
    #[error("wrong issuer: {0}")]
    WrongIssuer(String),
    /// The ID token is not for this client.
    #[error("wrong audience: {0}")]
    WrongAudience(String),
    /// The signature does not verify, or no published key can verify it
    /// (after fetching the keys again).
    #[error("bad signature: {0}")]
    BadSignature(String),
    #[error("expired: {0}")]
    Expired(String),
    /// The ID token's nonce is not this flow's.
    #[error("nonce mismatch: {0}")]
    NonceMismatch(String),
    /// The code could not be exchanged (already used, expired, PKCE).
    #[error("code exchange failed: {0}")]
    Exchange(String),
    /// Any other defect of the ID token.
    #[error("invalid ID token: {0}")]
    InvalidToken(String),
    /// The account claim or a required claim is absent.
    #[error("claim {0} missing")]
    MissingClaim(String),
    /// A required claim has another value (`required_claims`).
    #[error("claim {0} does not have the required value")]
    ClaimMismatch(String),
    /// The account claim's value cannot be a 檢察官帳號.
    #[error("account claim {claim} = {value:?} is not an account the export could name")]
    InvalidAccount { claim: String, value: String },
    /// The account is not in the live snapshot's `prosecutors` (checked by
    /// the caller, which holds the snapshot).
    #[error("account {0} unknown to the export")]
    UnknownAccount(String),
    /// Another subject than the one the account first signed in with
    /// names it (`store::accounts::prosecutors::OtherSubject`).
    #[error("account {account} first signed in as subject {stored:?}, now {now:?}")]
    SubjectChanged {
        account: String,
        stored: String,
        now: String,
    },
    /// Native sign-in is not configured (`sso.app_client_id` empty).
    #[error("native sign-in is not configured")]
    NativeDisabled,
}

impl SsoError {
    /// What the refusal page says.
    pub fn user_message(&self) -> &'static str {
        match self {
            SsoError::Unavailable(_) => "目前無法連線到法務部單一登入，請稍後再試。",
            SsoError::NoFlow(_) => "這次登入不是由這個瀏覽器開始的，或已超過 10 分鐘，請重新登入。",
            SsoError::StateMismatch => "登入回應與這個瀏覽器的登入流程不符，已拒絕，請重新登入。",
            SsoError::Replayed => "這個登入回應已經使用過，已拒絕，請重新登入。",
            SsoError::Denied { error, .. } if error == "access_denied" => {
                "您已在法務部單一登入取消登入。"
            }
            SsoError::Denied { .. } => "法務部單一登入未完成登入，請重新登入。",
            SsoError::WrongIssuer(_) => {
                "登入回應不是來自本站設定的法務部單一登入（發行者不符），已拒絕。"
            }
            SsoError::WrongAudience(_) => "登入憑證不是發給本站的（對象不符），已拒絕。",
            SsoError::BadSignature(_) => "登入憑證的簽章無法驗證，已拒絕。",
            SsoError::Expired(_) => "登入憑證已過期，請重新登入。",
            SsoError::NonceMismatch(_) => "登入憑證不屬於這次登入流程，已拒絕，請重新登入。",
            SsoError::Exchange(_) => "無法向法務部單一登入完成登入，請重新登入。",
            SsoError::InvalidToken(_) => "登入憑證無效，已拒絕。",
            SsoError::MissingClaim(_) => {
                "法務部單一登入未提供確認身分所需的資料，無法登入。如有疑問，請洽本站管理者。"
            }
            SsoError::ClaimMismatch(_) => {
                "您的法務部帳號不具檢察官身分，無法使用檢察官查詢。如有疑問，請洽本站管理者。"
            }
            SsoError::InvalidAccount { .. } => {
                "法務部單一登入提供的帳號格式不符，無法對應檢察官帳號。如有疑問，請洽本站管理者。"
            }
            SsoError::UnknownAccount(_) => {
                "查無以您的法務部帳號承辦的案件，無法登入。如有疑問，請洽承辦書記官。"
            }
            SsoError::NativeDisabled => "本站未開放應用程式以法務部單一登入。",
            SsoError::SubjectChanged { .. } => {
                "您的法務部身分與此檢察官帳號先前登入時的身分不同，無法登入。請洽本站管理者。"
            }
        }
    }

    /// Whether the refusal is of the account the provider signed in (not a
    /// prosecutor's, no cases, missing what identifies it), which another
    /// account might not be; not of the flow or the provider.
    pub fn about_the_account(&self) -> bool {
        matches!(
            self,
            SsoError::MissingClaim(_)
                | SsoError::ClaimMismatch(_)
                | SsoError::InvalidAccount { .. }
                | SsoError::UnknownAccount(_)
                | SsoError::SubjectChanged { .. }
        )
    }

    /// A short stable name, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            SsoError::Unavailable(_) => "unavailable",
            SsoError::NoFlow(_) => "no_flow",
            SsoError::StateMismatch => "state_mismatch",
            SsoError::Replayed => "replayed",
            SsoError::Denied { .. } => "denied",
            SsoError::WrongIssuer(_) => "wrong_issuer",
            SsoError::WrongAudience(_) => "wrong_audience",
            SsoError::BadSignature(_) => "bad_signature",
            SsoError::Expired(_) => "expired",
            SsoError::NonceMismatch(_) => "nonce_mismatch",
            SsoError::Exchange(_) => "exchange",
            // (Not `invalid_token`: the API's code for a bearer token whose
            // session ended, which an app takes as "log in again".)
            SsoError::InvalidToken(_) => "invalid_id_token",
            SsoError::MissingClaim(_) => "missing_claim",
            SsoError::ClaimMismatch(_) => "claim_mismatch",
            SsoError::InvalidAccount { .. } => "invalid_account",
            SsoError::UnknownAccount(_) => "unknown_account",
            SsoError::NativeDisabled => "native_disabled",
            SsoError::SubjectChanged { .. } => "subject_changed",
        }
    }

    /// The HTTP status of the refusal page: 503 when the provider is away
    /// (try again later), 403 when the person is not allowed in, 400 for
    /// everything wrong with the sign-in itself.
    pub fn status(&self) -> u16 {
        match self {
            SsoError::Unavailable(_) => 503,
            SsoError::ClaimMismatch(_)
            | SsoError::MissingClaim(_)
            | SsoError::InvalidAccount { .. }
            | SsoError::UnknownAccount(_)
            | SsoError::SubjectChanged { .. } => 403,
            SsoError::NativeDisabled => 404,
            _ => 400,
        }
    }
}
