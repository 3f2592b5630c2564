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

/// An `s3://bucket/prefix` location, shared by the lake and the risk snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Without leading or trailing `/`; empty for the bucket's root.
    pub prefix: String,
}

impl S3Location {
    /// `Ok(None)` when `location` is not an `s3://` URL; an error when it
    /// names no bucket.
    pub fn parse(location: &str) -> Result<Option<S3Location>, &'static str> {
        let Some(rest) = location.strip_prefix("s3://") else { return Ok(None) };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err("no bucket");
        }
        Ok(Some(S3Location { bucket: bucket.into(), prefix: prefix.trim_matches('/').into() }))
    }

    /// `s3://bucket/prefix`, or `s3://bucket` for the root.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix).trim_end_matches('/').to_string()
    }

    /// The object key of `name` under the prefix.
    pub fn path(&self, name: &str) -> object_store::path::Path {
        if self.prefix.is_empty() {
            object_store::path::Path::from(name)
        } else {
            object_store::path::Path::from(format!("{}/{name}", self.prefix))
        }
    }

    /// An object_store client for the bucket: credentials and region from
    /// the standard AWS variables, the endpoint from `AWS_ENDPOINT_URL_S3` or
    /// `AWS_ENDPOINT_URL`, path-style addressing (what local stand-ins serve).
    pub fn store(&self) -> Result<object_store::aws::AmazonS3, object_store::Error> {
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(&self.bucket);
        let endpoint = std::env::var("AWS_ENDPOINT_URL_S3").or_else(|_| std::env::var("AWS_ENDPOINT_URL")).ok();
        if let Some(endpoint) = endpoint {
            builder = builder.with_allow_http(endpoint.starts_with("http://")).with_endpoint(endpoint);
        }
        builder.build()
    }
}
