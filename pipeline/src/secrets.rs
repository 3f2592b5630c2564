//! The context secret from AWS Secrets Manager: what a deployed trigger uses
//! instead of an environment variable, so the key never sits in clear text
//! in the function's configuration.
//!
//! The secret's `AWSCURRENT` version is the key the app backend signs with;
//! its `AWSPREVIOUS` version, while it exists, is still accepted, so a
//! rotation (new version, backends switch, old one retired) loses no sign-in.
//! The whole `SecretString` is the key (what `GenerateSecretString` and
//! `aws secretsmanager put-secret-value --secret-string` store).

use std::time::Duration;

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("context secret {secret}: {message}")]
    Fetch { secret: String, message: String },
    #[error("context secret {secret}: not fetched within {timeout:?}")]
    Timeout { secret: String, timeout: Duration },
    #[error("context secret {secret}: version {stage} has no SecretString (binary secrets are not supported)")]
    NotAString { secret: String, stage: &'static str },
    #[error("context secret {secret}: version {stage} is empty")]
    Empty { secret: String, stage: &'static str },
}

/// A Secrets Manager client from the standard AWS configuration (the
/// endpoint from `AWS_ENDPOINT_URL_SECRETS_MANAGER` in tests).
pub async fn client() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&crate::aws::load_config().await)
}

/// The current key, then the previous one when the secret has it; both
/// fetched at once, within `timeout` (it counts against a cold start's 5 s).
/// The current key is required; a previous one that cannot be fetched in
/// time is logged and left out (contexts signed with it turn unverified), so
/// a slow second call never costs the current key.
pub async fn context_secrets(
    client: &aws_sdk_secretsmanager::Client,
    secret: &str,
    timeout: Duration,
) -> Result<Vec<Vec<u8>>, SecretError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let timed_out = || SecretError::Timeout { secret: secret.into(), timeout };
    let (current, previous) = tokio::join!(
        tokio::time::timeout_at(deadline, version(client, secret, "AWSCURRENT")),
        tokio::time::timeout_at(deadline, version(client, secret, "AWSPREVIOUS")),
    );
    let Some(current) = current.map_err(|_| timed_out())?? else {
        return Err(SecretError::Fetch { secret: secret.into(), message: "has no AWSCURRENT version".into() });
    };
    let mut keys = vec![current];
    match previous {
        Ok(Ok(Some(previous))) => keys.push(previous),
        Ok(Ok(None)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "previous context key not read; only the current one verifies"),
        Err(_) => {
            tracing::warn!(%secret, ?timeout, "previous context key not read in time; only the current one verifies")
        }
    }
    Ok(keys)
}

/// One staged version; `None` when the secret has no version at `stage`.
async fn version(
    client: &aws_sdk_secretsmanager::Client,
    secret: &str,
    stage: &'static str,
) -> Result<Option<Vec<u8>>, SecretError> {
    match client.get_secret_value().secret_id(secret).version_stage(stage).send().await {
        Ok(out) => {
            let Some(value) = out.secret_string else {
                return Err(SecretError::NotAString { secret: secret.into(), stage });
            };
            if value.is_empty() {
                return Err(SecretError::Empty { secret: secret.into(), stage });
            }
            Ok(Some(value.into_bytes()))
        }
        // A stage that no version holds (AWSPREVIOUS before any rotation).
        Err(e) if stage != "AWSCURRENT" && e.code() == Some("ResourceNotFoundException") => Ok(None),
        // The error's code and message only: never the secret's value.
        Err(e) => Err(SecretError::Fetch { secret: secret.into(), message: DisplayErrorContext(&e).to_string() }),
    }
}
