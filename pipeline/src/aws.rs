//! Shared AWS SDK configuration.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// Loads the standard AWS configuration (environment, profile, web identity,
/// container and instance credentials; `AWS_ENDPOINT_URL_*` endpoints) with a
/// rustls-on-ring HTTPS client. The SDK's default client would pull in
/// aws-lc-sys, a long C build for no benefit here.
pub async fn load_config() -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(http).load().await
}
