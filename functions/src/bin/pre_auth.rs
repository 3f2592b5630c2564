#![recursion_limit = "256"]
//! Cognito PreAuthentication trigger: records the attempt, enriched.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    functions::lambda::run(functions::Trigger::PreAuth).await
}
