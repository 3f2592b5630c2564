"""Least privilege, pinned: each role's exact actions on exact resources.

Read from the translated template (what CloudFormation receives, SAM's
generated roles included). A new action, a wider resource, a managed policy
or a `*` anywhere fails here; changing a role means changing ALLOWED in the
same commit, where a reviewer sees it.
"""

from __future__ import annotations

import copy

import pytest
from cfn import Resolver

# role -> {(action, resource)}; resources as the Resolver renders them with
# the default parameters ({Id} / {Id.Attr} for the stack's own resources).
LAKE = "{LakeBucket.Arn}"
ALLOWED = {
    "PreAuthRole": {
        ("logs:CreateLogStream", "{PreAuthLogs.Arn}"),
        ("logs:PutLogEvents", "{PreAuthLogs.Arn}"),
        ("kinesis:PutRecord", "{EventStream.Arn}"),
        ("kinesis:PutRecords", "{EventStream.Arn}"),
        ("s3:GetObject", f"{LAKE}/snapshots/*"),
        ("s3:ListBucket", LAKE),
        ("secretsmanager:GetSecretValue", "{ContextSecret}"),
    },
    "PostAuthRole": {
        ("logs:CreateLogStream", "{PostAuthLogs.Arn}"),
        ("logs:PutLogEvents", "{PostAuthLogs.Arn}"),
        ("kinesis:PutRecord", "{EventStream.Arn}"),
        ("kinesis:PutRecords", "{EventStream.Arn}"),
        ("secretsmanager:GetSecretValue", "{ContextSecret}"),
    },
    "LakeWriterRole": {
        ("logs:CreateLogStream", "{LakeWriterLogs.Arn}"),
        ("logs:PutLogEvents", "{LakeWriterLogs.Arn}"),
        ("kinesis:DescribeStream", "{EventStream.Arn}"),
        ("kinesis:DescribeStreamSummary", "{EventStream.Arn}"),
        ("kinesis:GetRecords", "{EventStream.Arn}"),
        ("kinesis:GetShardIterator", "{EventStream.Arn}"),
        ("kinesis:ListShards", "{EventStream.Arn}"),
        ("s3:PutObject", f"{LAKE}/events/*"),
        ("s3:PutObject", f"{LAKE}/dead-letter/*"),
        ("s3:PutObject", f"{LAKE}/aws/lambda/*"),
        ("s3:ListBucket", LAKE),
    },
    "RiskScorerRole": {
        ("logs:CreateLogStream", "{RiskScorerLogs.Arn}"),
        ("logs:PutLogEvents", "{RiskScorerLogs.Arn}"),
        ("s3:ListBucket", LAKE),
        ("s3:GetObject", f"{LAKE}/events/*"),
        ("s3:PutObject", f"{LAKE}/risk/*"),
        ("s3:PutObject", f"{LAKE}/snapshots/*"),
    },
    # SAM's ScheduleV2 role: invoke the scorer, park failed invocations.
    "RiskScorerFunctionEvery15MinutesRole": {
        ("lambda:InvokeFunction", "{RiskScorerFunction.Arn}"),
        ("sqs:SendMessage", "{ScheduleDeadLetters.Arn}"),
    },
}

# ListBucket lists keys; where a role may list, only under these prefixes.
LIST_PREFIXES = {
    "PreAuthRole": ["snapshots/*"],
    "RiskScorerRole": ["events", "events/*", "snapshots/*"],
}

TRUST = {
    "PreAuthRole": "lambda.amazonaws.com",
    "PostAuthRole": "lambda.amazonaws.com",
    "LakeWriterRole": "lambda.amazonaws.com",
    "RiskScorerRole": "lambda.amazonaws.com",
    "RiskScorerFunctionEvery15MinutesRole": "scheduler.amazonaws.com",
}


def as_list(v):
    return v if isinstance(v, list) else [v]


def grants(role: dict):
    """(action, resource, statement) for every Allow in the role's policies."""
    for policy in role.get("Policies", []):
        for st in policy["PolicyDocument"]["Statement"]:
            for action in as_list(st.get("Action", [])):
                for resource in as_list(st.get("Resource", [])):
                    yield st["Effect"], action, resource, st


