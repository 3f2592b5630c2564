//! The real `pre-auth` and `post-auth` binaries behind a Lambda runtime API
//! emulator (`cargo lambda watch --only-lambda-apis`, started on 127.0.0.1
//! by `scripts/test`), invoked through the Lambda Invoke API as Cognito would.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pipeline::event::{ContextStatus, Event, EventType};
use pipeline::stream::{read_shard, shard_ids};

use super::handlers::{fixture, root};

fn api() -> String {
    std::env::var("AUTHTRAIL_TEST_LAMBDA_API")
        .expect("AUTHTRAIL_TEST_LAMBDA_API is not set: run the suite with ./scripts/test, which starts the emulator")
}

/// A function process that is killed when dropped.
struct Function(Option<Child>);

impl Function {
    /// Each function gets its own data directory, as each Lambda function has
    /// its own /tmp: a local stream has one writer process at a time.
    fn start(name: &str, binary: &str, dir: &Path) -> Function {
        let mut cmd = Command::new(binary);
        cmd.current_dir(dir)
            .env("AUTHTRAIL__DATA_DIR", dir.join(name))
            .env("AWS_LAMBDA_RUNTIME_API", format!("http://{}/.rt/{name}", api()))
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AUTHTRAIL_CONTEXT_SECRET", "fixture-secret")
            .env("AUTHTRAIL__GEOIP__CITY", root().join("tests/data/maxmind/GeoIP2-City-Test.mmdb"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Function(Some(cmd.spawn().expect("function binary starts")))
    }

    /// Stops the function and returns what it printed on stdout.
    fn stop(mut self) -> String {
        let mut child = self.0.take().unwrap();
        let _ = child.kill();
        String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout).into_owned()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// POST to the Invoke API: (HTTP status, body).
fn invoke(name: &str, body: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let url = format!("http://{}/2015-03-31/functions/{name}/invocations", api());
    let mut response = agent.post(&url).send(body).expect("the emulator answers");
    (response.status().as_u16(), response.body_mut().read_to_string().unwrap())
}

#[test]
fn lambda_binaries_allow_with_the_unchanged_event_and_deny_generically() {
    let tmp = tempfile::tempdir().unwrap();
    let pre = Function::start("pre-auth", env!("CARGO_BIN_EXE_pre-auth"), tmp.path());
    let post = Function::start("post-auth", env!("CARGO_BIN_EXE_post-auth"), tmp.path());

    // The signed fixture was issued in 2025: stale now, so unverified but allowed.
    let signed = fixture("pre_auth_signed_email_alias.json");
    let (status, body) = invoke("pre-auth", &signed);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, signed, "allow answers with the received event, byte for byte");

    let success = fixture("post_auth_documented.json");
    let (status, body) = invoke("post-auth", &success);
    assert_eq!((status, body.as_str()), (200, success.as_str()));

    let (status, body) = invoke("pre-auth", &fixture("pre_auth_no_username.json"));
    assert_eq!(status, 500);
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["errorType"], "SignInDenied");
    assert_eq!(error["errorMessage"], functions::DENIAL_MESSAGE);

    let pre_out = pre.stop();
    let post_out = post.stop();
    // One EMF line per invocation, and the unusable event kept as a spill line.
    let emf = |out: &str| out.lines().filter(|l| l.contains("\"CloudWatchMetrics\"")).count();
    assert_eq!((emf(&pre_out), emf(&post_out)), (2, 1), "pre:\n{pre_out}\npost:\n{post_out}");
    assert!(pre_out.lines().any(|l| pipeline::stream::parse_spill_line(l).is_some()), "{pre_out}");

    let events: Vec<Event> = ["pre-auth", "post-auth"]
        .iter()
        .flat_map(|f| {
            let dir = tmp.path().join(f).join("stream");
            shard_ids(&dir).unwrap().into_iter().flat_map(move |s| read_shard(&dir, &s, 0).unwrap())
        })
        .map(|r| Event::from_json(&r.data).unwrap())
        .collect();
    assert_eq!(events.len(), 2);
    let attempt = events.iter().find(|e| e.event_type == EventType::Attempt).unwrap();
    assert_eq!(attempt.context_status, ContextStatus::Stale);
    assert_eq!(attempt.geo_city.as_deref(), Some("London"));
    assert!(events.iter().any(|e| e.event_type == EventType::Success && e.new_device == Some(true)));
}
