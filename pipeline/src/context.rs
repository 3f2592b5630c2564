//! The sign-in context contract between the app backend and authtrail.
//!
//! Cognito trigger events carry no client IP or user agent. The app's backend
//! passes them as `ClientMetadata` to `AdminInitiateAuth`, which reaches the
//! PreAuthentication trigger as `request.validationData`. A public client can
//! put anything there, so the backend signs the context with a shared secret
//! and authtrail believes it only when the signature checks out.
//!
//! Keys (all string values, as ClientMetadata requires):
//!
//! | key | value |
//! |---|---|
//! | `authtrail:ip` | client IP address as the backend saw it |
//! | `authtrail:ua` | client `User-Agent` header |
//! | `authtrail:device` | the app's device id (optional, may be empty) |
//! | `authtrail:nonce` | unique per sign-in attempt (makes event ids retry-stable) |
//! | `authtrail:ts` | issued-at, Unix seconds |
//! | `authtrail:sig` | lowercase hex HMAC-SHA256 over the canonical message |
//!
//! The canonical message is `authtrail-context-v1` followed by, for each of
//! username, ip, ua, device, nonce, ts in that order, the byte length in
//! decimal, `:`, and the bytes. Length prefixes make the encoding unambiguous
//! whatever the fields contain.
//!
//! The username is the one the backend sent to Cognito. Pools that sign users
//! in by email or phone alias report a different `userName` in the trigger,
//! so verification also accepts the `email`, `phone_number` and
//! `preferred_username` attributes of the event.

use std::collections::HashMap;
use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::event::ContextStatus;

pub const KEY_IP: &str = "authtrail:ip";
pub const KEY_UA: &str = "authtrail:ua";
pub const KEY_DEVICE: &str = "authtrail:device";
pub const KEY_NONCE: &str = "authtrail:nonce";
pub const KEY_TS: &str = "authtrail:ts";
pub const KEY_SIG: &str = "authtrail:sig";

const DOMAIN: &[u8] = b"authtrail-context-v1";

type HmacSha256 = Hmac<Sha256>;

/// The fields the backend vouches for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignInContext {
    pub ip: String,
    pub user_agent: String,
    pub device: String,
    pub nonce: String,
    pub issued_at: i64,
}

impl SignInContext {
    /// Signs the context for `username` and returns the ClientMetadata map the
    /// backend passes to `AdminInitiateAuth`.
    pub fn sign(&self, username: &str, secret: &[u8]) -> HashMap<String, String> {
        let ts = self.issued_at.to_string();
        let sig = hex::encode(mac(secret, username, self, &ts).finalize().into_bytes());
        HashMap::from([
            (KEY_IP.to_string(), self.ip.clone()),
            (KEY_UA.to_string(), self.user_agent.clone()),
            (KEY_DEVICE.to_string(), self.device.clone()),
            (KEY_NONCE.to_string(), self.nonce.clone()),
            (KEY_TS.to_string(), ts),
            (KEY_SIG.to_string(), sig),
        ])
    }
}

fn mac(secret: &[u8], username: &str, c: &SignInContext, ts: &str) -> HmacSha256 {
    // HMAC accepts keys of any length.
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(DOMAIN);
    for part in [username, &c.ip, &c.user_agent, &c.device, &c.nonce, ts] {
        // Decimal length without allocating: this runs on every sign-in.
        let mut buf = [0u8; 21];
        let mut i = buf.len() - 1;
        buf[i] = b':';
        let mut n = part.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        m.update(&buf[i..]);
        m.update(part.as_bytes());
    }
    m
}

/// What the trigger knows after looking at the context.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub status: ContextStatus,
    /// The IP, parsed and canonical (IPv4-mapped IPv6 becomes IPv4). Kept even
    /// when unverified: it may raise risk, never lower it.
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub device: Option<String>,
    pub nonce: Option<String>,
    /// Why the context is not verified, for the event's notes.
    pub reason: Option<String>,
}

/// Checks contexts against the configured secrets (current first, then the
/// previous one during a rotation).
#[derive(Clone)]
pub struct ContextVerifier {
    secrets: Vec<Vec<u8>>,
    max_age_secs: i64,
    max_skew_secs: i64,
}

impl std::fmt::Debug for ContextVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secrets.
        f.debug_struct("ContextVerifier")
            .field("secrets", &self.secrets.len())
            .field("max_age_secs", &self.max_age_secs)
            .finish()
    }
}

