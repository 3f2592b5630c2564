#!/usr/bin/env python3
"""CloudWatch RPC v2 CBOR -> moto translating front (test-harness tool only).

Why: aws-sdk-cloudwatch 1.100.0 and later speaks only the Smithy RPC v2 CBOR
protocol (POST /service/GraniteServiceVersion20100801/operation/<Op>, headers
`smithy-protocol: rpc-v2-cbor`, CBOR bodies). moto serves CloudWatch only over
awsQuery/JSON, and its maintainers declined CBOR (getmoto/moto issue 9195). This
front sits between the real Rust SDK and moto on 127.0.0.1 so PutMetricData,
GetMetricData, GetMetricStatistics, ListMetrics, ... reach a real server.

What it translates, per request:
  * CBOR body (empty body = empty input; `Content-Encoding: gzip` undone, the
    SDK gzips PutMetricData bodies of 10 KiB or more) -> Python values, coerced
    by botocore's input shape (tag-1 timestamps -> datetime, floats that hold
    an integer -> int, ints/decimals -> float for double members);
  * a boto3 call to moto (region from the SigV4 credential scope, else
    us-east-1), ResponseMetadata dropped;
  * the result -> CBOR by botocore's output shape: timestamps as tag 1 with
    float epoch seconds, doubles always as CBOR floats (the SDK's decoder
    rejects a CBOR integer for a double), blobs as byte strings. An operation
    with no output (Unit, e.g. PutMetricData) gets an empty body and no
    Content-Type, as the spec requires;
  * errors -> status from the error shape (400 client, 500 server unless the
    model says otherwise), CBOR {"__type": "com.amazonaws.cloudwatch#<Shape>",
    "message": ...} plus `x-amzn-query-error: <query code>;Sender|Receiver`.
    CloudWatch is @awsQueryCompatible: the SDK strips `__type` to the shape
    name but matches typed errors on the awsQuery code (InvalidParameterValue)
    taken from that header.
What it does not do: check signatures, event streams, chunked request bodies,
other services, or anything moto itself does not implement.
"""
import argparse, datetime, decimal, gzip, re, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3, botocore, botocore.session, cbor2
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

PREFIX = "/service/GraniteServiceVersion20100801/operation/"
NS = "com.amazonaws.cloudwatch#"
REGION_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/")
MODEL = botocore.session.get_session().get_service_model("cloudwatch")
# awsQuery error code (and shape name) -> error shape, e.g. "InvalidParameterValue".
ERRORS = {k: s for s in MODEL.error_shapes for k in (s.name, s.error_code) if k}
_clients, _lock = {}, threading.Lock()


def client(moto, region):
    with _lock:
        if region not in _clients:
            _clients[region] = boto3.client(
                "cloudwatch", endpoint_url=moto, region_name=region,
                aws_access_key_id="test", aws_secret_access_key="test",
                config=Config(retries={"total_max_attempts": 1}, disable_request_compression=True))
        return _clients[region]


def to_boto(shape, v):
    """CBOR-decoded value -> what botocore's validator accepts for `shape`."""
    t = shape.type_name
    if t == "structure" and isinstance(v, dict):  # unknown members pass on: botocore rejects them
        return {k: to_boto(shape.members[k], x) if k in shape.members else x
                for k, x in v.items() if x is not None}
    if t == "list" and isinstance(v, list):
        return [to_boto(shape.member, x) for x in v]
    if t == "map" and isinstance(v, dict):
        return {k: to_boto(shape.value, x) for k, x in v.items()}
    if t == "timestamp" and isinstance(v, (int, float)) and not isinstance(v, bool):
        return datetime.datetime.fromtimestamp(v, datetime.timezone.utc)
    if t in ("integer", "long") and isinstance(v, float) and v.is_integer():
        return int(v)
    if t in ("float", "double") and isinstance(v, (int, decimal.Decimal)) and not isinstance(v, bool):
        return float(v)
    return v


def to_cbor(shape, v):
    """botocore-parsed value -> the CBOR value type rpcv2Cbor uses for `shape`."""
    t = shape.type_name
    if t == "structure":
        return {k: to_cbor(shape.members[k], x) for k, x in v.items()
                if k in shape.members and x is not None}
    if t == "list":
        return [to_cbor(shape.member, x) for x in v]
    if t == "map":
        return {k: to_cbor(shape.value, x) for k, x in v.items()}
    if t == "timestamp":
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return cbor2.CBORTag(1, v.timestamp())
    if t in ("float", "double"):
        return float(v)
    if t in ("integer", "long"):
        return int(v)
    return bytes(v) if t == "blob" else v


def request_id(meta):  # moto's request id, surfaced by the SDK as request_id()
    return [("x-amzn-requestid", meta["RequestId"])] if meta.get("RequestId") else []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive for the SDK's pool; every reply has a length
    moto = None

    def reply(self, status, body=None, extra=()):
        data = b"" if body is None else cbor2.dumps(body)
        self.send_response(status)
        self.send_header("smithy-protocol", "rpc-v2-cbor")
        if body is not None:
            self.send_header("Content-Type", "application/cbor")
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def fail(self, code, message, status=None, extra=()):
        shape = ERRORS.get(code)
        meta = shape.metadata.get("error", {}) if shape else {}
        status = meta.get("httpStatusCode") or status or 400
        query_code = meta.get("code", code)
        self.reply(status, {"__type": NS + (shape.name if shape else code), "message": message},
                   [("x-amzn-query-error", f"{query_code};{'Sender' if status < 500 else 'Receiver'}"),
                    *extra])

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.path.startswith(PREFIX):
            return self.reply(404, {"__type": NS + "NotFound", "message": f"no route {self.path}"})
        op = self.path[len(PREFIX):].split("?")[0]
        if op not in MODEL.operation_names:
            return self.fail("UnknownOperationException", f"unknown operation {op!r}")
        op_model = MODEL.operation_model(op)
        try:
            if self.headers.get("Content-Encoding", "").lower() == "gzip":
                raw = gzip.decompress(raw)
            params = cbor2.loads(raw) if raw else {}
            if not isinstance(params, dict):
                raise ValueError("the body is not a CBOR map")
            if op_model.input_shape is not None:
                params = to_boto(op_model.input_shape, params)
        except Exception as e:  # noqa: BLE001 - any decode failure is the client's
            return self.fail("SerializationException", f"bad CBOR body: {e}")
        region = (REGION_RE.search(self.headers.get("Authorization", "")) or [None, "us-east-1"])[1]
        try:
            result = getattr(client(self.moto, region), botocore.xform_name(op))(**params)
        except ClientError as e:
            err, meta = e.response.get("Error", {}), e.response.get("ResponseMetadata", {})
            return self.fail(err.get("Code", "InternalServiceError"), err.get("Message", str(e)),
                             meta.get("HTTPStatusCode"), request_id(meta))
        except ParamValidationError as e:
            return self.fail("InvalidParameterValue", str(e))
        except Exception as e:  # noqa: BLE001 - moto unreachable, etc.
            return self.fail("InternalServiceError", f"{type(e).__name__}: {e}", 500)
        rid = request_id(result.pop("ResponseMetadata", {}))
        if op_model.output_shape is None:  # Unit output: no body, no Content-Type
            return self.reply(200, None, rid)
        self.reply(200, to_cbor(op_model.output_shape, result), rid)

    def do_GET(self):
        self.reply(404, {"__type": NS + "NotFound", "message": f"no route {self.path}"})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--moto", required=True, help="moto's URL, e.g. http://127.0.0.1:5000")
    args = ap.parse_args()
    Handler.moto = args.moto
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"ready {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
