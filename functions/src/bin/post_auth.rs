#![recursion_limit = "256"]
//! Cognito PostAuthentication trigger: records the successful sign-in, enriched.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    functions::lambda::run(functions::Trigger::PostAuth).await
}
