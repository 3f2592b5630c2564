//! The PreAuthentication and PostAuthentication handlers.
//!
//! One code path for Lambda, the CLI and tests: parse the raw trigger event,
//! verify the app's context, enrich, build the [`Event`], emit it, write one
//! EMF metrics line, and answer Cognito. The handler is generic over the
//! event sink and the clock; a risk source joins them with the risk engine.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use pipeline::clock::Clock;
use pipeline::config::FailMode;
use pipeline::context::{ContextVerifier, StringMap, Verified};
use pipeline::device::parse_user_agent;
use pipeline::event::{self, ContextStatus, Event, EventType, SCHEMA_VERSION};
use pipeline::geo::{AnonymousIp, Enricher};
use pipeline::metrics as m;
use pipeline::risk::{Attempt, CompiledPolicy, NoSnapshot, RiskSource, decide};
use pipeline::stream::{Delivered, EventSink, Record, spill_line};
use pipeline::telemetry::{LineOut, Metric, emf_line};
use serde_json::value::RawValue;

use crate::cognito::TriggerEvent;

/// Which Cognito trigger a handler serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    PreAuth,
    PostAuth,
    /// Not a Cognito trigger: the app backend reporting a failed sign-in
    /// (Cognito said `NotAuthorizedException`), in the same envelope with
    /// `triggerSource` [`BACKEND_FAILURE_SOURCE`] and the sign-in's signed
    /// context in `request.validationData`. It becomes an `auth.failure`.
    BackendFailure,
}

/// The `triggerSource` of a backend's failure report.
pub const BACKEND_FAILURE_SOURCE: &str = "authtrail_BackendFailure";

impl Trigger {
    pub fn function_name(self) -> &'static str {
        match self {
            Trigger::PreAuth => m::component::PRE_AUTH,
            Trigger::PostAuth => m::component::POST_AUTH,
            // Counted in the metrics of the function that ran: pre-auth.
            Trigger::BackendFailure => "backend-failure",
        }
    }

    fn event_type(self) -> EventType {
        match self {
            Trigger::PreAuth => EventType::Attempt,
            Trigger::PostAuth => EventType::Success,
            Trigger::BackendFailure => EventType::Failure,
        }
    }

    fn expected_source_prefix(self) -> &'static str {
        match self {
            Trigger::PreAuth => "PreAuthentication_",
            Trigger::PostAuth => "PostAuthentication_",
            Trigger::BackendFailure => BACKEND_FAILURE_SOURCE,
        }
    }

    /// The trigger an event's `triggerSource` names, if any.
    pub fn from_source(source: &str) -> Option<Trigger> {
        [Trigger::PreAuth, Trigger::PostAuth, Trigger::BackendFailure]
            .into_iter()
            .find(|t| source.starts_with(t.expected_source_prefix()))
    }
}

/// The message Cognito shows the user when authtrail denies. Deliberately
/// generic: the reasons go to the stream, never to a possible attacker.
pub const DENIAL_MESSAGE: &str = "Sign-in could not be completed.";

/// Why a trigger event could not be turned into an audit event at all.
#[derive(Debug, thiserror::Error)]
pub enum MalformedEvent {
    #[error("trigger event is not a JSON object: {0}")]
    NotAnObject(String),
    #[error("trigger event has no usable {0}")]
    MissingField(&'static str),
}

/// What the handler did with one invocation.
#[derive(Debug)]
pub struct Outcome {
    pub event: Event,
    /// Where the event landed, or why it did not (then it was spilled).
    pub delivery: Result<Delivered, String>,
    /// Whether the sign-in must be denied (fail-closed emission; later, risk).
    pub deny: bool,
}

pub struct Settings {
    pub fail_mode: FailMode,
    pub metrics_namespace: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { fail_mode: FailMode::Open, metrics_namespace: "authtrail".into() }
    }
}

pub struct Handler<S, C, R = NoSnapshot> {
    pub enricher: Arc<Enricher>,
    pub verifier: ContextVerifier,
    pub sink: S,
    pub clock: C,
    /// The risk snapshot the pre-auth decision reads.
    pub risk: R,
    pub policy: Arc<CompiledPolicy>,
    pub settings: Settings,
    /// One EMF line per invocation (stdout in Lambda).
    pub metrics: LineOut,
    /// Undelivered events (stdout in Lambda, where a log subscription or
    /// `authtrail replay` recovers them).
    pub spill: LineOut,
}

