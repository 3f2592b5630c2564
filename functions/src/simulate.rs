//! A labelled traffic simulator: a user pool with daily rhythms, typos,
//! travellers, VPN and mobile users, and attack campaigns, written as the
//! replay file `authtrail replay` reads — raw Cognito PreAuthentication /
//! PostAuthentication events in AWS's documented shape, the app backend's
//! signed context in `validationData` — with a `label` on each line that
//! replay ignores and `authtrail evaluate` joins to the decisions.
//!
//! Addresses come from a city database (the GeoIP extract), so enrichment
//! really places each sign-in where the simulator meant it. Deterministic
//! for a seed. A failed password is a PreAuthentication event with no
//! PostAuthentication after it, as Cognito behaves, and the app backend's
//! failure report (`authtrail_BackendFailure`) 300 ms later.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use pipeline::context::SignInContext;
use pipeline::geo::extract::{CityNetwork, CitySpec};
use serde::Serialize;

use crate::handler::BACKEND_FAILURE_SOURCE;

/// Realistic user agents, one per device.
const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0",
    "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
];
const ATTACK_AGENTS: &[&str] = &["python-requests/2.32.3", "curl/8.5.0", "Go-http-client/1.1", USER_AGENTS[0]];

/// Where addresses come from: the networks of each city, and which are
/// hosting or VPN networks (`anonymous(network)`).
pub struct SimGeo {
    pub cities: Vec<CitySpec>,
    /// Per city: ordinary networks, then anonymizer (hosting / VPN) networks.
    ordinary: Vec<Vec<CityNetwork>>,
    anonymizer: Vec<CityNetwork>,
}

impl SimGeo {
    pub fn new(
        cities: Vec<CitySpec>,
        networks: Vec<CityNetwork>,
        is_anonymizer: impl Fn(&CityNetwork) -> bool,
    ) -> Self {
        let mut ordinary = vec![Vec::new(); cities.len()];
        let mut anonymizer = Vec::new();
        for n in networks {
            if is_anonymizer(&n) {
                anonymizer.push(n);
            } else if let Some(i) = cities.iter().position(|c| c.name == n.city) {
                ordinary[i].push(n);
            }
        }
        SimGeo { cities, ordinary, anonymizer }
    }

    fn usable(&self) -> Vec<usize> {
        (0..self.cities.len()).filter(|&i| !self.ordinary[i].is_empty()).collect()
    }
}

/// How big, how long, which seed.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub users: usize,
    pub days: u32,
    pub seed: u64,
    pub start: DateTime<Utc>,
    pub user_pool_id: String,
    pub client_id: String,
    /// The app backend's signing secret (`context.secret_env` at replay).
    pub secret: Vec<u8>,
}

/// What was written, per label kind.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SimSummary {
    pub lines: usize,
    pub pre_auth: usize,
    pub post_auth: usize,
    /// The app backend's reports of failed passwords.
    pub backend_failures: usize,
    /// (label kind, pre-auth events) in first-seen order.
    pub by_kind: Vec<(String, usize)>,
}

#[derive(Clone)]
struct Device {
    key: String,
    agent: &'static str,
}

struct User {
    name: String,
    home: usize,
    home_net: CityNetwork,
    /// Another network in the home country (a mobile carrier).
    mobile_net: Option<CityNetwork>,
    /// The user's VPN service's exit network (somewhere else, often abroad).
    vpn_net: Option<CityNetwork>,
    /// The first is the one in daily use, which also goes on trips.
    devices: Vec<Device>,
    /// benign, benign:traveller, benign:vpn or benign:mobile.
    label: &'static str,
}

/// One sign-in try: a pre-auth event, and a post-auth one when it succeeds.
struct Try {
    at: DateTime<Utc>,
    user: u32,
    ip: std::net::IpAddr,
    device: Device,
    succeeds: bool,
    label: String,
}

struct Sim<'a> {
    cfg: &'a SimConfig,
    geo: &'a SimGeo,
    rng: fastrand::Rng,
    users: Vec<User>,
    tries: Vec<Try>,
}

