"""scripts/cloudwatch-cbor-front.py: real RPC v2 CBOR requests, moto behind it.

Each request here is what aws-sdk-cloudwatch (>= 1.100) puts on the wire:
POST /service/GraniteServiceVersion20100801/operation/<Op>, smithy-protocol:
rpc-v2-cbor, a CBOR body with tag-1 timestamps. The replies are decoded with
cbor2 and checked value by value, and for the wire types the Rust SDK's
decoder insists on (tag 1 + float for timestamps, CBOR floats for doubles).
"""

from __future__ import annotations

import datetime as dt
import gzip
import math
import select
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import cbor2
import pytest

FRONT = Path(__file__).resolve().parents[2] / "scripts" / "cloudwatch-cbor-front.py"
PREFIX = "/service/GraniteServiceVersion20100801/operation/"
NS = "com.amazonaws.cloudwatch#"

# A minute-aligned bucket five minutes ago; every datum is put 15 s into it.
BUCKET = (int(time.time()) // 60) * 60 - 300
AT = BUCKET + 15


def tag1(epoch: float) -> cbor2.CBORTag:
    return cbor2.CBORTag(1, float(epoch))


@pytest.fixture(scope="module")
def front(moto_endpoint, tmp_path_factory):
    log = tmp_path_factory.mktemp("cbor-front") / "front.log"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(FRONT), "--port", "0", "--moto", moto_endpoint],
            stdout=subprocess.PIPE, stderr=err, text=True,
        )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        line = proc.stdout.readline() if ready else ""
        assert line.startswith("ready "), f"no ready line ({line!r}); log: {log.read_text()}"
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def call(front, op, body=None, *, raw=None, region=None, headers=None, method="POST", path=None):
    """One rpcv2Cbor request; returns (status, headers, raw body, decoded body)."""
    data = raw if raw is not None else (b"" if body is None else cbor2.dumps(body))
    hdrs = {"smithy-protocol": "rpc-v2-cbor", "Accept": "application/cbor",
            "Content-Type": "application/cbor", "x-amzn-query-mode": "true"}
    if region:
        hdrs["Authorization"] = (f"AWS4-HMAC-SHA256 Credential=test/20240101/{region}/monitoring/"
                                 "aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
    hdrs.update(headers or {})
    req = urllib.request.Request(front + (path or PREFIX + op), data=data if method == "POST" else None,
                                 method=method, headers=hdrs)
    try:
        resp = urllib.request.urlopen(req, timeout=30)
    except urllib.error.HTTPError as e:
        resp = e
    with resp:
        out = resp.read()
        return resp.status, resp.headers, out, (cbor2.loads(out) if out else None)


@pytest.fixture(scope="module")
def moto_cw(moto_endpoint):
    """A boto3 client straight to moto: the oracle the front's replies must match."""
    return boto3.client("cloudwatch", endpoint_url=moto_endpoint, region_name="us-east-1")


def direct(client, op, **params):
    out = getattr(client, op)(**params)
    out.pop("ResponseMetadata")
    return out


def dims(**kv):
    return [{"Name": k, "Value": v} for k, v in kv.items()]


@pytest.fixture(scope="module")
def published(front):
    """Publishes four metrics in one PutMetricData, as the SDK would."""
    ns = f"Authtrail/CborFront/{uuid.uuid4().hex[:8]}"
    d = dims(Service="pipeline", Stage="test")
    body = {"Namespace": ns, "MetricData": [
        {"MetricName": "Latency", "Dimensions": d, "Timestamp": tag1(AT), "Value": 10.0, "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Dimensions": d, "Timestamp": tag1(AT + 5), "Value": 30.5, "Unit": "Milliseconds"},
        {"MetricName": "Batch", "Dimensions": d, "Timestamp": tag1(AT), "Unit": "Count",
         "Values": [1.0, 2.0, 3.0], "Counts": [1.0, 2.0, 1.0]},
        {"MetricName": "Events", "Dimensions": d, "Timestamp": tag1(AT), "Unit": "Count",
         "StatisticValues": {"SampleCount": 5.0, "Sum": 50.0, "Minimum": 1.0, "Maximum": 20.0}},
        # An integer where a double is modelled: the spec lets a client send it so.
        {"MetricName": "Denied", "Dimensions": dims(Service="pipeline"), "Timestamp": tag1(AT), "Value": 7},
    ]}
    status, headers, out, _ = call(front, "PutMetricData", body)
    assert status == 200
    # Unit output: no body and no Content-Type (spec; protocol test `no_output`).
    assert out == b"" and headers["Content-Type"] is None
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert headers["x-amzn-requestid"]  # moto's, passed on for the SDK's request_id()
    return ns, d


def statistics(front, moto_cw, ns, name, d, stats=("Sum", "SampleCount", "Minimum", "Maximum")):
    status, headers, out, reply = call(front, "GetMetricStatistics", {
        "Namespace": ns, "MetricName": name, "Dimensions": d, "StartTime": tag1(BUCKET),
        "EndTime": tag1(BUCKET + 60), "Period": 60, "Statistics": list(stats)})
    assert status == 200, reply
    assert headers["Content-Type"] == "application/cbor"
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert reply == direct(moto_cw, "get_metric_statistics", Namespace=ns, MetricName=name, Dimensions=d,
                           StartTime=BUCKET, EndTime=BUCKET + 60, Period=60, Statistics=list(stats))
    assert reply["Label"] == name
    [point] = reply["Datapoints"]
    # Timestamp on the wire: tag 1 (0xc1) + a double (0xfb) of epoch seconds.
    # (moto stamps the datapoint with the first datum's time, CloudWatch with the period start.)
    stamp = point["Timestamp"].timestamp()
    assert BUCKET <= stamp < BUCKET + 60
    assert b"\xc1\xfb" + struct.pack(">d", stamp) in out
    for stat in stats:  # doubles as CBOR floats: the SDK's decoder rejects integers
        assert type(point[stat]) is float, (stat, point[stat])
    return point


def test_put_metric_data_single_values_sum_up(front, moto_cw, published):
    ns, d = published
    point = statistics(front, moto_cw, ns, "Latency", d)
    assert point["Sum"] == 40.5
    assert point["SampleCount"] == 2.0
    assert point["Minimum"] == 10.0 and point["Maximum"] == 30.5
    assert point["Unit"] == "Milliseconds"


def test_put_metric_data_values_with_counts(front, moto_cw, published):
    ns, d = published
    point = statistics(front, moto_cw, ns, "Batch", d)
    assert point["Sum"] == 1 * 1 + 2 * 2 + 3 * 1
    assert point["SampleCount"] == 4.0
    assert point["Minimum"] == 1.0 and point["Maximum"] == 3.0


def test_put_metric_data_statistic_values(front, moto_cw, published):
    ns, d = published
    point = statistics(front, moto_cw, ns, "Events", d)
    assert (point["Sum"], point["SampleCount"], point["Minimum"], point["Maximum"]) == (50.0, 5.0, 1.0, 20.0)


def test_integer_for_double_and_float_for_integer_are_coerced(front, published):
    ns, _ = published
    status, _, _, reply = call(front, "GetMetricStatistics", {
        "Namespace": ns, "MetricName": "Denied", "Dimensions": dims(Service="pipeline"),
        "StartTime": tag1(BUCKET), "EndTime": tag1(BUCKET + 60),
        "Period": 60.0,  # a float where botocore wants an integer
        "Statistics": ["Sum"]})
    assert status == 200, reply
    [point] = reply["Datapoints"]
    assert point["Sum"] == 7.0 and type(point["Sum"]) is float


def test_get_metric_data(front, moto_cw, published):
    ns, d = published
    query = lambda qid, name, stat: {"Id": qid, "ReturnData": True, "MetricStat": {  # noqa: E731
        "Metric": {"Namespace": ns, "MetricName": name, "Dimensions": d}, "Period": 60, "Stat": stat}}
    status, _, out, reply = call(front, "GetMetricData", {
        "MetricDataQueries": [query("lat", "Latency", "Sum"), query("batch", "Batch", "SampleCount")],
        "StartTime": tag1(BUCKET), "EndTime": tag1(BUCKET + 60)})
    assert status == 200, reply
    assert reply == direct(moto_cw, "get_metric_data", StartTime=BUCKET, EndTime=BUCKET + 60, MetricDataQueries=[
        query("lat", "Latency", "Sum"), query("batch", "Batch", "SampleCount")])
    results = {r["Id"]: r for r in reply["MetricDataResults"]}
    assert set(results) == {"lat", "batch"}
    assert results["lat"]["Values"] == [40.5]
    assert results["batch"]["Values"] == [4.0]
    assert all(type(v) is float for r in results.values() for v in r["Values"])
    bucket = dt.datetime.fromtimestamp(BUCKET, dt.timezone.utc)
    assert results["lat"]["Timestamps"] == [bucket] and results["batch"]["Timestamps"] == [bucket]
    assert results["lat"]["StatusCode"] == "Complete"
    assert b"\xc1\xfb" + struct.pack(">d", float(BUCKET)) in out


def test_list_metrics(front, moto_cw, published):
    ns, d = published
    status, _, _, reply = call(front, "ListMetrics", {"Namespace": ns})
    assert status == 200, reply
    assert reply == direct(moto_cw, "list_metrics", Namespace=ns)
    # moto lists a metric once per stored datum; CloudWatch once. Compare as a set.
    found = {(m["MetricName"], tuple((x["Name"], x["Value"]) for x in m["Dimensions"])) for m in reply["Metrics"]}
    pair = tuple((x["Name"], x["Value"]) for x in d)
    assert found == {("Latency", pair), ("Batch", pair), ("Events", pair),
                     ("Denied", (("Service", "pipeline"),))}
    assert all(m["Namespace"] == ns for m in reply["Metrics"])

    status, _, _, reply = call(front, "ListMetrics", {"Namespace": ns, "MetricName": "Batch"})
    assert status == 200 and {m["MetricName"] for m in reply["Metrics"]} == {"Batch"}


def test_empty_body_is_empty_input(front, published):
    ns, _ = published
    status, _, _, reply = call(front, "ListMetrics", raw=b"")
    assert status == 200
    assert ns in {m["Namespace"] for m in reply["Metrics"]}


def test_region_comes_from_the_sigv4_credential_scope(front):
    ns = f"Authtrail/CborRegion/{uuid.uuid4().hex[:8]}"
    put = {"Namespace": ns, "MetricData": [{"MetricName": "Hits", "Value": 3.0, "Timestamp": tag1(AT)}]}
    assert call(front, "PutMetricData", put, region="eu-west-1")[0] == 200
    assert [m["MetricName"] for m in call(front, "ListMetrics", {"Namespace": ns}, region="eu-west-1")[3]["Metrics"]] == ["Hits"]
    assert call(front, "ListMetrics", {"Namespace": ns}, region="us-east-1")[3]["Metrics"] == []
    assert call(front, "ListMetrics", {"Namespace": ns})[3]["Metrics"] == []  # no header: us-east-1


def test_gzip_request_body(front):
    """The SDK gzips PutMetricData bodies of 10 KiB or more (requestCompression)."""
    ns = f"Authtrail/CborGzip/{uuid.uuid4().hex[:8]}"
    body = cbor2.dumps({"Namespace": ns, "MetricData": [
        {"MetricName": "Bulk", "Timestamp": tag1(AT), "Values": [float(i) for i in range(1, 151)]}]})
    status, _, _, _ = call(front, "PutMetricData", raw=gzip.compress(body), headers={"Content-Encoding": "gzip"})
    assert status == 200
    status, _, _, reply = call(front, "GetMetricStatistics", {
        "Namespace": ns, "MetricName": "Bulk", "StartTime": tag1(BUCKET), "EndTime": tag1(BUCKET + 60),
        "Period": 60, "Statistics": ["Sum", "SampleCount"]})
    assert status == 200
    [point] = reply["Datapoints"]
    assert point["Sum"] == 150 * 151 / 2 and point["SampleCount"] == 150.0


def assert_error(status, headers, reply, http_status, shape, query_code=None):
    assert status == http_status, reply
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert headers["Content-Type"] == "application/cbor"
    assert reply["__type"] == NS + shape
    assert isinstance(reply["message"], str) and reply["message"]
    if query_code:
        fault = "Sender" if http_status < 500 else "Receiver"
        assert headers["x-amzn-query-error"] == f"{query_code};{fault}"


def test_moto_error_becomes_a_modelled_rpcv2cbor_error(front):
    status, headers, _, reply = call(front, "PutMetricData", {"Namespace": "Authtrail/CborErr", "MetricData": [
        {"MetricName": "Bad", "Values": [1.0, 2.0], "Counts": [1.0]}]})
    assert_error(status, headers, reply, 400, "InvalidParameterValueException", "InvalidParameterValue")
    assert "Counts must be of the same size" in reply["message"]
    assert headers["x-amzn-requestid"]  # moto answered; its request id is passed on

    status, headers, _, reply = call(front, "GetMetricStatistics", {
        "Namespace": "Authtrail/CborErr", "MetricName": "Bad", "StartTime": tag1(BUCKET + 60),
        "EndTime": tag1(BUCKET), "Period": 60, "Statistics": ["Sum"]})
    assert_error(status, headers, reply, 400, "InvalidParameterValueException", "InvalidParameterValue")
    assert "StartTime must be less than" in reply["message"]


def test_input_the_model_rejects_is_invalid_parameter_value(front):
    status, headers, _, reply = call(front, "PutMetricData", {"MetricData": [{"MetricName": "NoNamespace"}]})
    assert_error(status, headers, reply, 400, "InvalidParameterValueException", "InvalidParameterValue")
    assert "Namespace" in reply["message"]


def test_unknown_operation(front):
    status, headers, _, reply = call(front, "PutMetricDatum", {"Namespace": "x"})
    assert_error(status, headers, reply, 400, "UnknownOperationException")
    assert "PutMetricDatum" in reply["message"]


@pytest.mark.parametrize("raw", [b"\xff\xfe", b'{"Namespace": "json"}', cbor2.dumps([1, 2]), b"\xa1"])
def test_body_that_is_not_a_cbor_map_is_400(front, raw):
    status, headers, _, reply = call(front, "ListMetrics", raw=raw)
    assert_error(status, headers, reply, 400, "SerializationException")


@pytest.mark.parametrize("method,path", [("POST", "/"), ("POST", "/service/Other/operation/ListMetrics"),
                                         ("GET", PREFIX + "ListMetrics")])
def test_other_paths_are_404(front, method, path):
    status, _, _, reply = call(front, None, {}, method=method, path=path)
    assert status == 404
    assert reply["__type"].endswith("NotFound")


def test_nan_reaches_moto_and_is_rejected(front):
    """CBOR carries NaN as a float; moto rejects it as CloudWatch does."""
    status, headers, _, reply = call(front, "PutMetricData", {"Namespace": "Authtrail/CborErr", "MetricData": [
        {"MetricName": "NaN", "Value": math.nan}]})
    assert_error(status, headers, reply, 400, "InvalidParameterValueException", "InvalidParameterValue")
    assert reply["message"] == "The value NaN for parameter MetricData.member.1.Value is invalid."
