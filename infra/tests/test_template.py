"""The stack's settings that a linter cannot know are right for authtrail."""

from __future__ import annotations

import pathlib

import pytest
from cfn import Resolver

FUNCTIONS = {
    "PreAuthFunction": ("pre-auth", "PreAuthLogs"),
    "PostAuthFunction": ("post-auth", "PostAuthLogs"),
    "LakeWriterFunction": ("lake-writer", "LakeWriterLogs"),
    "RiskScorerFunction": ("risk-scorer", "RiskScorerLogs"),
}


@pytest.fixture(scope="module")
def r(template):
    return Resolver(template)


def test_functions_are_arm64_al2023_with_their_own_logs(r, template):
    functions = dict(r.of_type("AWS::Lambda::Function"))
    assert set(functions) == set(FUNCTIONS)
    for name, (binary, logs) in FUNCTIONS.items():
        f = functions[name]
        assert (f["Runtime"], f["Handler"], f["Architectures"]) == ("provided.al2023", "bootstrap", ["arm64"]), name
        assert f["FunctionName"] == f"authtrail-prod-{binary}"
        assert f["Code"] == {"S3Bucket": "authtrail-build-artifacts", "S3Key": f"{binary}.zip"}, name
        # Its own log group, with a retention (spilled events live there).
        assert f["LoggingConfig"]["LogGroup"] == "{%s}" % logs, name
        group = r.properties(logs)
        assert group["LogGroupName"] == f"/aws/lambda/authtrail-prod-{binary}"
        assert int(group["RetentionInDays"]) == 90


def test_the_sam_template_names_each_binary():
    # sam build runs `cargo lambda build --bin <Binary>` per function.
    text = (pathlib.Path(__file__).resolve().parent.parent / "template.yaml").read_text()
    for binary, _ in FUNCTIONS.values():
        assert f"Binary: {binary}" in text
    cargo = (pathlib.Path(__file__).resolve().parents[2] / "functions" / "Cargo.toml").read_text()
    for binary, _ in FUNCTIONS.values():
        assert f'name = "{binary}"' in cargo, f"{binary} is not a bin of functions/"


def test_triggers_answer_within_cognitos_five_seconds(r):
    for name in ("PreAuthFunction", "PostAuthFunction"):
        assert int(r.properties(name)["Timeout"]) <= 5, name
    # The scorer finishes before the next scheduled run starts.
    assert int(r.properties("RiskScorerFunction")["Timeout"]) < 15 * 60


def test_the_stream_is_on_demand_and_encrypted(r):
    s = r.properties("EventStream")
    assert s["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert s["StreamEncryption"]["EncryptionType"] == "KMS"
    assert int(s["RetentionPeriodHours"]) * 3600 > int(r.properties("LakeWriterMapping")["MaximumRecordAgeInSeconds"])


def test_the_lake_writer_mapping_cannot_block_its_shard(r):
    m = r.properties("LakeWriterMapping")
    assert m["EventSourceArn"] == "{EventStream.Arn}"
    assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert m["BisectBatchOnFunctionError"] is True
    # Both default to -1: retried for the stream's whole retention.
    assert 0 <= int(m["MaximumRetryAttempts"]) <= 10
    assert 60 <= int(m["MaximumRecordAgeInSeconds"]) <= 7 * 86400
    # S3 keeps whole failed batches (SQS and SNS would get only their range).
    assert m["DestinationConfig"]["OnFailure"]["Destination"] == "{LakeBucket.Arn}"
    assert m["StartingPosition"] == "TRIM_HORIZON"


def test_the_lake_is_private_encrypted_and_expires_its_scratch(r):
    b = r.properties("LakeBucket")
    assert set(b["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(b["PublicAccessBlockConfiguration"]) == 4
    assert b["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
    rules = {rule.get("Prefix"): rule for rule in b["LifecycleConfiguration"]["Rules"]}
    for prefix in ("dead-letter/", "aws/lambda/", "athena-results/", "snapshots/snapshot-"):
        assert rules[prefix]["Status"] == "Enabled" and int(rules[prefix]["ExpirationInDays"]) > 0, prefix
    # Never the events themselves, nor the pointer to the current snapshot,
    # nor anything bucket-wide.
    assert not any(p and (p.startswith("events") or p == "snapshots/") for p in rules)
    assert not {"ExpirationInDays", "ExpirationDate"} & set(rules[None]), "a bucket-wide rule expires current objects"
    assert rules[None]["ExpiredObjectDeleteMarker"] is True
    policy = r.properties("LakeBucketPolicy")["PolicyDocument"]["Statement"]
    assert any(st["Effect"] == "Deny" and st["Condition"]["Bool"]["aws:SecureTransport"] == "false" for st in policy)


def test_no_secret_sits_in_the_template_or_the_environment(r, template):
    # The context key is fetched from Secrets Manager at cold start: the
    # environment names the secret, never holds it.
    for name, f in r.of_type("AWS::Lambda::Function"):
        env = f.get("Environment", {}).get("Variables", {})
        for key, value in env.items():
            assert "SECRET" not in key or key == "AUTHTRAIL__CONTEXT__SECRET_ARN", (name, key)
        if name in ("PreAuthFunction", "PostAuthFunction"):
            assert env["AUTHTRAIL__CONTEXT__SECRET_ARN"] == "{ContextSecret}"
    for name, p in template["Parameters"].items():
        if "secret" in name.lower() or "password" in name.lower():
            assert name == "ContextSecretArn", f"{name}: pass secrets by reference, not value"
    generate = r.properties("ContextSecret")["GenerateSecretString"]
    assert int(generate["PasswordLength"]) >= 32


def test_outputs_give_what_a_user_needs_next(template):
    for key in (
        "EventStreamName", "LakeBucketName", "PreAuthFunctionArn", "PostAuthFunctionArn",
        "LakeWriterFunctionArn", "RiskScorerFunctionArn", "ContextSecretArn", "DashboardUrl", "AlarmTopicArn",
    ):
        assert key in template["Outputs"], key
    # attach-cognito-triggers reads these two.
    script = (pathlib.Path(__file__).resolve().parent.parent / "scripts" / "attach-cognito-triggers").read_text()
    assert '"PreAuthFunctionArn"' in script and '"PostAuthFunctionArn"' in script