/// A map of string keys to string values, as Cognito delivers
/// `validationData` / `clientMetadata`.
pub trait StringMap {
    fn get_str(&self, key: &str) -> Option<&str>;
    fn is_empty_map(&self) -> bool;
}

impl<K: std::borrow::Borrow<str> + std::hash::Hash + Eq, V: AsRef<str>> StringMap for HashMap<K, V> {
    fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).map(|v| v.as_ref())
    }
    fn is_empty_map(&self) -> bool {
        self.is_empty()
    }
}

impl ContextVerifier {
    pub fn new(secrets: Vec<Vec<u8>>, max_age_secs: i64) -> Self {
        ContextVerifier {
            secrets: secrets.into_iter().filter(|s| !s.is_empty()).collect(),
            max_age_secs,
            max_skew_secs: 60,
        }
    }

    pub fn has_secret(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// Verifies the context in `data` for a sign-in by any of `usernames`
    /// (the trigger's userName first, then its alias attributes), at `now`
    /// (Unix seconds).
    pub fn verify<'a>(
        &self,
        data: Option<&dyn StringMap>,
        usernames: impl IntoIterator<Item = &'a str> + Clone,
        now: i64,
    ) -> Verified {
        let Some(data) = data.filter(|d| d.get_str(KEY_IP).is_some() || d.get_str(KEY_SIG).is_some()) else {
            return unverified(ContextStatus::Missing, "no authtrail context in validationData", None);
        };
        let field = |k| data.get_str(k).unwrap_or("").to_string();
        let ctx = SignInContext {
            ip: field(KEY_IP),
            user_agent: field(KEY_UA),
            device: field(KEY_DEVICE),
            nonce: field(KEY_NONCE),
            issued_at: 0,
        };
        let parsed_ip = ctx.ip.trim().parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
        let out = Verified {
            status: ContextStatus::Verified,
            ip: parsed_ip,
            user_agent: non_empty(&ctx.user_agent),
            device: non_empty(&ctx.device),
            nonce: non_empty(&ctx.nonce),
            reason: None,
        };
        let fail = |mut out: Verified, status, reason: &str| {
            out.status = status;
            out.reason = Some(reason.to_string());
            out
        };
        if !ctx.ip.is_empty() && parsed_ip.is_none() {
            return fail(out, ContextStatus::Malformed, "context ip is not an IP address");
        }
        let Some(sig_hex) = data.get_str(KEY_SIG).filter(|s| !s.is_empty()) else {
            return fail(out, ContextStatus::Unsigned, "context has no signature");
        };
        if !self.has_secret() {
            return fail(out, ContextStatus::NoSecret, "context is signed but no secret is configured");
        }
        let ts = data.get_str(KEY_TS).unwrap_or("");
        let Ok(issued_at) = ts.parse::<i64>() else {
            return fail(out, ContextStatus::Malformed, "context timestamp is not Unix seconds");
        };
        let Ok(sig) = hex::decode(sig_hex) else {
            return fail(out, ContextStatus::BadSignature, "context signature is not hex");
        };
        let signed = self
            .secrets
            .iter()
            .any(|secret| usernames.clone().into_iter().any(|u| mac(secret, u, &ctx, ts).verify_slice(&sig).is_ok()));
        if !signed {
            return fail(out, ContextStatus::BadSignature, "context signature does not match");
        }
        let age = now - issued_at;
        if age > self.max_age_secs {
            return fail(out, ContextStatus::Stale, "context is older than the allowed age");
        }
        if age < -self.max_skew_secs {
            return fail(out, ContextStatus::Stale, "context is issued in the future");
        }
        if parsed_ip.is_none() {
            return fail(out, ContextStatus::Malformed, "signed context has no IP address");
        }
        out
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn unverified(status: ContextStatus, reason: &str, ip: Option<IpAddr>) -> Verified {
    Verified { status, ip, user_agent: None, device: None, nonce: None, reason: Some(reason.to_string()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"s3cret-for-tests";
    const NOW: i64 = 1_800_000_000;

    fn ctx() -> SignInContext {
        SignInContext {
            ip: "81.2.69.142".into(),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".into(),
            device: "dev-1".into(),
            nonce: "n-1".into(),
            issued_at: NOW - 5,
        }
    }

    fn verifier() -> ContextVerifier {
        ContextVerifier::new(vec![SECRET.to_vec()], 300)
    }

    fn check(map: &HashMap<String, String>, users: &[&str]) -> Verified {
        verifier().verify(Some(map), users.iter().copied(), NOW)
    }

    #[test]
    fn valid_signature_verifies() {
        let v = check(&ctx().sign("alice", SECRET), &["alice"]);
        assert_eq!(v.status, ContextStatus::Verified, "{v:?}");
        assert_eq!(v.ip, Some("81.2.69.142".parse().unwrap()));
        assert_eq!(v.nonce.as_deref(), Some("n-1"));
        assert_eq!(v.reason, None);
    }

    #[test]
    fn alias_username_verifies() {
        let map = ctx().sign("alice@example.com", SECRET);
        assert_eq!(check(&map, &["8f1c-uuid", "alice@example.com"]).status, ContextStatus::Verified);
        assert_eq!(check(&map, &["8f1c-uuid"]).status, ContextStatus::BadSignature);
    }

    #[test]
    fn every_tampered_field_fails() {
        for key in [KEY_IP, KEY_UA, KEY_DEVICE, KEY_NONCE, KEY_TS] {
            let mut map = ctx().sign("alice", SECRET);
            let v = map.get_mut(key).unwrap();
            *v = if key == KEY_IP {
                "81.2.69.143".into()
            } else if key == KEY_TS {
                (NOW - 4).to_string()
            } else {
                format!("{v}x")
            };
            let out = check(&map, &["alice"]);
            assert_eq!(out.status, ContextStatus::BadSignature, "tampered {key}");
            // The fields are kept, marked unverified.
            assert!(out.ip.is_some());
        }
    }

    #[test]
    fn wrong_secret_fails_and_rotation_accepts_previous() {
        let map = ctx().sign("alice", b"other");
        assert_eq!(check(&map, &["alice"]).status, ContextStatus::BadSignature);
        let rotating = ContextVerifier::new(vec![SECRET.to_vec(), b"other".to_vec()], 300);
        assert_eq!(rotating.verify(Some(&map), ["alice"], NOW).status, ContextStatus::Verified);
    }

    #[test]
    fn stale_and_future_fail() {
        let mut c = ctx();
        c.issued_at = NOW - 301;
        let v = check(&c.sign("alice", SECRET), &["alice"]);
        assert_eq!(v.status, ContextStatus::Stale);
        assert!(v.reason.unwrap().contains("older"));
        c.issued_at = NOW + 3600;
        assert_eq!(check(&c.sign("alice", SECRET), &["alice"]).status, ContextStatus::Stale);
    }

    #[test]
    fn missing_unsigned_and_malformed() {
        assert_eq!(verifier().verify(None, ["alice"], NOW).status, ContextStatus::Missing);
        let empty: HashMap<String, String> = HashMap::new();
        assert_eq!(check(&empty, &["alice"]).status, ContextStatus::Missing);
        let mut map = ctx().sign("alice", SECRET);
        map.remove(KEY_SIG);
        let v = check(&map, &["alice"]);
        assert_eq!(v.status, ContextStatus::Unsigned);
        assert_eq!(v.ip, Some("81.2.69.142".parse().unwrap()), "unverified ip kept");
        let mut map = ctx().sign("alice", SECRET);
        map.insert(KEY_IP.into(), "not-an-ip".into());
        assert_eq!(check(&map, &["alice"]).status, ContextStatus::Malformed);
        let mut map = ctx().sign("alice", SECRET);
        map.insert(KEY_TS.into(), "yesterday".into());
        assert_eq!(check(&map, &["alice"]).status, ContextStatus::Malformed);
        let no_secret = ContextVerifier::new(vec![], 300);
        assert_eq!(
            no_secret.verify(Some(&ctx().sign("alice", SECRET)), ["alice"], NOW).status,
            ContextStatus::NoSecret
        );
    }

    #[test]
    fn mapped_ipv6_is_canonicalised() {
        let mut c = ctx();
        c.ip = "::ffff:81.2.69.142".into();
        let v = check(&c.sign("alice", SECRET), &["alice"]);
        assert_eq!(v.status, ContextStatus::Verified);
        assert_eq!(v.ip, Some("81.2.69.142".parse().unwrap()));
    }
}