impl Sim<'_> {
    fn weighted_city(&mut self, among: &[usize]) -> usize {
        let total: u32 = among.iter().map(|&i| self.geo.cities[i].weight.max(1)).sum();
        let mut pick = self.rng.u32(0..total);
        for &i in among {
            let w = self.geo.cities[i].weight.max(1);
            if pick < w {
                return i;
            }
            pick -= w;
        }
        among[0]
    }

    fn network(&mut self, city: usize) -> CityNetwork {
        let nets = &self.geo.ordinary[city];
        nets[self.rng.usize(0..nets.len())].clone()
    }

    fn host(&mut self, net: &CityNetwork) -> std::net::IpAddr {
        net.host(self.rng.u32(1..250))
    }

    fn device(&mut self, owner: &str) -> Device {
        Device {
            key: format!("{owner}-{:08x}", self.rng.u32(..)),
            agent: USER_AGENTS[self.rng.usize(0..USER_AGENTS.len())],
        }
    }

    /// A local daytime moment of `day` for a city, in UTC.
    fn daytime(&mut self, day: u32, city: usize) -> DateTime<Utc> {
        let local_hour = if self.rng.u8(0..10) < 8 { self.rng.f32() * 14.0 + 8.0 } else { self.rng.f32() * 24.0 };
        let utc_hours = local_hour - self.geo.cities[city].utc_offset;
        self.cfg.start + Duration::days(day.into()) + Duration::seconds((utc_hours * 3600.0) as i64)
    }

    fn push(
        &mut self,
        at: DateTime<Utc>,
        user: u32,
        ip: std::net::IpAddr,
        device: Device,
        succeeds: bool,
        label: &str,
    ) {
        self.tries.push(Try { at, user, ip, device, succeeds, label: label.to_string() });
    }

    fn population(&mut self) {
        let usable = self.geo.usable();
        for i in 0..self.cfg.users {
            let home = self.weighted_city(&usable);
            let name = format!("user{i:06}");
            let home_net = self.network(home);
            let country = self.geo.cities[home].country.clone();
            let same_country: Vec<usize> =
                usable.iter().copied().filter(|&c| self.geo.cities[c].country == country).collect();
            let label = match self.rng.u8(0..100) {
                0..=4 => "benign:traveller",
                5..=7 => "benign:vpn",
                8..=27 => "benign:mobile",
                _ => "benign",
            };
            let mobile_net = (label == "benign:mobile").then(|| {
                let c = same_country[self.rng.usize(0..same_country.len())];
                self.network(c)
            });
            let vpn_net = (label == "benign:vpn" && !self.geo.anonymizer.is_empty())
                .then(|| self.geo.anonymizer[self.rng.usize(0..self.geo.anonymizer.len())].clone());
            let devices = (0..self.rng.usize(1..=3)).map(|_| self.device(&name)).collect();
            self.users.push(User { name, home, home_net, mobile_net, vpn_net, devices, label });
        }
    }

    fn benign(&mut self) {
        for u in 0..self.users.len() {
            let label = self.users[u].label;
            let per_day = 0.3 + self.rng.f32() * 1.7;
            // A traveller's one trip: where, when, how long.
            let trip = (label == "benign:traveller").then(|| {
                let dest = self.abroad(self.users[u].home);
                // After two days at home (a history to compare with), early
                // enough to spend at least a day abroad.
                let latest = self.cfg.days.saturating_sub(3).max(1);
                let leave = self.rng.u32(latest.min(2).min(latest - 1)..latest);
                (dest, leave, leave + self.rng.u32(5..9))
            });
            for day in 0..self.cfg.days {
                let n = (per_day + self.rng.f32()) as u32;
                // Two days in transit each way, with no sign-ins: at least
                // 28 hours between the last sign-in at home and the first
                // abroad, more than any flight (20 000 km at 800 km/h).
                if let Some((_, leave, back)) = trip
                    && ((leave..leave + 2).contains(&day) || (back - 1..back + 1).contains(&day))
                {
                    continue;
                }
                for _ in 0..n {
                    let (city, net) = match trip {
                        Some((dest, leave, back)) if day > leave && day < back => (dest, self.network(dest)),
                        _ => {
                            let user = &self.users[u];
                            match (&user.mobile_net, self.rng.bool()) {
                                (Some(m), true) => (user.home, m.clone()),
                                _ => (user.home, user.home_net.clone()),
                            }
                        }
                    };
                    let net = match &self.users[u].vpn_net {
                        Some(vpn) if self.rng.bool() => vpn.clone(),
                        _ => net,
                    };
                    let at = self.daytime(day, city);
                    let ip = self.host(&net);
                    let d = &self.users[u].devices;
                    let abroad = trip.is_some_and(|(_, leave, back)| day > leave && day < back);
                    let device = if abroad || self.rng.u8(0..100) < 85 {
                        d[0].clone()
                    } else {
                        d[self.rng.usize(0..d.len())].clone()
                    };
                    if self.rng.u8(0..100) < 7 {
                        // A typo, then the right password.
                        self.push(at, u as u32, ip, device.clone(), false, label);
                        let retry = at + Duration::seconds(self.rng.i64(10..45));
                        self.push(retry, u as u32, ip, device, true, label);
                    } else {
                        self.push(at, u as u32, ip, device, true, label);
                    }
                }
            }
        }
    }

    /// A city in another country than `home`'s (or `home` itself when the
    /// database knows one country only).
    fn abroad(&mut self, home: usize) -> usize {
        let far: Vec<usize> = self
            .geo
            .usable()
            .into_iter()
            .filter(|&c| self.geo.cities[c].country != self.geo.cities[home].country)
            .collect();
        if far.is_empty() { home } else { far[self.rng.usize(0..far.len())] }
    }

    /// A city abroad at least three time zones away: far enough that an hour
    /// between sign-ins there and at home is impossible travel.
    fn far_abroad(&mut self, home: usize) -> usize {
        let h = &self.geo.cities[home];
        let far: Vec<usize> = self
            .geo
            .usable()
            .into_iter()
            .filter(|&c| {
                let c = &self.geo.cities[c];
                c.country != h.country && (c.utc_offset - h.utc_offset).abs() >= 3.0
            })
            .collect();
        if far.is_empty() { self.abroad(home) } else { far[self.rng.usize(0..far.len())] }
    }

    fn random_user(&mut self) -> u32 {
        self.rng.u32(0..self.users.len() as u32)
    }

    /// When a campaign that `lasts` starts: after the first day (the pool
    /// has some history by then) and early enough to end inside the period.
    fn campaign_start(&mut self, lasts: Duration) -> DateTime<Utc> {
        let first = self.cfg.start + Duration::days(i64::from(self.cfg.days > 1));
        let last = self.cfg.start + Duration::days(self.cfg.days.into()) - lasts - Duration::minutes(1);
        let span = (last - first).num_minutes();
        if span <= 0 { first } else { first + Duration::minutes(self.rng.i64(0..span)) }
    }

    fn ordinary_host_anywhere(&mut self) -> std::net::IpAddr {
        let usable = self.geo.usable();
        let c = usable[self.rng.usize(0..usable.len())];
        let net = self.network(c);
        self.host(&net)
    }

    fn attacks(&mut self) {
        let scale = (self.users.len() / 2000).max(1);
        let mut id = 0;
        let mut next = || {
            id += 1;
            id
        };
        // Bots keep no cookies: the app's backend gives every request a new device id.
        let bot_device = |rng: &mut fastrand::Rng| Device {
            key: format!("attacker-{:08x}", rng.u32(..)),
            agent: ATTACK_AGENTS[rng.usize(0..ATTACK_AGENTS.len())],
        };
        // Credential stuffing: a botnet in many countries, ≤ 2 tries per user, mostly failing.
        for _ in 0..scale {
            let attempts = (self.users.len() / 4).max(20);
            let (c, start) = (next(), self.campaign_start(Duration::seconds(attempts as i64 * 7 + 10)));
            let bots: Vec<_> = (0..60).map(|_| self.ordinary_host_anywhere()).collect();
            let label = format!("credential_stuffing:c{c}");
            for k in 0..attempts {
                let at = start + Duration::seconds((k as i64) * 7);
                let (user, ip) = (self.random_user(), bots[self.rng.usize(0..bots.len())]);
                let device = bot_device(&mut self.rng);
                let ok = self.rng.u8(0..100) < 3;
                self.push(at, user, ip, device.clone(), ok, &label);
                if self.rng.u8(0..5) == 0 {
                    self.push(at + Duration::seconds(3), user, ip, device, false, &label);
                }
            }
        }
        // Password spraying: three IPs, many users, three tries each over hours.
        let victims: Vec<u32> = (0..(self.users.len() / 10).max(15)).map(|_| self.random_user()).collect();
        let (c, start) =
            (next(), self.campaign_start(Duration::hours(6) + Duration::seconds(victims.len() as i64 * 5)));
        let sprayers: Vec<_> = (0..3).map(|_| self.ordinary_host_anywhere()).collect();
        let label = format!("password_spraying:c{c}");
        for round in 0..3 {
            for (k, &user) in victims.iter().enumerate() {
                let at = start + Duration::hours(round * 3) + Duration::seconds(k as i64 * 5);
                let device = bot_device(&mut self.rng);
                self.push(at, user, sprayers[k % 3], device, false, &label);
            }
        }
        // Brute force on one account from one IP.
        let (c, start) = (next(), self.campaign_start(Duration::minutes(40)));
        let (user, ip) = (self.random_user(), self.ordinary_host_anywhere());
        let label = format!("brute_force:c{c}");
        for k in 0..120 {
            let device = bot_device(&mut self.rng);
            self.push(start + Duration::seconds(k * 20), user, ip, device, false, &label);
        }
        // Account takeover by impossible travel: a success far away minutes
        // after the victim's own sign-in, on a new device.
        for kind in ["takeover_travel", "takeover_slow"] {
            // A slow takeover takes up to three days: it needs a longer period.
            if kind == "takeover_slow" && self.cfg.days < 4 {
                continue;
            }
            let label = format!("{kind}:c{}", next());
            for _ in 0..(self.users.len() / 200).max(5) {
                // Victims at home (a traveller's "home" sign-in could fall mid-trip).
                let mut victim = self.random_user();
                for _ in 0..100 {
                    if self.users[victim as usize].label != "benign:traveller" {
                        break;
                    }
                    victim = self.random_user();
                }
                let home = self.users[victim as usize].home;
                let (dest, gap, latest_day) = if kind == "takeover_travel" {
                    (self.far_abroad(home), Duration::minutes(self.rng.i64(10..60)), self.cfg.days.saturating_sub(1))
                } else {
                    (self.abroad(home), Duration::hours(self.rng.i64(30..72)), self.cfg.days.saturating_sub(4))
                };
                let day = self.rng.u32(latest_day.min(1)..=latest_day);
                // The victim's own sign-in, as ever, then the attacker's.
                // Both inside the period (a local daytime can fall on the UTC
                // day before or after).
                let end = self.cfg.start + Duration::days(self.cfg.days.into());
                let own_at = self.daytime(day, home).clamp(self.cfg.start, end - gap - Duration::minutes(1));
                let own_net = self.users[victim as usize].home_net.clone();
                let own_ip = self.host(&own_net);
                let own_device = self.users[victim as usize].devices[0].clone();
                let own_label = self.users[victim as usize].label;
                self.push(own_at, victim, own_ip, own_device, true, own_label);
                let net = self.network(dest);
                let ip = self.host(&net);
                let device = self.device("attacker");
                self.push(own_at + gap, victim, ip, device, true, &label);
            }
        }
        // Stuffing from anonymizers: hosting and VPN networks.
        if !self.geo.anonymizer.is_empty() {
            let attempts = (self.users.len() / 10).max(15);
            let (c, start) = (next(), self.campaign_start(Duration::seconds(attempts as i64 * 11 + 10)));
            let label = format!("anonymizer:c{c}");
            for k in 0..attempts {
                let net = self.geo.anonymizer[self.rng.usize(0..self.geo.anonymizer.len())].clone();
                let ip = self.host(&net);
                let (user, device) = (self.random_user(), bot_device(&mut self.rng));
                self.push(start + Duration::seconds(k as i64 * 11), user, ip, device, false, &label);
            }
        }
    }
}