def violations(template: dict) -> list[str]:
    r = Resolver(template)
    roles = dict(r.of_type("AWS::IAM::Role"))
    found = []
    if set(roles) != set(ALLOWED):
        found.append(f"roles {sorted(roles)} != the pinned {sorted(ALLOWED)}")
    for name, role in roles.items():
        if role.get("ManagedPolicyArns"):
            found.append(f"{name}: managed policies {role['ManagedPolicyArns']}")
        trust = role["AssumeRolePolicyDocument"]["Statement"]
        principals = {p for st in trust for p in as_list(st["Principal"].get("Service", []))}
        if principals != {TRUST.get(name)}:
            found.append(f"{name}: trusted by {sorted(principals)}")
        have = set()
        for effect, action, resource, st in grants(role):
            if effect != "Allow":
                continue
            if "*" in action:
                found.append(f"{name}: wildcard action {action}")
            if resource == "*":
                found.append(f"{name}: {action} on *")
            if "NotAction" in st or "NotResource" in st:
                found.append(f"{name}: NotAction/NotResource")
            if action == "s3:ListBucket" and name in LIST_PREFIXES:
                prefixes = as_list(st.get("Condition", {}).get("StringLike", {}).get("s3:prefix", []))
                if prefixes != LIST_PREFIXES[name]:
                    found.append(f"{name}: ListBucket prefixes {prefixes} != {LIST_PREFIXES[name]}")
            have.add((action, resource))
        extra, missing = have - ALLOWED.get(name, set()), ALLOWED.get(name, set()) - have
        if extra:
            found.append(f"{name}: not allowed {sorted(extra)}")
        if missing:
            found.append(f"{name}: no longer granted {sorted(missing)} (update ALLOWED)")
    for name, props in r.of_type("AWS::IAM::Policy"):
        found.append(f"{name}: a stand-alone policy (keep grants inline in their role)")
    for name, props in r.of_type("AWS::IAM::ManagedPolicy"):
        found.append(f"{name}: a managed policy")
    return found


def test_every_role_holds_exactly_its_pinned_grants(template):
    assert violations(template) == []


def test_no_role_may_publish_metrics_or_touch_other_streams(template):
    # Lambda functions publish metrics as EMF log lines: no PutMetricData.
    r = Resolver(template)
    for name, role in r.of_type("AWS::IAM::Role"):
        actions = {a for _, a, _, _ in grants(role)}
        assert "cloudwatch:PutMetricData" not in actions, name
        assert not any(a.startswith(("kinesis:Create", "kinesis:Delete", "s3:Delete", "iam:")) for a in actions), name


@pytest.mark.parametrize(
    "mutate, expect",
    [
        (lambda t: t["Resources"]["PreAuthRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
            {"Effect": "Allow", "Action": "kinesis:DeleteStream", "Resource": {"Fn::GetAtt": ["EventStream", "Arn"]}}),
         "not allowed"),
        (lambda t: t["Resources"]["LakeWriterRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),
         "wildcard action"),
        (lambda t: t["Resources"]["RiskScorerRole"]["Properties"].__setitem__(
            "ManagedPolicyArns", ["arn:aws:iam::aws:policy/AmazonS3FullAccess"]),
         "managed policies"),
        (lambda t: t["Resources"]["PreAuthRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][2].__setitem__(
            "Resource", "*"),
         "on *"),
        (lambda t: t["Resources"]["RiskScorerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][1].pop(
            "Condition"),
         "ListBucket prefixes"),
    ],
)
def test_the_check_catches_a_wider_grant(template, mutate, expect):
    t = copy.deepcopy(template)
    mutate(t)
    assert any(expect in v for v in violations(t)), violations(t)


def test_cognito_may_invoke_the_triggers_only_for_its_pool_and_account(template):
    r = Resolver(template, {"UserPoolArn": "arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_Abc"})
    permissions = dict(r.of_type("AWS::Lambda::Permission"))
    assert set(permissions) == {"PreAuthInvokePermission", "PostAuthInvokePermission"}
    for name, p in permissions.items():
        assert p["Principal"] == "cognito-idp.amazonaws.com", name
        assert p["Action"] == "lambda:InvokeFunction", name
        assert p["SourceArn"] == "arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_Abc", name
        assert p["SourceAccount"] == "123456789012", name
    # With no pool given, the demo pool's ARN.
    demo = dict(Resolver(template).of_type("AWS::Lambda::Permission"))
    assert {p["SourceArn"] for p in demo.values()} == {"{DemoUserPool.Arn}"}


def test_a_given_secret_replaces_the_created_one_everywhere(template):
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:team/authtrail-AbCdEf"
    r = Resolver(template, {"ContextSecretArn": arn})
    assert not r.active("ContextSecret")
    for name in ("PreAuthRole", "PostAuthRole"):
        resources = {res for _, a, res, _ in grants(r.properties(name)) if a == "secretsmanager:GetSecretValue"}
        assert resources == {arn}, name
    for name in ("PreAuthFunction", "PostAuthFunction"):
        assert r.properties(name)["Environment"]["Variables"]["AUTHTRAIL__CONTEXT__SECRET_ARN"] == arn
