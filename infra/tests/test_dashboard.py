"""The dashboard and the alarms against the metric catalogue.

The catalogue (infra/generated/metrics.json) is pipeline::metrics as JSON,
kept current by `cargo test`. A widget or alarm naming an authtrail metric
that is not catalogued, or under a component that does not emit it, could
only ever show nothing: it fails here. So does an AWS metric not in
AWS_METRICS, a function name that is not the stack's, or an alarm that
would not page.
"""

from __future__ import annotations

import copy
import json

import pytest
from cfn import Resolver

NAMESPACE = "authtrail/prod"
# The AWS-published metrics the stack uses, by namespace, with the dimension
# each is read under.
AWS_METRICS = {
    "AWS/Lambda": ({"IteratorAge", "Errors", "Throttles", "Duration"}, "FunctionName"),
    "AWS/Athena": ({"ProcessedBytes"}, "WorkGroup"),
    "AWS/SQS": ({"ApproximateNumberOfMessagesVisible"}, "QueueName"),
    "AWS/Cognito": ({"SignInSuccesses", "SignInThrottles"}, "UserPool"),
}


def expand(rows):
    """A widget's metric rows with CloudWatch's "." / "..." shorthand expanded:
    (namespace, name, {dimension: value}, options) per metric row."""
    out, last = [], None
    for row in rows:
        options = row[-1] if row and isinstance(row[-1], dict) else {}
        body = row[:-1] if options else row
        if not body:  # an expression row
            out.append((None, None, {}, options))
            continue
        if body == ["..."]:
            body = list(last)
        elif "..." in body:
            raise AssertionError(f"unsupported shorthand in {row}")
        else:
            body = [last[i] if v == "." else v for i, v in enumerate(body)]
        last = body
        ns, name, *dims = body
        out.append((ns, name, dict(zip(dims[::2], dims[1::2])), options))
    return out


def dashboard(template, params=None):
    body = Resolver(template, params).properties("Dashboard")["DashboardBody"]
    return json.loads(body)


def dashboard_metrics(doc):
    for w in doc["widgets"]:
        for ns, name, dims, options in expand(w["properties"].get("metrics", [])):
            yield w["properties"]["title"], ns, name, dims, options


def alarm_metrics(props):
    if "MetricName" in props:
        yield props["Namespace"], props["MetricName"], {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}
    for q in props.get("Metrics", []):
        if "MetricStat" in q:
            m = q["MetricStat"]["Metric"]
            yield m["Namespace"], m["MetricName"], {d["Name"]: d["Value"] for d in m.get("Dimensions", [])}


def problems(template, catalogue, where, ns, name, dims):
    r = Resolver(template)
    functions = {p["FunctionName"] for _, p in r.of_type("AWS::Lambda::Function")}
    if ns == NAMESPACE:
        metric = next((m for m in catalogue["metrics"] if m["name"] == name), None)
        if metric is None:
            return [f"{where}: {name} is not in the metric catalogue (pipeline::metrics)"]
        component = dims.get(catalogue["dimension"])
        if set(dims) != {catalogue["dimension"]}:
            return [f"{where}: {name} dimensions {dims} (authtrail metrics have only {catalogue['dimension']})"]
        if component not in metric["emitted_by"]:
            return [f"{where}: {name} is not emitted by {component!r} (only {metric['emitted_by']})"]
        return []
    if ns not in AWS_METRICS:
        return [f"{where}: namespace {ns!r} is neither {NAMESPACE!r} nor a known AWS one"]
    names, dimension = AWS_METRICS[ns]
    if name not in names or dimension not in dims:
        return [f"{where}: {ns} {name} {dims} is not one the stack uses"]
    if dimension == "FunctionName" and dims[dimension] not in functions:
        return [f"{where}: {dims[dimension]} is not one of the stack's functions"]
    return []


def all_problems(template, catalogue):
    found = []
    for title, ns, name, dims, options in dashboard_metrics(dashboard(template)):
        if ns is None:
            expression = options.get("expression", "")
            if not (("AWS/Cognito" in expression and "UserPool=" in expression)
                    or ("AWS/Athena" in expression and "WorkGroup=\"authtrail-prod\"" in expression)):
                found.append(f"widget {title!r}: unexpected expression {expression!r}")
            continue
        found += problems(template, catalogue, f"widget {title!r}", ns, name, dims)
    r = Resolver(template)
    for logical, props in r.of_type("AWS::CloudWatch::Alarm"):
        if props.get("AlarmActions") != ["{AlarmTopic}"]:
            found.append(f"{logical}: does not page the alarm topic")
        if props.get("TreatMissingData") not in ("breaching", "notBreaching", "ignore", "missing"):
            found.append(f"{logical}: TreatMissingData is not set")
        metrics = list(alarm_metrics(props))
        if not metrics:
            found.append(f"{logical}: reads no metric")
        for ns, name, dims in metrics:
            found += problems(template, catalogue, logical, ns, name, dims)
    return found


def test_the_dashboard_and_alarms_name_only_emitted_metrics(template, catalogue):
    assert all_problems(template, catalogue) == []