/// One replay line, serialised straight from borrowed data (a month of a
/// big pool is millions of lines). Field order follows AWS's documentation.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(rename = "receivedAt")]
    received_at: String,
    event: Envelope<'a>,
    label: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    version: &'a str,
    region: &'a str,
    user_pool_id: &'a str,
    user_name: &'a str,
    caller_context: CallerContext<'a>,
    trigger_source: &'a str,
    request: Request<'a>,
    response: Empty,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CallerContext<'a> {
    aws_sdk_version: &'a str,
    client_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    user_attributes: &'a Attributes,
    #[serde(skip_serializing_if = "Option::is_none")]
    validation_data: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    new_device_used: Option<bool>,
}

#[derive(Serialize)]
struct Attributes {
    sub: String,
    email_verified: &'static str,
    #[serde(rename = "cognito:user_status")]
    user_status: &'static str,
    email: String,
}

#[derive(Serialize)]
struct Empty {}

/// A try's two lines: its pre-auth event, and the post-auth event or the
/// backend's failure report that follows it a few hundred milliseconds later.
struct Rendered {
    now: String,
    later_at: DateTime<Utc>,
    later: String,
}

/// What every line of one file shares.
struct Render<'a> {
    cfg: &'a SimConfig,
    region: &'a str,
    users: &'a [User],
}

