//! The context secret from Secrets Manager (moto on 127.0.0.1, through the
//! real SDK client): current and previous keys across a rotation, and clear
//! errors that name the secret and never carry its value.

use std::time::Duration;

use pipeline::secrets::{SecretError, client, context_secrets};

const WAIT: Duration = Duration::from_secs(4);

fn name(test: &str) -> String {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_SECRETS_MANAGER").is_some(),
        "AWS_ENDPOINT_URL_SECRETS_MANAGER is not set: run the suite with ./scripts/test, which starts moto"
    );
    format!("authtrail-test/{test}-{}", std::process::id())
}

#[tokio::test]
async fn current_then_previous_across_a_rotation() {
    let sm = client().await;
    let secret = name("rotation");
    let created = sm.create_secret().name(&secret).secret_string("first-key-0123456789").send().await.unwrap();
    assert_eq!(context_secrets(&sm, &secret, WAIT).await.unwrap(), vec![b"first-key-0123456789".to_vec()]);

    // A rotation: the new version becomes AWSCURRENT, the old one AWSPREVIOUS.
    sm.put_secret_value().secret_id(&secret).secret_string("second-key-9876543210").send().await.unwrap();
    let by_arn = context_secrets(&sm, created.arn().unwrap(), WAIT).await.unwrap();
    assert_eq!(by_arn, vec![b"second-key-9876543210".to_vec(), b"first-key-0123456789".to_vec()]);
}

#[tokio::test]
async fn a_missing_secret_is_an_error_naming_it() {
    let sm = client().await;
    let secret = name("absent");
    let err = context_secrets(&sm, &secret, WAIT).await.unwrap_err();
    assert!(matches!(err, SecretError::Fetch { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&secret) && text.contains("ResourceNotFound"), "{text}");
}

#[tokio::test]
async fn a_binary_secret_is_refused_without_showing_it() {
    let sm = client().await;
    let secret = name("binary");
    let blob = aws_sdk_secretsmanager::primitives::Blob::new(b"binary-key-material".to_vec());
    sm.create_secret().name(&secret).secret_binary(blob).send().await.unwrap();
    let err = context_secrets(&sm, &secret, WAIT).await.unwrap_err();
    assert!(matches!(err, SecretError::NotAString { stage: "AWSCURRENT", .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("binary-key-material"));
}

#[tokio::test]
async fn an_unreachable_service_times_out_within_the_budget() {
    // An address that never answers (or is unreachable at once): a cold
    // start must not wait past its budget for the SDK's retries.
    let conf = aws_sdk_secretsmanager::config::Builder::from(&pipeline::aws::load_config().await)
        .endpoint_url("http://10.255.255.1:9")
        .build();
    let sm = aws_sdk_secretsmanager::Client::from_conf(conf);
    let started = std::time::Instant::now();
    let err = context_secrets(&sm, "authtrail/any", Duration::from_millis(300)).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(matches!(err, SecretError::Timeout { .. } | SecretError::Fetch { .. }), "{err:?}");
}