def test_the_catalogue_file_is_the_one_the_code_writes(catalogue):
    assert catalogue["dimension"] == "Function"
    assert {"pre-auth", "post-auth", "lake-writer", "risk-scorer"} <= set(catalogue["components"])
    assert len({m["name"] for m in catalogue["metrics"]}) == len(catalogue["metrics"]) >= 20


def mutated_widget(t, row):
    body = t["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    body[0] = body[0].replace('["authtrail/${Stage}", "Invocations", "Function", "pre-auth"]', row, 1)
    return t


@pytest.mark.parametrize(
    "mutate, expect",
    [
        (lambda t: mutated_widget(t, '["authtrail/${Stage}", "Denyed", "Function", "pre-auth"]'),
         "not in the metric catalogue"),
        (lambda t: mutated_widget(t, '["authtrail/${Stage}", "ScoringTime", "Function", "pre-auth"]'),
         "not emitted by 'pre-auth'"),
        (lambda t: mutated_widget(t, '["AWS/Lambda", "Errors", "FunctionName", "authtrail-prod-pre-auht"]'),
         "not one of the stack's functions"),
        (lambda t: t["Resources"]["DeniedSpikeAlarm"]["Properties"].__setitem__("MetricName", "Denials"),
         "DeniedSpikeAlarm: Denials is not in the metric catalogue"),
        (lambda t: t["Resources"]["LostEventsAlarm"]["Properties"].pop("TreatMissingData"),
         "LostEventsAlarm: TreatMissingData is not set"),
        (lambda t: t["Resources"]["ScorerHeartbeatAlarm"]["Properties"].__setitem__("AlarmActions", []),
         "does not page"),
    ],
)
def test_the_check_catches_drift(template, catalogue, mutate, expect):
    t = copy.deepcopy(template)
    mutate(t)
    assert any(expect in p for p in all_problems(t, catalogue)), all_problems(t, catalogue)


def test_the_dashboard_shows_what_operators_need(template):
    shown = {(name, dims.get("Function") or dims.get("FunctionName"), options.get("stat"))
             for _, ns, name, dims, options in dashboard_metrics(dashboard(template)) if ns}
    names = {n for n, _, _ in shown}
    for needed in ("Invocations", "RiskMedium", "RiskHigh", "Denied", "SnapshotAge", "Spilled", "MalformedEvents",
                   "ContextUnverified", "Records", "DeadLetters", "WriteFailures", "IteratorAge", "Errors",
                   "Throttles", "RiskyIps", "RiskyNetworks", "RiskyUsers", "ScoringTime"):
        assert needed in names, needed
    for fn in ("pre-auth", "post-auth"):
        assert {("HandlerLatency", fn, "p50"), ("HandlerLatency", fn, "p99")} <= shown, fn
    expressions = [o["expression"] for _, ns, _, _, o in dashboard_metrics(dashboard(template)) if ns is None]
    assert any("SignInSuccesses" in e for e in expressions)
    # Athena publishes ProcessedBytes per QueryState and QueryType too: a
    # SEARCH over the workgroup sums them.
    assert any("ProcessedBytes" in e and "QueryState,QueryType,WorkGroup" in e for e in expressions)


def test_the_cognito_widget_follows_the_pool(template):
    given = dashboard(template, {"UserPoolArn": "arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_Abc"})
    text = json.dumps(given)
    assert 'UserPool=\\"eu-west-1_Abc\\"' in text
    assert 'UserPool=\\"{DemoUserPool}\\"' in json.dumps(dashboard(template))


def test_the_alarms_users_expect_exist(template):
    r = Resolver(template)
    alarms = dict(r.of_type("AWS::CloudWatch::Alarm"))
    by_metric = {}
    for logical, props in alarms.items():
        for _, name, dims in alarm_metrics(props):
            by_metric.setdefault(name, []).append((logical, props))
    for metric in ("Denied", "RiskHigh", "RiskyIps", "RiskyNetworks", "HandlerLatency", "IteratorAge", "ScoringTime",
                   "SnapshotAge", "Spilled", "MalformedEvents", "DeadLetters", "WriteFailures", "Errors", "Throttles",
                   "ApproximateNumberOfMessagesVisible"):
        assert metric in by_metric, metric
    heartbeat = dict(by_metric["ScoringTime"])["ScorerHeartbeatAlarm"]
    assert heartbeat["Statistic"] == "SampleCount" and heartbeat["TreatMissingData"] == "breaching"
    assert heartbeat["ComparisonOperator"] == "LessThanThreshold"
    latency = dict(by_metric["HandlerLatency"])
    for name in ("PreAuthLatencyAlarm", "PostAuthLatencyAlarm"):
        assert latency[name]["ExtendedStatistic"] == "p99"
        assert float(latency[name]["Threshold"]) < 5_000_000, "below Cognito's 5 s, in microseconds"
    errors = {dims["FunctionName"] for _, p in by_metric["Errors"] for _, n, dims in alarm_metrics(p) if n == "Errors"}
    assert errors == {f"authtrail-prod-{f}" for f in ("pre-auth", "post-auth", "lake-writer", "risk-scorer")}