impl Render<'_> {
    /// The lines of the `n`th try (`n` makes its nonce unique).
    fn lines(&self, t: &Try, n: usize) -> serde_json::Result<Rendered> {
        let cfg = self.cfg;
        let user = &self.users[t.user as usize];
        let ctx = SignInContext {
            ip: t.ip.to_string(),
            user_agent: t.device.agent.to_string(),
            device: t.device.key.clone(),
            nonce: format!("{:016x}{n:08x}", cfg.seed),
            issued_at: t.at.timestamp(),
        };
        let attributes = Attributes {
            sub: format!("{:08x}-5b1e-4c1d-9a2f-{:012x}", t.user, u64::from(t.user) * 7919),
            email_verified: "true",
            user_status: "CONFIRMED",
            email: format!("{}@example.com", user.name),
        };
        let line = |at: DateTime<Utc>, source, request| Line {
            received_at: at.to_rfc3339_opts(SecondsFormat::Millis, true),
            event: Envelope {
                version: "1",
                region: self.region,
                user_pool_id: &cfg.user_pool_id,
                user_name: &user.name,
                caller_context: CallerContext { aws_sdk_version: "aws-sdk-js-3.700.0", client_id: &cfg.client_id },
                trigger_source: source,
                request,
                response: Empty {},
            },
            label: &t.label,
        };
        // Sorted keys: the file is the same for the same seed.
        let signed: BTreeMap<String, String> = ctx.sign(&user.name, &cfg.secret).into_iter().collect();
        let request =
            Request { user_attributes: &attributes, validation_data: Some(signed.clone()), new_device_used: None };
        let now = serde_json::to_string(&line(t.at, "PreAuthentication_Authentication", request))?;
        let (later_at, later) = if t.succeeds {
            let request = Request {
                user_attributes: &attributes,
                validation_data: None,
                new_device_used: Some(t.device.key.starts_with("attacker")),
            };
            let at = t.at + Duration::milliseconds(400);
            (at, serde_json::to_string(&line(at, "PostAuthentication_Authentication", request))?)
        } else {
            // Cognito answered NotAuthorizedException; the backend reports
            // it with the sign-in's signed context.
            let request =
                Request { user_attributes: &attributes, validation_data: Some(signed), new_device_used: None };
            let at = t.at + Duration::milliseconds(300);
            (at, serde_json::to_string(&line(at, BACKEND_FAILURE_SOURCE, request))?)
        };
        Ok(Rendered { now, later_at, later })
    }

    /// The lines of `tries` (the first being try `first`), on every core:
    /// signing and JSON are most of the simulator's time.
    fn all_lines(&self, tries: &[Try], first: usize) -> serde_json::Result<Vec<Rendered>> {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per = tries.len().div_ceil(workers).max(1);
        std::thread::scope(|scope| {
            let parts: Vec<_> = tries
                .chunks(per)
                .enumerate()
                .map(|(w, part)| {
                    scope.spawn(move || {
                        let at = first + w * per;
                        part.iter().enumerate().map(|(i, t)| self.lines(t, at + i)).collect::<Result<Vec<_>, _>>()
                    })
                })
                .collect();
            let mut all = Vec::with_capacity(tries.len());
            for part in parts {
                all.extend(part.join().expect("a simulator thread panicked")?);
            }
            Ok(all)
        })
    }
}

