use pipeline::event::{ContextStatus, Event, EventType};
use pipeline::stream::{read_shard, shard_ids};

use super::{authtrail, stderr, stdout};

#[test]
fn tour_emits_enriched_events_into_the_local_stream_and_reruns_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let out = authtrail(tmp.path(), &["tour"], &[]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    for expected in
        ["London, GB", "Linköping, SE", "Changchun, CN", "bad_signature", "unsigned", "denied, kept as a spill line"]
    {
        assert!(text.contains(expected), "demo output lacks {expected:?}:\n{text}");
    }

    let dir = tmp.path().join("data/stream");
    let events: Vec<Event> = shard_ids(&dir)
        .unwrap()
        .iter()
        .flat_map(|s| read_shard(&dir, s, 0).unwrap())
        .map(|r| Event::from_json(&r.data).expect("every record is a valid event"))
        .collect();
    let attempts = events.iter().filter(|e| e.event_type == EventType::Attempt).count();
    let successes = events.iter().filter(|e| e.event_type == EventType::Success).count();
    assert_eq!((attempts, successes), (9, 5), "9 attempts, 5 successes");
    let alice_home = events
        .iter()
        .find(|e| {
            e.username == "alice" && e.event_type == EventType::Attempt && e.geo_city.as_deref() == Some("London")
        })
        .expect("alice's London attempt");
    assert!(alice_home.ip_verified);
    assert_eq!(alice_home.device_browser.as_deref(), Some("Firefox"));
    let frank = events.iter().find(|e| e.username == "frank").unwrap();
    assert_eq!(frank.context_status, ContextStatus::BadSignature);
    // The scorer ran between the two halves: alice's sign-in from Changchun
    // 21 minutes after London is decided with her snapshot profile.
    let changchun = events.iter().find(|e| e.geo_city.as_deref() == Some("Changchun")).unwrap();
    assert_eq!(changchun.decision_level.as_deref(), Some("high"), "{:?}", changchun.decision_reasons);
    assert!(
        changchun.decision_reasons.iter().any(|r| r.starts_with("impossible_travel:")),
        "{:?}",
        changchun.decision_reasons
    );
    assert!(changchun.snapshot_version.is_some());
    assert_eq!(changchun.decision_action.as_deref(), Some("allow"), "audit mode");
    let bob_success = events.iter().find(|e| e.username == "bob" && e.event_type == EventType::Success).unwrap();
    assert_eq!((bob_success.context_status, bob_success.new_device), (ContextStatus::Verified, Some(true)));

    // A second run appends to the same stream; --fresh starts over.
    assert!(authtrail(tmp.path(), &["tour"], &[]).status.success());
    let count = |dir: &std::path::Path| {
        shard_ids(dir).unwrap().iter().map(|s| read_shard(dir, s, 0).unwrap().len()).sum::<usize>()
    };
    assert_eq!(count(&dir), 28);
    assert!(authtrail(tmp.path(), &["tour", "--fresh"], &[]).status.success());
    assert_eq!(count(&dir), 14);
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_authtrail"))
        .current_dir(tmp.path())
        .arg("tour")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the first line (`authtrail tour | head -0`).
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.signal(), Some(13), "ended by SIGPIPE like other tools: {:?} {err}", out.status);
}