impl<S: EventSink, C: Clock, R: RiskSource> Handler<S, C, R> {
    /// Parse → verify → enrich → build. No I/O: this is the part measured by
    /// the warm-path benchmark.
    pub fn build_event(&self, trigger: Trigger, raw: &str, now: DateTime<Utc>) -> Result<Event, MalformedEvent> {
        let e = TriggerEvent::parse(raw).map_err(|err| MalformedEvent::NotAnObject(err.to_string()))?;
        let pool = e.user_pool_id.str().filter(|s| !s.is_empty()).ok_or(MalformedEvent::MissingField("userPoolId"))?;
        let username = e.user_name.str().filter(|s| !s.is_empty()).ok_or(MalformedEvent::MissingField("userName"))?;
        let mut notes = e.invalid_fields();

        let source = e.trigger_source.str();
        // The backend's failure reports arrive at the pre-auth function (the
        // backend invokes it directly; Cognito never sends this source).
        let trigger = match trigger {
            Trigger::PreAuth if source == Some(BACKEND_FAILURE_SOURCE) => Trigger::BackendFailure,
            t => t,
        };
        if let Some(src) = source
            && !src.starts_with(trigger.expected_source_prefix())
        {
            notes.push(format!("triggerSource {src} sent to the {} function", trigger.function_name()));
        }

        // Context: validationData for pre-auth; post-auth only has
        // clientMetadata (from RespondToAuthChallenge), checked the same way.
        let request = e.request();
        let context_map = request.and_then(|r| match trigger {
            Trigger::PreAuth | Trigger::BackendFailure => r.validation_data.value(),
            Trigger::PostAuth => r.client_metadata.value(),
        });
        let aliases = ["email", "phone_number", "preferred_username"].map(|a| e.attribute(a));
        let usernames = std::iter::once(username).chain(aliases.into_iter().flatten());
        let ctx: Verified = self.verifier.verify(context_map.map(|m| m as &dyn StringMap), usernames, now.timestamp());
        if let Some(reason) = &ctx.reason
            && !(trigger == Trigger::PostAuth && ctx.status == ContextStatus::Missing)
        {
            notes.push(reason.clone());
        }

        let enrichment = ctx.ip.map(|ip| self.enricher.enrich(ip)).unwrap_or_default();
        notes.extend(enrichment.notes);
        let geo = enrichment.geo.unwrap_or_default();
        let asn = enrichment.network.asn;
        let anon = enrichment.network.anonymous;
        let device = ctx.user_agent.as_deref().map(parse_user_agent).unwrap_or_default();

        let verified_nonce = ctx.nonce.as_deref().filter(|_| ctx.status == ContextStatus::Verified);
        let event_type = trigger.event_type();
        let is_attempt = event_type == EventType::Attempt;
        let mut event = Event {
            schema_version: SCHEMA_VERSION,
            // Only a signed nonce may make two invocations one event: an
            // unsigned one would let a client merge its guesses into one id.
            event_id: event::event_id(event_type, pool, username, verified_nonce, now),
            event_type,
            time: now,
            trigger_source: source.map(str::to_string),
            region: e.region.str().map(str::to_string),
            user_pool_id: pool.to_string(),
            client_id: e.caller_context.value().and_then(|c| c.client_id.str()).map(str::to_string),
            username: username.to_string(),
            user_sub: e.attribute("sub").map(str::to_string),
            user_not_found: request.and_then(|r| r.user_not_found.value().copied()),
            source_ip: ctx.ip.map(|ip| ip.to_string()),
            ip_verified: ctx.status == ContextStatus::Verified,
            context_status: ctx.status,
            geo_country: geo.country,
            geo_subdivision: geo.subdivision,
            geo_city: geo.city,
            geo_latitude: geo.latitude,
            geo_longitude: geo.longitude,
            geo_accuracy_radius_km: geo.accuracy_radius_km,
            geo_time_zone: geo.time_zone,
            asn: asn.as_ref().map(|a| i64::from(a.number)),
            as_org: asn.and_then(|a| a.organization),
            anon_any: anon.as_ref().map(|a| a.is_anonymous),
            anon_vpn: anon.as_ref().map(|a| a.is_anonymous_vpn),
            anon_hosting: anon.as_ref().map(|a| a.is_hosting_provider),
            anon_public_proxy: anon.as_ref().map(|a| a.is_public_proxy),
            anon_residential_proxy: anon.as_ref().map(|a| a.is_residential_proxy),
            anon_tor: anon.as_ref().map(|a| a.is_tor_exit_node),
            user_agent: ctx.user_agent,
            device_browser: device.browser,
            device_browser_version: device.browser_version,
            device_os: device.os,
            device_os_version: device.os_version,
            device_type: device.device_type,
            device_key: ctx.device,
            new_device: request.and_then(|r| r.new_device_used.value().copied()),
            login_count: None,
            decision_action: None,
            decision_score: None,
            decision_level: None,
            decision_reasons: Vec::new(),
            policy_version: None,
            snapshot_version: None,
            notes,
        };
        if is_attempt {
            self.decide(&mut event, ctx.ip);
        }
        Ok(event)
    }