/// Tries rendered at a time: enough to keep the cores busy, few enough
/// that a month of a big pool is not all in memory as text.
const RENDER_BATCH: usize = 1 << 14;

/// Simulates the pool and writes the replay file, in time order.
pub fn simulate(cfg: &SimConfig, geo: &SimGeo, out: &mut impl Write) -> std::io::Result<SimSummary> {
    if geo.usable().is_empty() {
        return Err(std::io::Error::other("the city database places no network in any listed city"));
    }
    if cfg.users == 0 || cfg.days == 0 {
        return Err(std::io::Error::other("a pool needs at least one user and one day"));
    }
    let mut sim = Sim { cfg, geo, rng: fastrand::Rng::with_seed(cfg.seed), users: Vec::new(), tries: Vec::new() };
    sim.population();
    sim.benign();
    sim.attacks();
    let end = cfg.start + Duration::days(cfg.days.into());
    sim.tries.retain(|t| t.at >= cfg.start && t.at < end);
    sim.tries.sort_by_key(|t| t.at);
    let region = cfg.user_pool_id.split('_').next().unwrap_or("eu-west-1");
    let render = Render { cfg, region, users: &sim.users };
    let mut summary = SimSummary::default();
    let mut kinds: Vec<(String, usize)> = Vec::new();
    // Successes land 400 ms after their attempt, possibly after the next
    // attempt: held here until the file's time passes them.
    let mut held: std::collections::BinaryHeap<std::cmp::Reverse<(DateTime<Utc>, usize, String)>> =
        std::collections::BinaryHeap::new();
    // One thread renders the next batch (on every core) while this one
    // writes the last: writing is about a third of the time.
    let tries = &sim.tries;
    let render = &render;
    std::thread::scope(|scope| -> std::io::Result<()> {
        let (batches, rendered) = std::sync::mpsc::sync_channel(1);
        let renderer = scope.spawn(move || -> serde_json::Result<()> {
            for (b, batch) in tries.chunks(RENDER_BATCH).enumerate() {
                if batches.send(render.all_lines(batch, b * RENDER_BATCH)?).is_err() {
                    break; // the writer stopped on an error of its own
                }
            }
            Ok(())
        });
        for (b, lines) in rendered.into_iter().enumerate() {
            let first = b * RENDER_BATCH;
            for (i, (t, lines)) in tries[first..].iter().zip(lines).enumerate() {
                while held.peek().is_some_and(|h| h.0.0 <= t.at) {
                    let std::cmp::Reverse((_, _, line)) = held.pop().expect("peeked");
                    writeln!(out, "{line}")?;
                }
                writeln!(out, "{}", lines.now)?;
                held.push(std::cmp::Reverse((lines.later_at, first + i, lines.later)));
                summary.pre_auth += 1;
                if t.succeeds {
                    summary.post_auth += 1;
                } else {
                    summary.backend_failures += 1;
                }
                let kind = t.label.split(':').next().unwrap_or("");
                match kinds.iter_mut().find(|(k, _)| k == kind) {
                    Some((_, c)) => *c += 1,
                    None => kinds.push((kind.to_string(), 1)),
                }
            }
        }
        renderer.join().expect("the simulator's renderer panicked")?;
        Ok(())
    })?;
    while let Some(std::cmp::Reverse((_, _, line))) = held.pop() {
        writeln!(out, "{line}")?;
    }
    summary.lines = summary.pre_auth + summary.post_auth + summary.backend_failures;
    summary.by_kind = kinds;
    Ok(summary)
}
