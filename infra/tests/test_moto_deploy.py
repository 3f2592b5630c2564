"""The translated template deployed on moto's CloudFormation: create, check
each resource through its service's API, update, delete.

moto's CloudFormation creates most of the stack. The resource types it
silently skips (Glue, Athena, CloudWatch alarms, Scheduler, the bucket
policy ...) are applied through their own APIs from the template's resolved
properties (``SHIM`` below), so their property shapes are still checked by
the service; an active resource of a skipped type the shim does not handle
fails the test. Where moto's CloudFormation drops a property of a resource
it does create, ``kept`` asserts the template's value instead, and a comment
names the gap.

Runs in one module-scoped deploy (stack ``authtrail``, Stage prod); the
update and delete tests go last, in file order.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import json
import re
import time
import zipfile

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.httpsession import URLLib3Session
from botocore.parsers import ResponseParserError

from cfn import Resolver

STACK = "authtrail"  # cfn.PSEUDO's AWS::StackName
ACCOUNT = "123456789012"  # moto's default account (cfn.PSEUDO's AWS::AccountId)
REGION = "us-east-1"
USER_POOL_ARN = f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/us-east-1_AbCdEf123"
SECRET_VALUE = "moto-deploy-context-hmac-key-7f3a9c2e"  # must never reach an environment
ARTIFACTS = "authtrail-build-artifacts"  # infra/tools/sam2cfn.py's ARTIFACTS
BINARIES = ("pre-auth", "post-auth", "lake-writer", "risk-scorer")
FUNCTIONS = {b: f"authtrail-prod-{b}" for b in BINARIES}
# IAM names are global to the account: a role's name carries its region.
ROLES = {b: f"authtrail-prod-{REGION}-{b}" for b in BINARIES}
STREAM = "authtrail-prod-events"
CAPABILITIES = ["CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]

# moto warns once per resource it skips; the shim applies each (or fails).
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS.* not supported by moto:UserWarning")

# A "{Id}" / "{Id.Attr}" that cfn.Resolver could not resolve (not a "${x}" Sub
# variable left for Athena, such as storage.location.template's ${dt}).
UNRESOLVED = re.compile(r"(?<!\$)\{[A-Za-z0-9]+(\.[A-Za-z0-9.]+)?\}")


# --------------------------------------------------------------------------
# the shim: skipped resource types, applied through their APIs


# Each handler takes the client factory and the resolved properties, creates
# the resource and returns (its Ref, {attribute: value}, a function undoing it).


def _alarm(aws, props):
    args = dict(props)
    args["Threshold"] = float(args["Threshold"])  # a Number parameter resolves to a string
    for key in ("EvaluationPeriods", "DatapointsToAlarm", "Period"):
        if key in args:
            args[key] = int(args[key])
    cw = aws("cloudwatch")
    cw.put_metric_alarm(**args)
    name = args["AlarmName"]
    (alarm,) = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return name, {"Arn": alarm["AlarmArn"]}, lambda: cw.delete_alarms(AlarmNames=[name])


def _glue_database(aws, props):
    glue, name = aws("glue"), props["DatabaseInput"]["Name"]
    glue.create_database(CatalogId=props["CatalogId"], DatabaseInput=props["DatabaseInput"])
    return name, {}, lambda: glue.delete_database(CatalogId=props["CatalogId"], Name=name)


def _glue_table(aws, props):
    glue, name = aws("glue"), props["TableInput"]["Name"]
    glue.create_table(CatalogId=props["CatalogId"], DatabaseName=props["DatabaseName"], TableInput=props["TableInput"])
    return name, {}, lambda: glue.delete_table(
        CatalogId=props["CatalogId"], DatabaseName=props["DatabaseName"], Name=name
    )


def _athena_work_group(aws, props):
    athena, name = aws("athena"), props["Name"]
    athena.create_work_group(
        Name=name,
        Description=props.get("Description", ""),
        Configuration=props.get("WorkGroupConfiguration", {}),
        Tags=props.get("Tags", []),
    )
    # CreateWorkGroup has no State: a new work group is ENABLED.
    if props.get("State", "ENABLED") != "ENABLED":
        athena.update_work_group(WorkGroup=name, State=props["State"])
    return name, {}, lambda: athena.delete_work_group(WorkGroup=name, RecursiveDeleteOption=True)


def _schedule(aws, props):
    scheduler, name, group = aws("scheduler"), props["Name"], props.get("GroupName", "default")
    scheduler.create_schedule(**props)  # the CloudFormation properties are CreateSchedule's
    arn = scheduler.get_schedule(Name=name, GroupName=group)["Arn"]
    return name, {"Arn": arn}, lambda: scheduler.delete_schedule(Name=name, GroupName=group)


def _event_invoke_config(aws, props):
    lam, name = aws("lambda"), props["FunctionName"]
    args = {k: props[k] for k in ("Qualifier", "MaximumRetryAttempts", "MaximumEventAgeInSeconds") if k in props}
    for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
        if key in args:
            args[key] = int(args[key])
    lam.put_function_event_invoke_config(FunctionName=name, **args)
    qualifier = args.get("Qualifier", "$LATEST")
    return name, {}, lambda: lam.delete_function_event_invoke_config(FunctionName=name, Qualifier=qualifier)


def _bucket_policy(aws, props):
    s3, bucket = aws("s3"), props["Bucket"]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(props["PolicyDocument"]))
    return bucket, {}, lambda: s3.delete_bucket_policy(Bucket=bucket)


def _sns_subscription(aws, props):
    sns = aws("sns")
    args = {k: props[k] for k in ("TopicArn", "Protocol", "Endpoint")}
    arn = sns.subscribe(**args, ReturnSubscriptionArn=True)["SubscriptionArn"]
    return arn, {}, lambda: sns.unsubscribe(SubscriptionArn=arn)


# In the order they are applied (a Glue table names its database; alarms and
# the schedule name nothing the shim makes, but keep them last).
SHIM = {
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::SNS::Subscription": _sns_subscription,
    "AWS::Glue::Database": _glue_database,
    "AWS::Glue::Table": _glue_table,
    "AWS::Athena::WorkGroup": _athena_work_group,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::Scheduler::Schedule": _schedule,
    "AWS::Lambda::EventInvokeConfig": _event_invoke_config,
}


# --------------------------------------------------------------------------
# physical ids and attributes of what the stack created, from the APIs


def _stream_attrs(aws, stream):
    return {"Arn": aws("kinesis").describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]}


def _queue_attrs(aws, url):
    arn = aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"Arn": arn, "QueueName": arn.rsplit(":", 1)[1], "QueueUrl": url}


def _log_group_attrs(aws, name):
    groups = aws("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    (group,) = [g for g in groups if g["logGroupName"] == name]
    # moto's CloudFormation resolves GetAtt Arn to logGroupArn; real CloudFormation
    # to `arn` (with ":*", what the roles' Logs statements are written for).
    return {"Arn": group["logGroupArn"]}


ATTRS = {
    "AWS::Lambda::Function": lambda aws, name: {
        "Arn": aws("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    },
    "AWS::IAM::Role": lambda aws, name: {
        k: aws("iam").get_role(RoleName=name)["Role"][k] for k in ("Arn", "RoleId")
    },
    "AWS::Kinesis::Stream": _stream_attrs,
    "AWS::SQS::Queue": _queue_attrs,
    "AWS::S3::Bucket": lambda aws, name: {"Arn": f"arn:aws:s3:::{name}"},  # S3 has no ARN API
    "AWS::Logs::LogGroup": _log_group_attrs,
    "AWS::SNS::Topic": lambda aws, arn: {"TopicArn": arn, "TopicName": arn.rsplit(":", 1)[1]},
}


# --------------------------------------------------------------------------
# fixtures and helpers


def _zip_with_bootstrap() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        z.writestr(info, "#!/bin/sh\nexit 0\n")
    return buf.getvalue()


def _events(cf) -> str:
    """The stack's failed events and its own, one a line (for a failure message)."""
    try:
        events = cf.describe_stack_events(StackName=STACK)["StackEvents"]
    except ClientError:
        return ""
    return "".join(
        f"\n  {e['LogicalResourceId']} {e['ResourceStatus']}: {e.get('ResourceStatusReason', '')}"
        for e in events
        if e["ResourceStatus"].endswith("FAILED") or e["LogicalResourceId"] == STACK
    )


