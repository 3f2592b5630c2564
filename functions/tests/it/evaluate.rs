//! Evaluation on a small hand-written labels / decisions pair.

use functions::evaluate::{AttackRow, BenignRow, Evaluation, evaluate, table, target_misses};
use serde_json::json;

fn label(at: &str, source: &str, ip: &str, label: &str) -> String {
    json!({
        "receivedAt": at, "label": label,
        "event": { "triggerSource": source, "userName": "u", "request": { "validationData": { "authtrail:ip": ip } } },
    })
    .to_string()
}

fn decision(line: usize, action: &str, would_deny: bool) -> String {
    json!({ "line": line, "receivedAt": "2026-03-02T10:00:00Z", "user_pool_id": "p", "user": "u", "event_id": "e",
            "action": action, "score": 0, "level": "low", "reasons": [], "would_deny": would_deny })
    .to_string()
}

#[test]
fn recall_time_to_first_block_and_false_blocks() {
    let pre = "PreAuthentication_Authentication";
    let labels = [
        label("2026-03-02T10:00:00Z", pre, "198.51.100.1", "credential_stuffing:c1"), // 1 allowed
        label("2026-03-02T10:01:00Z", pre, "198.51.100.2", "credential_stuffing:c1"), // 2 allowed
        String::new(),                                                                // 3: a blank line still counts
        label("2026-03-02T10:06:00Z", pre, "198.51.100.1", "credential_stuffing:c1"), // 4 blocked
        label("2026-03-02T10:07:00Z", pre, "198.51.100.1", "credential_stuffing:c1"), // 5 blocked
        label("2026-03-02T10:07:00Z", "PostAuthentication_Authentication", "", "benign"), // 6 not an attempt
        label("2026-03-02T11:00:00Z", pre, "203.0.113.9", "takeover_travel:c2"),      // 7 blocked (audit: would deny)
        label("2026-03-02T12:00:00Z", pre, "192.0.2.1", "benign"),                    // 8 allowed
        label("2026-03-02T12:00:00Z", pre, "192.0.2.2", "benign:traveller"),          // 9 blocked
        label("2026-03-02T12:00:00Z", pre, "192.0.2.3", "benign:vpn"),                // 10 allowed
        label("2026-03-02T12:00:00Z", pre, "192.0.2.4", "benign"),                    // 11 no decision
    ]
    .join("\n");
    let decisions = [
        decision(1, "allow", false),
        decision(2, "allow", false),
        decision(4, "deny", true),
        decision(5, "deny", true),
        decision(7, "allow", true),
        decision(8, "allow", false),
        decision(9, "deny", true),
        decision(10, "allow", false),
    ]
    .join("\n");
    let e = evaluate(labels.as_bytes(), decisions.as_bytes()).unwrap();
    assert_eq!(
        e.attacks[0],
        AttackRow {
            kind: "credential_stuffing".into(),
            campaigns: 1,
            attempts: 4,
            blocked: 2,
            recall: 0.5,
            ips: 2,
            ips_blocked: 1,
            ip_recall: 0.5,
            median_secs_to_first_block: Some(360.0),
        }
    );
    assert_eq!(
        (e.attacks[1].kind.as_str(), e.attacks[1].recall, e.attacks[1].median_secs_to_first_block),
        ("takeover_travel", 1.0, Some(0.0))
    );
    assert_eq!(
        e.benign,
        vec![
            BenignRow { group: "all".into(), sign_ins: 3, blocked: 1, false_block_rate: 1.0 / 3.0 },
            BenignRow { group: "travellers".into(), sign_ins: 1, blocked: 1, false_block_rate: 1.0 },
            BenignRow { group: "VPN users".into(), sign_ins: 1, blocked: 0, false_block_rate: 0.0 },
        ]
    );
    assert_eq!(e.undecided, 1);
    let t = table(&e);
    assert!(t.contains("credential_stuffing") && t.contains("6 min") && t.contains("33.333%"), "{t}");
    assert!(t.contains("targets missed:\n  credential_stuffing IP recall 0.5000, target at least 0.95"), "{t}");
}

fn attack(kind: &str, recall: f64, ip_recall: f64) -> AttackRow {
    AttackRow {
        kind: kind.into(),
        campaigns: 1,
        attempts: 100,
        blocked: 0,
        recall,
        ips: 10,
        ips_blocked: 0,
        ip_recall,
        median_secs_to_first_block: None,
    }
}

#[test]
fn targets_are_checked_at_their_edges() {
    let benign = |rate: f64| BenignRow { group: "all".into(), sign_ins: 10_000, blocked: 0, false_block_rate: rate };
    let mut e = Evaluation {
        attacks: vec![
            // Attempt recall does not count for stuffing and spraying: IP recall does.
            attack("credential_stuffing", 0.10, 0.95),
            attack("password_spraying", 0.20, 0.95),
            attack("takeover_travel", 0.90, 0.0),
            attack("takeover_slow", 0.90, 0.0),
        ],
        benign: vec![benign(0.001)],
        undecided: 0,
    };
    assert_eq!(target_misses(&e), Vec::<String>::new());
    assert!(table(&e).contains("targets: all met"));
    e.attacks[1].ip_recall = 0.9499;
    e.attacks[3].recall = 0.8999;
    e.benign[0].false_block_rate = 0.0011;
    e.attacks.remove(2);
    assert_eq!(
        target_misses(&e),
        [
            "password_spraying IP recall 0.9499, target at least 0.95",
            "takeover_travel recall not measured (no such events), target at least 0.9",
            "takeover_slow recall 0.8999, target at least 0.9",
            "benign false-block rate 0.0011, target at most 0.001",
        ]
    );
}

#[test]
fn bad_lines_are_named() {
    let err = evaluate("{}\n".as_bytes(), "".as_bytes()).unwrap_err().to_string();
    assert!(err.starts_with("labels line 1:"), "{err}");
    let err = evaluate("".as_bytes(), "not json".as_bytes()).unwrap_err().to_string();
    assert!(err.starts_with("decisions line 1:"), "{err}");
}