    /// Fills the decision block of an attempt from the policy and snapshot.
    fn decide(&self, e: &mut Event, ip: Option<std::net::IpAddr>) {
        let anonymous = e.anon_any.map(|any| AnonymousIp {
            is_anonymous: any,
            is_anonymous_vpn: e.anon_vpn.unwrap_or(false),
            is_hosting_provider: e.anon_hosting.unwrap_or(false),
            is_public_proxy: e.anon_public_proxy.unwrap_or(false),
            is_residential_proxy: e.anon_residential_proxy.unwrap_or(false),
            is_tor_exit_node: e.anon_tor.unwrap_or(false),
        });
        let d = decide(
            &self.policy,
            &self.risk,
            &Attempt {
                user_pool_id: &e.user_pool_id,
                username: &e.username,
                time: e.time,
                ip,
                ip_verified: e.ip_verified,
                unverified_because: (!e.ip_verified).then(|| e.context_status.as_str()),
                country: e.geo_country.as_deref(),
                city: e.geo_city.as_deref(),
                latitude: e.geo_latitude,
                longitude: e.geo_longitude,
                accuracy_radius_km: e.geo_accuracy_radius_km,
                asn: e.asn.and_then(|a| u32::try_from(a).ok()),
                anonymous: anonymous.as_ref(),
                device_key: e.device_key.as_deref(),
            },
        );
        e.decision_action = Some(d.action.to_string());
        e.decision_score = Some(i32::from(d.score));
        e.decision_level = Some(d.level.as_str().to_string());
        e.decision_reasons = d.reasons;
        e.policy_version = Some(self.policy.policy.version.clone());
        e.snapshot_version = d.snapshot_version;
        e.login_count = d.login_count;
    }

    /// Handles one invocation end to end. `Err` means the event was unusable
    /// (it has been spilled with the reason); the caller denies generically.
    pub async fn handle(&self, trigger: Trigger, raw: &str) -> Result<Outcome, MalformedEvent> {
        let started = Instant::now();
        let now = self.clock.now();
        let built = self.build_event(trigger, raw, now);
        let event = match built {
            Ok(e) => e,
            Err(err) => {
                // Keep the unusable input: spill the raw event with the reason.
                let record = Record { partition_key: "malformed".into(), data: raw.as_bytes().to_vec() };
                self.spill.write(spill_line(&record, &err.to_string()));
                tracing::error!(function = trigger.function_name(), error = %err, "malformed trigger event");
                self.write_metrics(
                    trigger,
                    now,
                    started,
                    &[Metric::count(&m::MALFORMED_EVENTS, 1), Metric::count(&m::DENIED, 1)],
                );
                return Err(err);
            }
        };
        let record = Record { partition_key: event.user_key(), data: event.to_json() };
        let delivery = self
            .sink
            .emit(std::slice::from_ref(&record))
            .await
            .pop()
            .unwrap_or_else(|| Err("sink returned no result".into()));
        let spilled = delivery.is_err();
        if let Err(reason) = &delivery {
            self.spill.write(spill_line(&record, reason));
            tracing::warn!(function = trigger.function_name(), event_id = %event.event_id, reason = %reason, "event spilled");
        }
        let risk_deny = event.decision_action.as_deref() == Some("deny");
        let deny = risk_deny || (spilled && self.settings.fail_mode == FailMode::Closed);
        let snapshot_age = (trigger == Trigger::PreAuth).then(|| self.risk.age_secs(now)).flatten();
        let mut extra = vec![
            Metric::count(&m::EMITTED, u64::from(!spilled)),
            Metric::count(&m::SPILLED, u64::from(spilled)),
            Metric::count(&m::GEO_MISS, u64::from(event.source_ip.is_some() && event.geo_country.is_none())),
            Metric::count(&m::DENIED, u64::from(deny)),
            Metric::count(&m::RISK_HIGH, u64::from(event.decision_level.as_deref() == Some("high"))),
            Metric::count(&m::RISK_MEDIUM, u64::from(event.decision_level.as_deref() == Some("medium"))),
        ];
        // Only attempts are decided with the context: post-auth's is optional.
        if trigger == Trigger::PreAuth {
            extra.push(Metric::count(&m::CONTEXT_UNVERIFIED, u64::from(!event.ip_verified)));
        }
        if let Some(age) = snapshot_age {
            extra.push(Metric::new(&m::SNAPSHOT_AGE, age as f64));
        }
        self.write_metrics(trigger, now, started, &extra);
        Ok(Outcome { event, delivery, deny })
    }

    fn write_metrics(&self, trigger: Trigger, now: DateTime<Utc>, started: Instant, extra: &[Metric]) {
        let mut metrics = vec![
            Metric::count(&m::INVOCATIONS, 1),
            Metric::new(&m::HANDLER_LATENCY, started.elapsed().as_secs_f64() * 1e6),
        ];
        metrics.extend_from_slice(extra);
        self.metrics.write(emf_line(
            &self.settings.metrics_namespace,
            trigger.function_name(),
            now.timestamp_millis(),
            &metrics,
        ));
    }

    /// The answer to Cognito: the received event, byte for byte, to allow;
    /// an error with the generic message to deny.
    pub async fn respond(&self, trigger: Trigger, raw: Box<RawValue>) -> Result<Box<RawValue>, &'static str> {
        match self.handle(trigger, raw.get()).await {
            Ok(outcome) if !outcome.deny => Ok(raw),
            _ => Err(DENIAL_MESSAGE),
        }
    }
}