def _wait(cf, want: str, timeout: float = 60.0) -> dict:
    """Polls the stack until no *_IN_PROGRESS; fails with the events' reasons unless ``want``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            stack = cf.describe_stacks(StackName=STACK)["Stacks"][0]
        except ClientError as e:
            if want == "DELETE_COMPLETE" and "does not exist" in str(e):
                return {"StackStatus": "DELETE_COMPLETE"}
            raise
        status = stack["StackStatus"]
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if status != want:
        pytest.fail(f"stack {STACK} is {status}, not {want}: {stack.get('StackStatusReason')}{_events(cf)}")
    return stack


def _run(cf, action: str, want: str, **kwargs) -> dict:
    """create_stack / update_stack / delete_stack, then waits for ``want``."""
    try:
        getattr(cf, action)(StackName=STACK, **kwargs)
    except (ClientError, ResponseParserError) as e:
        # moto's server applies the stack within the request, so a resource's
        # error is the call's (a JSON body botocore's query parser cannot read).
        pytest.fail(f"{action} {STACK}: {e}{_events(cf)}")
    return _wait(cf, want)


def kept(api_value, expected, template_value, moto_reports):
    """Asserts a deployed value is ``expected``; where moto's CloudFormation
    drops the property (the API reports ``moto_reports``, its default), asserts
    the template's resolved value instead. Once moto keeps it, the API's value
    is what is checked."""
    if api_value == moto_reports and expected != moto_reports:
        assert template_value == expected
    else:
        assert api_value == expected


class JsonRpc:
    """A client speaking AWS JSON 1.1 (X-Amz-Target), for a service whose
    botocore model moved to another protocol moto does not serve: botocore
    1.44's Athena is rest-json (GET /workgroups), moto 5.2.5 serves Athena's
    JSON 1.1 only (404 otherwise). ``client.get_work_group(WorkGroup=...)``
    posts AmazonAthena.GetWorkGroup; an error raises ClientError."""

    def __init__(self, endpoint, signing_name, target_prefix):
        self.endpoint, self.signing_name, self.target_prefix = endpoint, signing_name, target_prefix
        self.http = URLLib3Session()

    def __getattr__(self, method):
        op = "".join(part.title() for part in method.split("_"))

        def call(**params):
            req = AWSRequest(method="POST", url=self.endpoint + "/", data=json.dumps(params), headers={
                "X-Amz-Target": f"{self.target_prefix}.{op}",
                "Content-Type": "application/x-amz-json-1.1",
            })
            SigV4Auth(Credentials("test", "test"), self.signing_name, REGION).add_auth(req)
            resp = self.http.send(req.prepare())
            body = json.loads(resp.content or b"{}")
            if resp.status_code != 200:
                code = body.get("__type", str(resp.status_code)).rsplit("#", 1)[-1]
                raise ClientError({"Error": {"Code": code, "Message": body.get("message", "")}}, op)
            return body

        return call


@pytest.fixture(scope="module")
def aws(moto_endpoint):
    clients = {}

    def client(name):
        if name not in clients:
            if name == "athena":
                clients[name] = JsonRpc(moto_endpoint, "athena", "AmazonAthena")
            else:
                clients[name] = boto3.client(name, endpoint_url=moto_endpoint, region_name=REGION)
        return clients[name]

    return client


@pytest.fixture(scope="module")
def stack(aws, template):
    """Creates the stack once (CREATE_COMPLETE); yields what the tests share.

    Teardown deletes the stack if a test has not, then what it retains and
    what the shim applied, so the session's moto is left as found.
    """
    s3, cf = aws("s3"), aws("cloudformation")
    secret_arn = aws("secretsmanager").create_secret(
        Name="authtrail/prod/moto-context", SecretString=SECRET_VALUE
    )["ARN"]
    params = {"UserPoolArn": USER_POOL_ARN, "ContextSecretArn": secret_arn}
    state = {"params": params, "secret_arn": secret_arn, "outputs": {}, "applied": {}, "undo": []}
    try:
        s3.create_bucket(Bucket=ARTIFACTS)
        code = _zip_with_bootstrap()
        for binary in BINARIES:
            s3.put_object(Bucket=ARTIFACTS, Key=f"{binary}.zip", Body=code)
        created = _run(
            cf, "create_stack", "CREATE_COMPLETE",
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            Capabilities=CAPABILITIES,
        )
        state["outputs"] = {o["OutputKey"]: o["OutputValue"] for o in created.get("Outputs", [])}
        yield state
    finally:
        try:
            _run(cf, "delete_stack", "DELETE_COMPLETE")
        finally:
            for undo in reversed(state["undo"]):
                try:
                    undo()
                except ClientError:
                    pass
            lake = Resolver(template, params).properties("LakeBucket")["BucketName"]
            for name in (lake, ARTIFACTS):
                _empty_and_delete_bucket(s3, name)
            aws("secretsmanager").delete_secret(SecretId=secret_arn, ForceDeleteWithoutRecovery=True)


def _empty_and_delete_bucket(s3, name):
    try:
        versions = s3.list_object_versions(Bucket=name)
    except ClientError:
        return
    for v in versions.get("Versions", []) + versions.get("DeleteMarkers", []):
        s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
    s3.delete_bucket(Bucket=name)


def _stack_physical(aws, template) -> tuple[dict, set]:
    """(physical, created): logical id -> physical id and "Id.Attr" -> value
    for what the stack created, and the logical ids moto created."""
    summaries = aws("cloudformation").list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    physical, created = {}, set()
    for r in summaries:
        if not r.get("ResourceType"):
            continue  # skipped by moto: no type, no logical id
        logical = r["LogicalResourceId"]
        assert r["ResourceType"] == template["Resources"][logical]["Type"], logical
        created.add(logical)
        if r.get("PhysicalResourceId"):
            physical[logical] = r["PhysicalResourceId"]
            for attr, value in ATTRS.get(r["ResourceType"], lambda *_: {})(aws, r["PhysicalResourceId"]).items():
                physical[f"{logical}.{attr}"] = value
    return physical, created


@pytest.fixture(scope="module")
def resolver(stack, aws, template):
    """A cfn.Resolver with the deployed physical ids and attributes."""
    physical, created = _stack_physical(aws, template)
    r = Resolver(template, stack["params"], physical)
    r.created = created
    return r


@pytest.fixture(scope="module")
def applied(stack, aws, template, resolver):
    """Applies every active resource the stack skipped through the SHIM."""
    active = [lid for lid in template["Resources"] if resolver.active(lid)]
    skipped = [lid for lid in active if lid not in resolver.created]
    summaries = aws("cloudformation").list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    # moto lists every resource it did not create (skipped, or its condition false) untyped.
    untyped = [r for r in summaries if not r.get("ResourceType")]
    assert len(untyped) == len(template["Resources"]) - len(resolver.created)
    unhandled = sorted(f"{lid} ({template['Resources'][lid]['Type']})" for lid in skipped
                       if template["Resources"][lid]["Type"] not in SHIM)
    assert not unhandled, f"moto's CloudFormation skipped these and the shim cannot apply them: {unhandled}"
    order = list(SHIM)
    for lid in sorted(skipped, key=lambda lid: order.index(template["Resources"][lid]["Type"])):
        kind = template["Resources"][lid]["Type"]
        props = resolver.properties(lid)
        assert not UNRESOLVED.search(json.dumps(props)), f"{lid}: unresolved reference in {props}"
        ref, attrs, undo = SHIM[kind](aws, props)
        stack["undo"].append(undo)
        resolver.physical[lid] = ref
        resolver.physical.update({f"{lid}.{k}": v for k, v in attrs.items()})
        stack["applied"][lid] = ref
    return stack["applied"]


def function(aws, binary) -> dict:
    return aws("lambda").get_function(FunctionName=FUNCTIONS[binary])["Configuration"]


def role_policy(iam, role, name) -> dict:
    doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    if isinstance(doc, str):
        # moto's CloudFormation stores a role's inline policy as the dict and
        # GetRolePolicy returns its Python repr (single quotes), not JSON.
        doc = ast.literal_eval(doc)
    return doc


# --------------------------------------------------------------------------
# 1-2. create, and what it created


def test_create_complete_with_the_outputs(stack, resolver):
    out = stack["outputs"]
    assert out["EventStreamName"] == STREAM
    assert out["LakeBucketName"] == f"authtrail-prod-lake-{ACCOUNT}-{REGION}"
    assert out["ContextSecretArn"] == stack["secret_arn"]
    assert out["PreAuthFunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:authtrail-prod-pre-auth"
    assert out["AlarmTopicArn"] == f"arn:aws:sns:{REGION}:{ACCOUNT}:authtrail-prod-alarms"
    assert "DemoUserPoolId" not in out  # CreateDemoPool is false with a UserPoolArn
    # Neither the demo pool nor a generated secret is in the stack.
    assert not {"DemoUserPool", "DemoUserPoolClient", "ContextSecret"} & resolver.created


def test_kinesis_stream(aws, resolver):
    s = aws("kinesis").describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]
    assert s["StreamStatus"] == "ACTIVE"
    assert s["StreamARN"] == f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{STREAM}"
    assert s["RetentionPeriodHours"] == 168
    props = resolver.properties("EventStream")
    # moto's CloudFormation drops StreamModeDetails (reports PROVISIONED) and StreamEncryption (NONE).
    kept(s["StreamModeDetails"]["StreamMode"], "ON_DEMAND", props["StreamModeDetails"]["StreamMode"], "PROVISIONED")
    kept(s["EncryptionType"], "KMS", props["StreamEncryption"]["EncryptionType"], "NONE")
    kept(s.get("KeyId"), "alias/aws/kinesis", props["StreamEncryption"]["KeyId"], None)


def test_lake_bucket(aws, stack, resolver):
    s3 = aws("s3")
    bucket = stack["outputs"]["LakeBucketName"]
    s3.head_bucket(Bucket=bucket)
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    props = resolver.properties("LakeBucket")

    def api(call, key, not_found):
        try:
            return getattr(s3, call)(Bucket=bucket)[key]
        except ClientError as e:
            assert e.response["Error"]["Code"] == not_found, e
            return None

    # moto's CloudFormation keeps only BucketEncryption and Tags of a bucket:
    # public access block, versioning, lifecycle and ownership are dropped.
    every_block = dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    kept(api("get_public_access_block", "PublicAccessBlockConfiguration", "NoSuchPublicAccessBlockConfiguration"),
         every_block, props["PublicAccessBlockConfiguration"], None)
    versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    kept(versioning, "Enabled", props["VersioningConfiguration"]["Status"], None)
    ownership = api("get_bucket_ownership_controls", "OwnershipControls", "OwnershipControlsNotFoundError")
    kept(ownership, {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}, props["OwnershipControls"], None)

    want = {
        "dead-letters": ("dead-letter/", 90),
        "stream-on-failure": ("aws/lambda/", 90),
        "athena-results": ("athena-results/", 7),
        "old-snapshots": ("snapshots/snapshot-", 30),
    }
    rules = api("get_bucket_lifecycle_configuration", "Rules", "NoSuchLifecycleConfiguration")
    if rules is None:  # moto gap (above): the template's rules
        got = {r["Id"]: (r.get("Prefix"), r.get("ExpirationInDays")) for r in props["LifecycleConfiguration"]["Rules"]}
        noncurrent = next(r for r in props["LifecycleConfiguration"]["Rules"] if r["Id"] == "noncurrent-versions")
        assert noncurrent["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
        assert noncurrent["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    else:
        got = {
            r["ID"]: (r.get("Filter", {}).get("Prefix", r.get("Prefix")), r.get("Expiration", {}).get("Days"))
            for r in rules
        }
    assert all(r["Status"] == "Enabled" for r in (rules or props["LifecycleConfiguration"]["Rules"]))
    assert {k: got[k] for k in want if k in got} == want
    assert set(got) == {*want, "noncurrent-versions"}


ENV_COMMON = {"RUST_LOG": "info", "AUTHTRAIL__METRICS__NAMESPACE": "authtrail/prod", "AUTHTRAIL_POLICY__MODE": "audit"}


def test_functions(aws, stack, resolver):
    bucket = stack["outputs"]["LakeBucketName"]
    expected_env = {
        "pre-auth": {
            **ENV_COMMON,
            "AUTHTRAIL__STREAM__KIND": "kinesis",
            "AUTHTRAIL__STREAM__KINESIS_STREAM": STREAM,
            "AUTHTRAIL__RISK__SNAPSHOT_LOCATION": f"s3://{bucket}/snapshots",
            "AUTHTRAIL__CONTEXT__SECRET_ARN": stack["secret_arn"],
        },
        "post-auth": {
            **ENV_COMMON,
            "AUTHTRAIL__STREAM__KIND": "kinesis",
            "AUTHTRAIL__STREAM__KINESIS_STREAM": STREAM,
            "AUTHTRAIL__CONTEXT__SECRET_ARN": stack["secret_arn"],
        },
        "lake-writer": {**ENV_COMMON, "AUTHTRAIL__LAKE__LOCATION": f"s3://{bucket}"},
        "risk-scorer": {
            **ENV_COMMON,
            "AUTHTRAIL__LAKE__LOCATION": f"s3://{bucket}",
            "AUTHTRAIL__RISK__SNAPSHOT_LOCATION": f"s3://{bucket}/snapshots",
        },
    }
    timeouts = {"pre-auth": 5, "post-auth": 5, "lake-writer": 120, "risk-scorer": 600}
    memory = {"pre-auth": 512, "post-auth": 512, "lake-writer": 1024, "risk-scorer": 3008}
    ephemeral = {"pre-auth": 512, "post-auth": 512, "lake-writer": 512, "risk-scorer": 2048}
    code = _zip_with_bootstrap()
    sha256 = base64.b64encode(hashlib.sha256(code).digest()).decode()
    by_name = {p["FunctionName"]: p for _, p in resolver.of_type("AWS::Lambda::Function")}
    assert sorted(by_name) == sorted(FUNCTIONS.values())
    roles = set()
    for binary, name in FUNCTIONS.items():
        c = function(aws, binary)
        props = by_name[name]
        assert c["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        assert (c["Runtime"], c["Handler"], c["PackageType"]) == ("provided.al2023", "bootstrap", "Zip"), binary
        # The code is the placeholder uploaded as s3://authtrail-build-artifacts/<binary>.zip.
        assert (c["CodeSize"], c["CodeSha256"]) == (len(code), sha256), binary
        assert c["Timeout"] == timeouts[binary], binary
        assert c["MemorySize"] == memory[binary], binary
        assert c["Role"] == f"arn:aws:iam::{ACCOUNT}:role/{ROLES[binary]}", binary
        roles.add(c["Role"])
        env = c["Environment"]["Variables"]
        assert env == expected_env[binary], binary
        assert not any(SECRET_VALUE in v for v in env.values()), binary
        # moto's CloudFormation drops Layers, EphemeralStorage (reports 512) and
        # LoggingConfig (reports none); Architectures too (x86_64), not checked.
        assert "Layers" not in props, binary  # no GeoIpLayerArn
        kept(c["EphemeralStorage"]["Size"], ephemeral[binary],
             props.get("EphemeralStorage", {"Size": 512})["Size"], 512)
        kept(c.get("LoggingConfig", {}).get("LogGroup"), f"/aws/lambda/{name}",
             props["LoggingConfig"]["LogGroup"], None)
    assert len(roles) == 4  # each function its own role


def test_lake_writer_mapping(aws, stack):
    (m,) = aws("lambda").list_event_source_mappings(FunctionName=FUNCTIONS["lake-writer"])["EventSourceMappings"]
    assert m["EventSourceArn"] == f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{STREAM}"
    assert m["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTIONS['lake-writer']}"
    assert m["StartingPosition"] == "TRIM_HORIZON"
    assert m["BatchSize"] == 10000
    assert m["MaximumBatchingWindowInSeconds"] == 60
    assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert m["BisectBatchOnFunctionError"] is True
    assert m["MaximumRetryAttempts"] == 5
    assert m["MaximumRecordAgeInSeconds"] == 86400
    bucket_arn = f"arn:aws:s3:::{stack['outputs']['LakeBucketName']}"
    assert m["DestinationConfig"] == {"OnFailure": {"Destination": bucket_arn}}
    assert m["State"] == "Enabled"
    # Nothing else reads the stream.
    assert aws("lambda").list_event_source_mappings(EventSourceArn=m["EventSourceArn"])["EventSourceMappings"] == [m]


@pytest.mark.parametrize("binary", ["pre-auth", "post-auth"])
def test_cognito_may_invoke_the_triggers(aws, stack, binary):
    policy = json.loads(aws("lambda").get_policy(FunctionName=FUNCTIONS[binary])["Policy"])
    (st,) = policy["Statement"]
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTIONS[binary]}"
    assert st["Effect"] == "Allow"
    assert st["Action"] == "lambda:InvokeFunction"
    assert st["Principal"] == {"Service": "cognito-idp.amazonaws.com"}
    assert st["Resource"] == arn
    assert st["Condition"] == {
        "ArnLike": {"AWS:SourceArn": USER_POOL_ARN},
        "StringEquals": {"AWS:SourceAccount": ACCOUNT},
    }


@pytest.mark.parametrize("binary", ["lake-writer", "risk-scorer"])
def test_no_one_else_may_invoke(aws, stack, binary):
    with pytest.raises(ClientError) as e:
        aws("lambda").get_policy(FunctionName=FUNCTIONS[binary])
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_roles_have_their_inline_policy_only(aws, resolver):
    iam = aws("iam")
    roles = list(resolver.of_type("AWS::IAM::Role"))
    # The four function roles and the schedule's (SAM's ScheduleV2).
    assert len(roles) == 5
    names = set()
    for lid, props in roles:
        name = resolver.physical[lid]
        names.add(name)
        role = iam.get_role(RoleName=name)["Role"]
        assert role["AssumeRolePolicyDocument"] == props["AssumeRolePolicyDocument"], lid
        assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == [], lid
        assert props.get("ManagedPolicyArns", []) == [], lid  # moto's CloudFormation ignores them
        want = {p["PolicyName"]: p["PolicyDocument"] for p in props["Policies"]}
        assert sorted(iam.list_role_policies(RoleName=name)["PolicyNames"]) == sorted(want), lid
        for policy_name, document in want.items():
            got = role_policy(iam, name, policy_name)
            assert got == document, f"{lid} {policy_name}"
            assert not UNRESOLVED.search(json.dumps(got)), got
    assert set(ROLES.values()) <= names
    for binary in BINARIES:  # one inline policy each, named for the function
        assert iam.list_role_policies(RoleName=ROLES[binary])["PolicyNames"] == [binary]


def test_log_groups(aws, stack):
    groups = aws("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/authtrail-prod-")["logGroups"]
    assert {g["logGroupName"]: g.get("retentionInDays") for g in groups} == {
        f"/aws/lambda/{name}": 90 for name in FUNCTIONS.values()
    }


def test_alarm_topic_and_dashboard(aws, stack):
    topic = stack["outputs"]["AlarmTopicArn"]
    attrs = aws("sns").get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attrs["TopicArn"] == topic
    assert aws("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []  # no AlarmEmail
    dash = aws("cloudwatch").get_dashboard(DashboardName="authtrail-prod")
    assert dash["DashboardArn"] == f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/authtrail-prod"
    body = json.loads(dash["DashboardBody"])
    assert body["widgets"] and all(w["type"] == "metric" for w in body["widgets"])
    assert "${" not in dash["DashboardBody"]
    # The Cognito widget searches the given pool (the id is UserPoolArn's last part).
    searches = [m[0]["expression"] for w in body["widgets"] for m in w["properties"]["metrics"]
                if isinstance(m[0], dict) and "expression" in m[0]]
    cognito = [e for e in searches if "AWS/Cognito" in e]
    assert cognito and all('UserPool="us-east-1_AbCdEf123"' in e for e in cognito), searches
    assert any("AWS/Athena" in e and 'WorkGroup="authtrail-prod"' in e for e in searches), searches


# --------------------------------------------------------------------------
# 3. the skipped resources, applied through their APIs


def test_shim_applied_every_skipped_resource(applied, template, resolver):
    kinds = {}
    for lid in applied:
        kinds.setdefault(template["Resources"][lid]["Type"], []).append(lid)
    alarms = [lid for lid, _ in resolver.of_type("AWS::CloudWatch::Alarm")]
    assert sorted(kinds["AWS::CloudWatch::Alarm"]) == sorted(alarms)
    assert {k: len(v) for k, v in kinds.items() if k != "AWS::CloudWatch::Alarm"} == {
        "AWS::S3::BucketPolicy": 1,
        "AWS::Glue::Database": 1,
        "AWS::Glue::Table": 1,
        "AWS::Athena::WorkGroup": 1,
        "AWS::Scheduler::Schedule": 1,
        "AWS::Lambda::EventInvokeConfig": 1,
    }


def test_the_scorer_is_not_retried_asynchronously(aws, applied):
    # The next scheduled run is the retry: a retried run would overlap it.
    got = aws("lambda").get_function_event_invoke_config(FunctionName=FUNCTIONS["risk-scorer"])
    assert (got["MaximumRetryAttempts"], got["MaximumEventAgeInSeconds"]) == (0, 300)


def test_alarms(aws, applied, stack, resolver):
    expected = dict(resolver.of_type("AWS::CloudWatch::Alarm"))
    pages = aws("cloudwatch").get_paginator("describe_alarms").paginate(AlarmNamePrefix="authtrail-prod-")
    alarms = {a["AlarmName"]: a for page in pages for a in page["MetricAlarms"]}
    assert len(alarms) == len(expected) > 0
    assert set(alarms) == {props["AlarmName"] for props in expected.values()}
    topic = stack["outputs"]["AlarmTopicArn"]
    for lid, props in expected.items():
        a = alarms[props["AlarmName"]]
        assert a["AlarmActions"] == [topic], lid
        assert a["OKActions"] == [topic], lid
        assert a["TreatMissingData"] == props["TreatMissingData"], lid
        assert a["TreatMissingData"] in ("breaching", "notBreaching"), lid
        assert a["Threshold"] == float(props["Threshold"]), lid
        assert a["ComparisonOperator"] == props["ComparisonOperator"], lid
        assert a["EvaluationPeriods"] == props["EvaluationPeriods"], lid
        if "Metrics" in props:
            assert a["Metrics"] == props["Metrics"], lid
            (ret,) = [q for q in a["Metrics"] if q.get("ReturnData")]
            assert ret["Expression"] == "SUM(METRICS())", lid
        else:
            assert (a["Namespace"], a["MetricName"], a["Period"]) == (
                props["Namespace"], props["MetricName"], props["Period"]
            ), lid
            assert a["Dimensions"] == props["Dimensions"], lid
    heartbeat = alarms["authtrail-prod-scorer-heartbeat"]
    assert heartbeat["TreatMissingData"] == "breaching"
    assert heartbeat["Statistic"] == "SampleCount"
    for name in ("authtrail-prod-pre-auth-latency", "authtrail-prod-post-auth-latency"):
        assert alarms[name]["ExtendedStatistic"] == "p99"
        assert "Statistic" not in alarms[name]
        assert (alarms[name]["Threshold"], alarms[name]["DatapointsToAlarm"]) == (2500000.0, 3)
    assert alarms["authtrail-prod-denied-spike"]["Threshold"] == 50.0  # DeniedAlarmThreshold
    assert alarms["authtrail-prod-snapshot-stale"]["Threshold"] == 1800.0  # ScorerStaleSeconds
    dlq = alarms["authtrail-prod-schedule-dead-letters"]
    assert dlq["Dimensions"] == [{"Name": "QueueName", "Value": "authtrail-prod-schedule-dead-letters"}]
    lost = alarms["authtrail-prod-lost-events"]
    assert len(lost["Metrics"]) == 7  # the sum and its six metrics
    assert {q["MetricStat"]["Metric"]["MetricName"] for q in lost["Metrics"] if "MetricStat" in q} == {
        "Spilled", "MalformedEvents", "DeadLetters", "WriteFailures"
    }


def test_glue_table(aws, applied, stack):
    glue = aws("glue")
    bucket = stack["outputs"]["LakeBucketName"]
    assert glue.get_database(Name="authtrail_prod")["Database"]["Name"] == "authtrail_prod"
    t = glue.get_table(DatabaseName="authtrail_prod", Name="events")["Table"]
    assert t["TableType"] == "EXTERNAL_TABLE"
    assert t["PartitionKeys"] == [{"Name": "dt", "Type": "string"}, {"Name": "hour", "Type": "string"}]
    p = t["Parameters"]
    assert p["storage.location.template"] == f"s3://{bucket}/events/dt=${{dt}}/hour=${{hour}}/"
    assert {k: v for k, v in p.items() if k.startswith("projection.")} == {
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.range": "2024-01-01,NOW",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
        "projection.hour.type": "integer",
        "projection.hour.range": "0,23",
        "projection.hour.digits": "2",
    }
    assert p["classification"] == "parquet"
    sd = t["StorageDescriptor"]
    assert sd["Location"] == f"s3://{bucket}/events/"
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    assert [c["Name"] for c in sd["Columns"]][:3] == ["schema_version", "event_id", "event_type"]


def test_athena_work_group(aws, applied, stack):
    wg = aws("athena").get_work_group(WorkGroup="authtrail-prod")["WorkGroup"]
    assert wg["State"] == "ENABLED"
    c = wg["Configuration"]
    assert c["BytesScannedCutoffPerQuery"] == 10737418240
    assert c["EnforceWorkGroupConfiguration"] is True
    assert c["PublishCloudWatchMetricsEnabled"] is True
    assert c["ResultConfiguration"] == {
        "OutputLocation": f"s3://{stack['outputs']['LakeBucketName']}/athena-results/",
        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
    }


def test_schedule(aws, applied, resolver):
    s = aws("scheduler").get_schedule(Name="authtrail-prod-risk-scorer")
    assert s["ScheduleExpression"] == "rate(15 minutes)"
    assert s["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert s["State"] == "ENABLED"
    target = s["Target"]
    assert target["Arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTIONS['risk-scorer']}"
    assert target["DeadLetterConfig"] == {
        "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:authtrail-prod-schedule-dead-letters"
    }
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 600}
    role = resolver.physical["RiskScorerFunctionEvery15MinutesRole.Arn"]
    assert target["RoleArn"] == role
    # The schedule's role may invoke exactly the scorer and write its dead letters.
    name = role.rsplit("/", 1)[1]
    iam = aws("iam")
    docs = [role_policy(iam, name, p) for p in iam.list_role_policies(RoleName=name)["PolicyNames"]]
    assert sorted((st["Action"], st["Resource"]) for d in docs for st in d["Statement"]) == [
        ("lambda:InvokeFunction", target["Arn"]),
        ("sqs:SendMessage", target["DeadLetterConfig"]["Arn"]),
    ]


def test_bucket_policy_denies_insecure_transport(aws, applied, stack):
    bucket = stack["outputs"]["LakeBucketName"]
    (st,) = json.loads(aws("s3").get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert (st["Effect"], st["Principal"], st["Action"]) == ("Deny", "*", "s3:*")
    assert st["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    assert st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# --------------------------------------------------------------------------
# 4-5. update and delete (last: they change the shared stack)


def test_update_to_enforce(aws, stack, template):
    cf = aws("cloudformation")
    before = {b: function(aws, b)["Environment"]["Variables"] for b in BINARIES}
    assert {env["AUTHTRAIL_POLICY__MODE"] for env in before.values()} == {"audit"}
    keep = [{"ParameterKey": k, "UsePreviousValue": True} for k in stack["params"]]
    updated = _run(
        cf, "update_stack", "UPDATE_COMPLETE",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "PolicyMode", "ParameterValue": "enforce"}, *keep],
        Capabilities=CAPABILITIES,
    )
    params = {p["ParameterKey"]: p["ParameterValue"] for p in updated["Parameters"]}
    assert params["PolicyMode"] == "enforce"
    assert params["UserPoolArn"] == USER_POOL_ARN
    assert params["ContextSecretArn"] == stack["secret_arn"]
    for binary in BINARIES:  # the mode changed, nothing else
        env = function(aws, binary)["Environment"]["Variables"]
        assert env == {**before[binary], "AUTHTRAIL_POLICY__MODE": "enforce"}, binary
    assert function(aws, "pre-auth")["Environment"]["Variables"]["AUTHTRAIL_POLICY__MODE"] == "enforce"
    assert function(aws, "risk-scorer")["Environment"]["Variables"]["AUTHTRAIL_POLICY__MODE"] == "enforce"
    assert function(aws, "risk-scorer")["Timeout"] == 600
    mappings = aws("lambda").list_event_source_mappings(FunctionName=FUNCTIONS["lake-writer"])["EventSourceMappings"]
    assert len(mappings) == 1


def test_delete_retains_the_lake(aws, stack):
    _run(aws("cloudformation"), "delete_stack", "DELETE_COMPLETE")
    lam = aws("lambda")
    for name in FUNCTIONS.values():
        with pytest.raises(ClientError) as e:
            lam.get_function(FunctionName=name)
        assert e.value.response["Error"]["Code"] == "ResourceNotFoundException", name
    with pytest.raises(ClientError) as e:
        aws("kinesis").describe_stream_summary(StreamName=STREAM)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    for binary in BINARIES:
        with pytest.raises(ClientError) as e:
            aws("iam").get_role(RoleName=ROLES[binary])
        assert e.value.response["Error"]["Code"] == "NoSuchEntity", binary
    # DeletionPolicy: Retain
    bucket = stack["outputs"]["LakeBucketName"]
    assert aws("s3").head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
