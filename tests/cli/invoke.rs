use std::time::Duration;

use aws_sdk_kinesis::types::ShardIteratorType;
use pipeline::event::Event;
use pipeline::stream::{parse_spill_line, read_shard, shard_ids};

use super::{authtrail, fixture, stderr, stdout};

fn path(name: &str) -> String {
    fixture(name).to_str().unwrap().to_string()
}

#[test]
fn invoke_writes_the_event_to_the_local_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let out = authtrail(tmp.path(), &["invoke", "post-auth", &path("post_auth_documented.json")], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: Event = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(printed.new_device, Some(true));
    let dir = tmp.path().join("data/stream");
    let stored: Vec<_> = shard_ids(&dir).unwrap().iter().flat_map(|s| read_shard(&dir, s, 0).unwrap()).collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(Event::from_json(&stored[0].data).unwrap(), printed);
    assert_eq!(stored[0].partition_key, "us-west-2_EXAMPLE/testuser");
}

#[test]
fn invoke_reads_standard_input_and_honours_at() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_authtrail"))
        .current_dir(tmp.path())
        .args(["invoke", "pre-auth", "-", "--at", "2025-11-22T09:00:05Z"])
        .env("AUTHTRAIL_CONTEXT_SECRET", "fixture-secret")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(std::fs::read(fixture("pre_auth_signed_email_alias.json")).unwrap().as_slice())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let e: Event = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(e.time.to_rfc3339(), "2025-11-22T09:00:05+00:00");
    // Issued at 09:00:00, so fresh at 09:00:05: verified.
    assert!(e.ip_verified, "{:?}", e.notes);
}

#[test]
fn malformed_events_exit_1_and_config_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let out = authtrail(tmp.path(), &["invoke", "pre-auth", &path("pre_auth_no_username.json")], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("malformed event, denied"), "{}", stderr(&out));
    assert!(stdout(&out).contains("authtrail_spill"), "the raw event is spilled");

    let out = authtrail(
        tmp.path(),
        &["invoke", "pre-auth", &path("pre_auth_documented.json")],
        &[("AUTHTRAIL__STREAM__BUDGET_MS", "lots")],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("stream.budget_ms") && err.contains("AUTHTRAIL__STREAM__BUDGET_MS"), "{err}");

    std::fs::write(tmp.path().join("authtrail.toml"), "[stream]\nkind = \"kinesis\"\n").unwrap();
    let out = authtrail(tmp.path(), &["invoke", "pre-auth", &path("pre_auth_documented.json")], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("stream.kinesis_stream"), "{}", stderr(&out));
}

fn kinesis_env<'a>(stream: &'a str, budget: &'a str, fail_mode: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("AUTHTRAIL__STREAM__KIND", "kinesis"),
        ("AUTHTRAIL__STREAM__KINESIS_STREAM", stream),
        ("AUTHTRAIL__STREAM__BUDGET_MS", budget),
        ("AUTHTRAIL__STREAM__FAIL_MODE", fail_mode),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_emits_to_kinesis_and_the_record_reads_back() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_KINESIS").is_ok(),
        "AWS_ENDPOINT_URL_KINESIS is not set: run the suite with ./scripts/test"
    );
    let client = pipeline::stream::kinesis_client().await;
    let name = format!("authtrail-cli-{}", std::process::id());
    client.create_stream().stream_name(&name).shard_count(1).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let tmp = tempfile::tempdir().unwrap();
    let env = kinesis_env(&name, "2000", "open");
    // The CLI is another process: blocking this worker thread is harmless.
    let out = authtrail(tmp.path(), &["invoke", "pre-auth", &path("pre_auth_documented.json")], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("emitted to shardId-"), "{}", stderr(&out));
    let printed: Event = serde_json::from_str(&stdout(&out)).unwrap();

    let shard = client.list_shards().stream_name(&name).send().await.unwrap().shards()[0].shard_id().to_string();
    let it = client
        .get_shard_iterator()
        .stream_name(&name)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let page = client.get_records().shard_iterator(it.shard_iterator().unwrap()).send().await.unwrap();
    assert_eq!(page.records().len(), 1);
    let record = &page.records()[0];
    assert_eq!(record.partition_key(), Some("us-west-2_EXAMPLE/testuser"));
    assert_eq!(Event::from_json(record.data().as_ref()).unwrap(), printed);
}

#[test]
fn an_unreachable_stream_spills_and_fails_open_or_closed() {
    // Nothing listens on this port once the listener is dropped.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let tmp = tempfile::tempdir().unwrap();
    let file = path("pre_auth_documented.json");
    let mut env: Vec<(&str, &str)> = kinesis_env("nowhere", "150", "open").to_vec();
    env.push(("AWS_ENDPOINT_URL_KINESIS", &endpoint));
    let out = authtrail(tmp.path(), &["invoke", "pre-auth", &file], &env);
    assert!(out.status.success(), "fail open: {}", stderr(&out));
    let spill = stdout(&out).lines().find_map(parse_spill_line).expect("a spill line on stdout");
    let event = Event::from_json(&spill.data).unwrap();
    assert_eq!(event.username, "testuser");
    assert!(stderr(&out).contains("not delivered"), "{}", stderr(&out));

    let mut env: Vec<(&str, &str)> = kinesis_env("nowhere", "150", "closed").to_vec();
    env.push(("AWS_ENDPOINT_URL_KINESIS", &endpoint));
    let out = authtrail(tmp.path(), &["invoke", "pre-auth", &file], &env);
    assert_eq!(out.status.code(), Some(1), "fail closed denies");
    assert!(stdout(&out).lines().any(|l| parse_spill_line(l).is_some()), "still spilled");
}
