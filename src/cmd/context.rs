//! `authtrail context sign`: produce the ClientMetadata an app backend sends.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use pipeline::context::SignInContext;

#[derive(Subcommand)]
pub enum Command {
    /// Print signed ClientMetadata (JSON) for one sign-in. The secret is read
    /// from the environment variable named by --secret-env.
    Sign {
        /// The USERNAME the backend passes to AdminInitiateAuth.
        #[arg(long)]
        username: String,
        /// Client IP address.
        #[arg(long)]
        ip: String,
        /// Client User-Agent.
        #[arg(long, default_value = "")]
        user_agent: String,
        /// The app's device id.
        #[arg(long, default_value = "")]
        device: String,
        /// Unique per attempt (default: random).
        #[arg(long)]
        nonce: Option<String>,
        /// Issued-at, Unix seconds (default: now).
        #[arg(long)]
        issued_at: Option<i64>,
        #[arg(long, default_value = "AUTHTRAIL_CONTEXT_SECRET")]
        secret_env: String,
    },
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Sign { username, ip, user_agent, device, nonce, issued_at, secret_env } => {
            let secret =
                std::env::var(&secret_env).with_context(|| format!("environment variable {secret_env} is not set"))?;
            if secret.is_empty() {
                bail!("environment variable {secret_env} is empty");
            }
            ip.parse::<std::net::IpAddr>().with_context(|| format!("--ip {ip:?} is not an IP address"))?;
            let ctx = SignInContext {
                ip,
                user_agent,
                device,
                nonce: nonce.unwrap_or_else(random_nonce),
                issued_at: issued_at.unwrap_or_else(|| chrono::Utc::now().timestamp()),
            };
            let map: std::collections::BTreeMap<_, _> = ctx.sign(&username, secret.as_bytes()).into_iter().collect();
            println!("{}", serde_json::to_string_pretty(&map)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// 128 random bits, hex.
pub fn random_nonce() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}
