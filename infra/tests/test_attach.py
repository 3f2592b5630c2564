"""Tests for infra/scripts/attach-cognito-triggers against moto's Cognito and
CloudFormation in server mode (the ``moto_endpoint`` fixture in conftest.py)."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys
import uuid
from importlib.machinery import SourceFileLoader
from pathlib import Path

import boto3
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "attach-cognito-triggers"


def _load_script():
    loader = SourceFileLoader("attach_cognito_triggers", str(SCRIPT))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


attach = _load_script()

REGION = "us-east-1"
ACCOUNT = "111111111111"


def fn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


PRE_AUTH = fn("authtrail-pre-auth")
POST_AUTH = fn("authtrail-post-auth")
ARNS = {"PreAuthentication": PRE_AUTH, "PostAuthentication": POST_AUTH}
FOREIGN_LAMBDA_CONFIG = {
    "PreSignUp": fn("app-pre-sign-up"),
    "PreTokenGeneration": fn("app-pre-token"),
    "PreTokenGenerationConfig": {"LambdaArn": fn("app-pre-token"), "LambdaVersion": "V2_0"},
    "CustomSMSSender": {"LambdaArn": fn("app-sms-sender"), "LambdaVersion": "V1_0"},
    "KMSKeyID": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b5c9f0e-1111-2222-3333-444455556666",
}


# --------------------------------------------------------------------------
# fixtures and helpers


@pytest.fixture(scope="module")
def cognito(moto_endpoint):
    return boto3.client("cognito-idp", endpoint_url=moto_endpoint, region_name=REGION)


@pytest.fixture(scope="module")
def cfn(moto_endpoint):
    return boto3.client("cloudformation", endpoint_url=moto_endpoint, region_name=REGION)


def make_pool(cognito, lambda_config=None, **overrides) -> str:
    """A pool whose settings are all away from Cognito's defaults.

    No UsernameAttributes/AliasAttributes: moto forgets those create-only
    fields on any UpdateUserPool (see test_moto_forgets_create_only_fields).
    """
    params = dict(
        PoolName=f"app-{uuid.uuid4().hex[:8]}",
        Policies={
            "PasswordPolicy": {
                "MinimumLength": 12,
                "RequireUppercase": True,
                "RequireLowercase": True,
                "RequireNumbers": True,
                "RequireSymbols": True,
                "TemporaryPasswordValidityDays": 3,
            }
        },
        DeletionProtection="ACTIVE",
        LambdaConfig=copy.deepcopy(FOREIGN_LAMBDA_CONFIG if lambda_config is None else lambda_config),
        AutoVerifiedAttributes=["email"],
        VerificationMessageTemplate={
            "DefaultEmailOption": "CONFIRM_WITH_CODE",
            "EmailSubject": "Your Example Corp code",
            "EmailMessage": "Example Corp code: {####}",
            "SmsMessage": "Example Corp SMS code {####}",
        },
        SmsAuthenticationMessage="Example Corp sign-in code {####}",
        MfaConfiguration="OPTIONAL",
        DeviceConfiguration={"ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": False},
        UserAttributeUpdateSettings={"AttributesRequireVerificationBeforeUpdate": ["email"]},
        Schema=[
            {
                "Name": "tenant",
                "AttributeDataType": "String",
                "Mutable": True,
                "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"},
            }
        ],
        UserPoolTags={"team": "identity", "env": "prod"},
        AdminCreateUserConfig={
            "AllowAdminCreateUserOnly": True,
            "InviteMessageTemplate": {
                "EmailSubject": "Welcome to Example Corp",
                "EmailMessage": "Hello {username}, your temporary password is {####}",
                "SMSMessage": "Hello {username}: {####}",
            },
        },
        AccountRecoverySetting={"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]},
        UserPoolAddOns={"AdvancedSecurityMode": "AUDIT"},
    )
    params.update(overrides)
    pool_id = cognito.create_user_pool(**params)["UserPool"]["Id"]
    cognito.set_user_pool_mfa_config(
        UserPoolId=pool_id, MfaConfiguration="OPTIONAL", SoftwareTokenMfaConfiguration={"Enabled": True}
    )
    return pool_id


@pytest.fixture
def pool(cognito) -> str:
    return make_pool(cognito)


def describe(cognito, pool_id) -> dict:
    return cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]


def settings(pool: dict) -> dict:
    """Everything DescribeUserPool says except the triggers and the timestamp."""
    return {k: v for k, v in pool.items() if k not in ("LambdaConfig", "LastModifiedDate")}


def mfa(cognito, pool_id) -> dict:
    out = cognito.get_user_pool_mfa_config(UserPoolId=pool_id)
    out.pop("ResponseMetadata")
    return out


def run(moto_endpoint, pool_id, *args) -> int:
    return attach.main(["--pool", pool_id, "--endpoint-url", moto_endpoint, *args])


def run_arns(moto_endpoint, pool_id, *args, pre=PRE_AUTH, post=POST_AUTH) -> int:
    return run(moto_endpoint, pool_id, "--pre-auth", pre, "--post-auth", post, *args)


def assert_custom(pool: dict) -> None:
    """The fixture pool really is customised, so 'unchanged' is not 'default'."""
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    assert pool["Policies"]["PasswordPolicy"]["TemporaryPasswordValidityDays"] == 3
    assert pool["AutoVerifiedAttributes"] == ["email"]
    assert pool["DeletionProtection"] == "ACTIVE"
    assert pool["MfaConfiguration"] == "OPTIONAL"
    assert pool["VerificationMessageTemplate"]["EmailSubject"] == "Your Example Corp code"
    assert pool["EmailVerificationSubject"] == "Your Example Corp code"
    assert pool["UserPoolTags"] == {"team": "identity", "env": "prod"}
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["UserPoolAddOns"] == {"AdvancedSecurityMode": "AUDIT"}
    assert any(a["Name"] == "custom:tenant" for a in pool["SchemaAttributes"])


# --------------------------------------------------------------------------
# (1) attach keeps everything


def test_attach_keeps_every_setting_and_foreign_triggers(moto_endpoint, cognito, pool, capsys):
    before = describe(cognito, pool)
    mfa_before = mfa(cognito, pool)
    assert_custom(before)

    assert run_arns(moto_endpoint, pool) == 0

    after = describe(cognito, pool)
    assert settings(after) == settings(before)
    assert_custom(after)
    assert mfa(cognito, pool) == mfa_before == {
        "MfaConfiguration": "OPTIONAL",
        "SoftwareTokenMfaConfiguration": {"Enabled": True},
    }
    # Foreign triggers (plain and nested) and KMSKeyID kept, both of ours added.
    assert after["LambdaConfig"] == {**FOREIGN_LAMBDA_CONFIG, **ARNS}
    out = capsys.readouterr().out
    assert f"attach PreAuthentication: {PRE_AUTH}" in out
    assert f"attach PostAuthentication: {POST_AUTH}" in out
    assert "verified" in out


def test_request_is_built_from_the_input_shape(cognito):
    pool = make_pool(cognito, UsernameAttributes=["email"])
    before, request = attach.plan(cognito, pool, ARNS)
    members = cognito.meta.service_model.operation_model("UpdateUserPool").input_shape.members
    assert set(request) <= set(members)
    for read_only in ("Id", "Arn", "Name", "CreationDate", "LastModifiedDate", "SchemaAttributes",
                      "UsernameAttributes", "EstimatedNumberOfUsers"):
        assert read_only in before and read_only not in request
    assert request["UserPoolId"] == pool
    if "PoolName" in members:  # newer botocore: UpdateUserPool can rename, so restate the name
        assert request["PoolName"] == before["Name"]
    # The legacy message fields are sent once, inside the template.
    for legacy in ("EmailVerificationMessage", "EmailVerificationSubject", "SmsVerificationMessage"):
        assert legacy in before and legacy not in request
    assert request["VerificationMessageTemplate"] == before["VerificationMessageTemplate"]
    # Every other described setting is restated as it is.
    for key in ("Policies", "DeletionProtection", "AutoVerifiedAttributes", "MfaConfiguration",
                "UserPoolTags", "AdminCreateUserConfig", "DeviceConfiguration", "AccountRecoverySetting",
                "UserAttributeUpdateSettings", "SmsAuthenticationMessage", "EmailConfiguration",
                "UserPoolAddOns"):
        assert request[key] == before[key], key
    assert request["LambdaConfig"] == {**FOREIGN_LAMBDA_CONFIG, **ARNS}


# --------------------------------------------------------------------------
# (2) detach


def test_detach_after_attach_restores_lambda_config(moto_endpoint, cognito, pool, capsys):
    before = describe(cognito, pool)
    assert run_arns(moto_endpoint, pool) == 0
    assert describe(cognito, pool)["LambdaConfig"] != before["LambdaConfig"]
    capsys.readouterr()

    assert run_arns(moto_endpoint, pool, "--detach") == 0

    after = describe(cognito, pool)
    assert after["LambdaConfig"] == before["LambdaConfig"] == FOREIGN_LAMBDA_CONFIG
    assert settings(after) == settings(before)
    out = capsys.readouterr().out
    assert f"remove PreAuthentication: {PRE_AUTH}" in out
    assert f"remove PostAuthentication: {POST_AUTH}" in out
    assert f"removed PreAuthentication, PostAuthentication from {pool}" in out

    # Detaching again has nothing to do.
    assert run_arns(moto_endpoint, pool, "--detach") == 0
    assert "no change" in capsys.readouterr().out


def test_detach_leaves_a_foreign_function_in_our_slot(moto_endpoint, cognito, capsys):
    foreign_pre = fn("someone-elses-pre-auth")
    pool = make_pool(cognito, {"PreSignUp": fn("app-pre-sign-up"), "PreAuthentication": foreign_pre,
                               "PostAuthentication": POST_AUTH})
    assert run_arns(moto_endpoint, pool, "--detach") == 0
    assert describe(cognito, pool)["LambdaConfig"] == {
        "PreSignUp": fn("app-pre-sign-up"),
        "PreAuthentication": foreign_pre,
    }
    out = capsys.readouterr().out
    assert f"leave PreAuthentication: it holds {foreign_pre}" in out
    assert f"removed PostAuthentication from {pool}" in out


# --------------------------------------------------------------------------
# (3) the trap is real, our path avoids it, and the after-check catches it


def test_naive_update_user_pool_loses_settings(cognito, pool):
    """Regression: UpdateUserPool with only LambdaConfig resets the rest."""
    before = describe(cognito, pool)
    cognito.update_user_pool(
        UserPoolId=pool, LambdaConfig={**before["LambdaConfig"], "PreAuthentication": PRE_AUTH}
    )
    after = describe(cognito, pool)
    assert after["LambdaConfig"]["PreAuthentication"] == PRE_AUTH
    assert after["Policies"]["PasswordPolicy"]["MinimumLength"] == 8
    assert "AutoVerifiedAttributes" not in after
    assert after.get("DeletionProtection") != "ACTIVE"
    assert "UserPoolTags" not in after
    assert after["VerificationMessageTemplate"]["EmailSubject"] != "Your Example Corp code"
    assert after["EmailVerificationSubject"] != "Your Example Corp code"
    assert after["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is False
    assert settings(after) != settings(before)


class NaiveClient:
    """A Cognito client whose UpdateUserPool sends only LambdaConfig."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def update_user_pool(self, **kwargs):
        return self._real.update_user_pool(UserPoolId=kwargs["UserPoolId"], LambdaConfig=kwargs["LambdaConfig"])


def test_verification_fails_loudly_when_settings_are_lost(cognito, pool):
    naive = NaiveClient(cognito)
    before, request = attach.plan(naive, pool, ARNS)
    with pytest.raises(attach.VerificationError) as err:
        attach.apply(naive, pool, before, request)
    message = str(err.value)
    assert err.value.exit_code == 1
    assert "VERIFICATION FAILED" in message
    for field in ("Policies", "AutoVerifiedAttributes", "DeletionProtection", "UserPoolTags"):
        assert field in message
    assert '-      "MinimumLength": 12' in message and '+      "MinimumLength": 8' in message


def test_moto_forgets_create_only_fields(cognito):
    """moto 5.2.5 quirk, not Cognito's: UpdateUserPool replaces moto's whole
    stored config, so UsernameAttributes (create-only, not an UpdateUserPool
    member, kept by real Cognito) disappears even from a complete request.
    The after-check notices. If this starts failing, moto fixed it: delete
    this test and the note in make_pool."""
    pool = make_pool(cognito, UsernameAttributes=["email"])
    before, request = attach.plan(cognito, pool, ARNS)
    assert "UsernameAttributes" not in request
    with pytest.raises(attach.VerificationError) as err:
        attach.apply(cognito, pool, before, request)
    assert "settings other than LambdaConfig changed: UsernameAttributes\n" in str(err.value)


# --------------------------------------------------------------------------
# (4) dry run


def test_dry_run_changes_nothing_and_prints_the_diff(moto_endpoint, cognito, pool, capsys):
    before = describe(cognito, pool)
    assert run_arns(moto_endpoint, pool, "--dry-run") == 0
    assert describe(cognito, pool) == before  # everything, timestamps included
    assert before["LambdaConfig"] == FOREIGN_LAMBDA_CONFIG

    out = capsys.readouterr().out
    assert out.count("--- ") == 1 and out.count("+++ ") == 1
    diff_lines = [line for line in out.splitlines() if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]
    # Exactly our two triggers are added; nothing else moves.
    assert sorted(diff_lines) == sorted([
        f'+    "PostAuthentication": "{POST_AUTH}",',
        f'+    "PreAuthentication": "{PRE_AUTH}",',
    ])
    assert f"would attach PreAuthentication: {PRE_AUTH}" in out
    assert "dry run: nothing was changed" in out

    # Once attached, a dry run says there is nothing to do.
    assert run_arns(moto_endpoint, pool) == 0
    capsys.readouterr()
    assert run_arns(moto_endpoint, pool, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "no change" in out and "+++" not in out


# --------------------------------------------------------------------------
# (5) a foreign function in our slot


def test_foreign_pre_authentication_refused_then_forced(moto_endpoint, cognito, capsys):
    foreign = fn("vendor-risk-engine")
    pool = make_pool(cognito, {"PreSignUp": fn("app-pre-sign-up"), "PreAuthentication": foreign})
    before = describe(cognito, pool)

    assert run_arns(moto_endpoint, pool) == 2
    err = capsys.readouterr().err
    assert "PreAuthentication" in err and foreign in err and "--force" in err
    assert "PostAuthentication" not in err  # only the conflicting slot is named
    assert describe(cognito, pool)["LambdaConfig"] == before["LambdaConfig"]

    assert run_arns(moto_endpoint, pool, "--force") == 0
    after = describe(cognito, pool)
    assert after["LambdaConfig"] == {"PreSignUp": fn("app-pre-sign-up"), **ARNS}
    assert settings(after) == settings(before)
    assert f"replace PreAuthentication: {foreign} -> {PRE_AUTH} (--force)" in capsys.readouterr().out


def test_executable_refuses_with_exit_code_2(moto_endpoint, cognito):
    assert os.access(SCRIPT, os.X_OK), "the script must be executable"
    assert SCRIPT.read_text().startswith("#!/usr/bin/env python3\n")
    foreign = fn("vendor-post-auth")
    pool = make_pool(cognito, {"PostAuthentication": foreign})
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--pool", pool, "--pre-auth", PRE_AUTH, "--post-auth", POST_AUTH,
         "--endpoint-url", moto_endpoint],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "PostAuthentication" in proc.stderr and foreign in proc.stderr
    assert describe(cognito, pool)["LambdaConfig"] == {"PostAuthentication": foreign}


# --------------------------------------------------------------------------
# (6) idempotence


def test_attaching_twice_is_a_no_op(moto_endpoint, cognito, pool, capsys, monkeypatch):
    assert run_arns(moto_endpoint, pool) == 0
    attached = describe(cognito, pool)
    capsys.readouterr()

    def must_not_update(*args, **kwargs):
        raise AssertionError("UpdateUserPool must not be called when already attached")

    monkeypatch.setattr(attach, "apply", must_not_update)
    assert run_arns(moto_endpoint, pool) == 0
    assert "already attached" in capsys.readouterr().out
    assert describe(cognito, pool)["LambdaConfig"] == attached["LambdaConfig"]

    before, request = attach.plan(cognito, pool, ARNS)
    assert attach.is_noop(before, request)


# --------------------------------------------------------------------------
# (7) --stack


def make_stack(cfn, outputs: dict[str, str]) -> str:
    name = f"authtrail-{uuid.uuid4().hex[:8]}"
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"Dummy": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    return name


def test_stack_outputs_give_the_arns(moto_endpoint, cognito, cfn, pool, capsys):
    stack = make_stack(cfn, {"PreAuthFunctionArn": PRE_AUTH, "PostAuthFunctionArn": POST_AUTH, "Other": "x"})
    assert attach.arns_from_stack(cfn, stack) == ARNS
    before = describe(cognito, pool)

    assert run(moto_endpoint, pool, "--stack", stack) == 0
    after = describe(cognito, pool)
    assert after["LambdaConfig"] == {**FOREIGN_LAMBDA_CONFIG, **ARNS}
    assert settings(after) == settings(before)

    assert run(moto_endpoint, pool, "--stack", stack, "--detach") == 0
    assert describe(cognito, pool)["LambdaConfig"] == FOREIGN_LAMBDA_CONFIG


def test_stack_missing_output_is_a_clear_error(moto_endpoint, cognito, cfn, pool, capsys):
    stack = make_stack(cfn, {"PreAuthFunctionArn": PRE_AUTH})
    assert run(moto_endpoint, pool, "--stack", stack) == 1
    err = capsys.readouterr().err
    assert stack in err and "PostAuthFunctionArn" in err and "PostAuthentication" in err
    assert "PreAuthFunctionArn" in err  # lists what the stack does have
    assert describe(cognito, pool)["LambdaConfig"] == FOREIGN_LAMBDA_CONFIG

    assert run(moto_endpoint, pool, "--stack", "no-such-stack") == 1
    assert "no-such-stack" in capsys.readouterr().err


def test_stack_output_that_is_not_an_arn(moto_endpoint, cognito, cfn, pool, capsys):
    stack = make_stack(cfn, {"PreAuthFunctionArn": PRE_AUTH, "PostAuthFunctionArn": "authtrail-post-auth"})
    assert run(moto_endpoint, pool, "--stack", stack) == 1
    err = capsys.readouterr().err
    assert "PostAuthFunctionArn" in err and "'authtrail-post-auth'" in err
    assert describe(cognito, pool)["LambdaConfig"] == FOREIGN_LAMBDA_CONFIG


# --------------------------------------------------------------------------
# (8) bad input


@pytest.mark.parametrize("bad", [
    "arn:aws:lambda:us-east-1:1234:function:short-account",
    "arn:aws:s3:::bucket",
    "arn:aws:lambda:us-east-1:111111111111:layer:x",
    "authtrail-pre-auth",
])
def test_malformed_arn_is_rejected(moto_endpoint, cognito, pool, capsys, bad):
    assert run_arns(moto_endpoint, pool, pre=bad) == 1
    err = capsys.readouterr().err
    assert "--pre-auth" in err and repr(bad) in err
    assert describe(cognito, pool)["LambdaConfig"] == FOREIGN_LAMBDA_CONFIG


@pytest.mark.parametrize("good", [
    "arn:aws:lambda:us-east-1:111111111111:function:authtrail-pre-auth",
    "arn:aws:lambda:eu-west-2:111111111111:function:authtrail_pre:live",
    "arn:aws:lambda:us-east-1:111111111111:function:f:$LATEST",
    "arn:aws-cn:lambda:cn-north-1:111111111111:function:f:7",
    "arn:aws-us-gov:lambda:us-gov-west-1:111111111111:function:f",
])
def test_well_formed_arns_are_accepted(good):
    assert attach.validate_arn(good, "x") == good


def test_unknown_pool_is_a_clear_error(moto_endpoint, capsys):
    assert run_arns(moto_endpoint, "us-east-1_DoesNotExist") == 1
    err = capsys.readouterr().err
    assert "us-east-1_DoesNotExist" in err and "not found" in err and "us-east-1" in err


def test_command_line_needs_stack_or_both_arns(moto_endpoint, capsys):
    with pytest.raises(SystemExit) as exit_:
        attach.main(["--pool", "us-east-1_x", "--pre-auth", PRE_AUTH])
    assert exit_.value.code == 64
    assert "--post-auth" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        attach.main(["--pool", "us-east-1_x", "--stack", "s", "--pre-auth", PRE_AUTH, "--post-auth", POST_AUTH])
    assert exit_.value.code == 64


# --------------------------------------------------------------------------
# transforms that moto does not exercise by itself


def test_transforms_on_a_describe_shaped_like_real_cognito():
    client = boto3.client("cognito-idp", region_name=REGION)  # service model only; no call is made
    described = {
        "Id": "us-east-1_Real", "Name": "prod", "Arn": "arn:aws:cognito-idp:us-east-1:1:userpool/x",
        "Status": "Enabled", "EstimatedNumberOfUsers": 3, "Domain": "login-prod",
        "UsernameConfiguration": {"CaseSensitive": False}, "AliasAttributes": ["email"],
        "SmsConfigurationFailure": "x", "EmailConfigurationFailure": "y",
        "Policies": {"PasswordPolicy": {"MinimumLength": 12, "TemporaryPasswordValidityDays": 7}},
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True, "UnusedAccountValidityDays": 7},
        "EmailVerificationMessage": "legacy {####}", "EmailVerificationSubject": "legacy subject",
        "SmsVerificationMessage": "sms {####}",
        "VerificationMessageTemplate": {"DefaultEmailOption": "CONFIRM_WITH_CODE",
                                        "EmailMessage": "template {####}"},
        "LambdaConfig": {"PreTokenGenerationConfig": {"LambdaArn": fn("t"), "LambdaVersion": "V3_0"},
                         "PreTokenGeneration": fn("t")},
    }
    request, not_sent = attach.build_update_request(client, described)
    if "PoolName" not in client.meta.service_model.operation_model("UpdateUserPool").input_shape.members:
        request["PoolName"] = described["Name"]  # older botocore: no rename, nothing to restate
    assert request == {
        "UserPoolId": "us-east-1_Real",
        "PoolName": "prod",
        "Policies": {"PasswordPolicy": {"MinimumLength": 12, "TemporaryPasswordValidityDays": 7}},
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
        # The template's own message wins; legacy-only values move into it.
        "VerificationMessageTemplate": {"DefaultEmailOption": "CONFIRM_WITH_CODE",
                                        "EmailMessage": "template {####}",
                                        "EmailSubject": "legacy subject",
                                        "SmsMessage": "sms {####}"},
        "LambdaConfig": described["LambdaConfig"],
    }
    for key in ("Id", "Arn", "Status", "Domain", "UsernameConfiguration", "AliasAttributes",
                "AdminCreateUserConfig.UnusedAccountValidityDays",
                "EmailVerificationMessage (differs; VerificationMessageTemplate.EmailMessage is kept)",
                "EmailVerificationSubject (moved into VerificationMessageTemplate.EmailSubject)"):
        assert key in not_sent
    # With link-style verification the legacy code-style e-mail text is not moved into the template.
    by_link = {"Id": "us-east-1_Link", "EmailVerificationMessage": "code {####}", "SmsVerificationMessage": "s {####}",
               "VerificationMessageTemplate": {"DefaultEmailOption": "CONFIRM_WITH_LINK",
                                               "EmailMessageByLink": "{##Verify##}"}}
    assert attach.build_update_request(client, by_link)[0]["VerificationMessageTemplate"] == {
        "DefaultEmailOption": "CONFIRM_WITH_LINK", "EmailMessageByLink": "{##Verify##}", "SmsMessage": "s {####}"}
    # Without TemporaryPasswordValidityDays the deprecated field is still the only one, so it is kept.
    old = {"Id": "us-east-1_Old", "AdminCreateUserConfig": {"UnusedAccountValidityDays": 5}}
    assert attach.build_update_request(client, old)[0]["AdminCreateUserConfig"] == {"UnusedAccountValidityDays": 5}


def test_deprecated_unused_account_validity_days_is_not_sent(cognito):
    pool = make_pool(cognito, AdminCreateUserConfig={"AllowAdminCreateUserOnly": True, "UnusedAccountValidityDays": 3})
    before, request = attach.plan(cognito, pool, ARNS)
    assert before["AdminCreateUserConfig"]["UnusedAccountValidityDays"] == 3
    assert "UnusedAccountValidityDays" not in request["AdminCreateUserConfig"]
    # moto drops the field it was not sent (Cognito derives it); the after-check accepts that.
    after = attach.apply(cognito, pool, before, request)
    assert after["LambdaConfig"] == {**FOREIGN_LAMBDA_CONFIG, **ARNS}
    assert after["Policies"] == before["Policies"]


def test_a_nested_slot_added_to_the_table(moto_endpoint, cognito, monkeypatch):
    """PreTokenGenerationConfig is a {LambdaArn, LambdaVersion} object linked to
    the plain PreTokenGeneration: adding it to TRIGGERS is all it takes."""
    ours = fn("authtrail-pre-token")
    monkeypatch.setitem(attach.TRIGGERS, "PreTokenGenerationConfig",
                        attach.Slot("PreTokenFunctionArn", "--pre-token", lambda_version="V2_0"))
    arns = {**ARNS, "PreTokenGenerationConfig": ours}

    # A foreign pre token trigger (nested and legacy views) is refused...
    foreign_pool = make_pool(cognito)
    with pytest.raises(attach.ForeignTriggerError) as err:
        attach.plan(cognito, foreign_pool, arns)
    assert "PreTokenGenerationConfig" in str(err.value) and fn("app-pre-token") in str(err.value)
    # ...even when only the legacy plain view holds it.
    legacy_pool = make_pool(cognito, {"PreTokenGeneration": fn("app-pre-token")})
    with pytest.raises(attach.ForeignTriggerError):
        attach.plan(cognito, legacy_pool, arns)

    # On a pool without one, both views are set to our function.
    pool = make_pool(cognito, {"PreSignUp": fn("app-pre-sign-up")})
    before, request = attach.plan(cognito, pool, arns)
    assert request["LambdaConfig"] == {
        "PreSignUp": fn("app-pre-sign-up"), **ARNS,
        "PreTokenGenerationConfig": {"LambdaArn": ours, "LambdaVersion": "V2_0"},
        "PreTokenGeneration": ours,
    }
    attach.apply(cognito, pool, before, request)
    assert attach.is_noop(*attach.plan(cognito, pool, arns))

    # Detach removes both views and nothing else.
    before, request = attach.plan(cognito, pool, arns, detach=True)
    attach.apply(cognito, pool, before, request)
    assert describe(cognito, pool)["LambdaConfig"] == {"PreSignUp": fn("app-pre-sign-up")}

    # The new slot got its command-line option from the same table.
    assert attach.parse_args(["--pool", pool, "--pre-auth", PRE_AUTH, "--post-auth", POST_AUTH,
                              "--pre-token", ours]).arns == arns


def test_settings_this_boto3_does_not_know_stop_the_attach(cognito, pool):
    """A field Cognito added after this boto3 would be reset by the update:
    the script refuses instead. Checked against the real model with a raw
    answer that carries one such field, then against moto's answer."""
    shape = cognito.meta.service_model.operation_model("DescribeUserPool").output_shape.members["UserPool"]
    raw = {"Id": pool, "FutureSignInSetting": {"Mode": "ON"}, "LambdaConfig": {"PreSignUp": "x", "FutureSlot": "y"}}
    assert attach.unknown_fields(raw, shape) == ["UserPool.FutureSignInSetting", "UserPool.LambdaConfig.FutureSlot"]

    def inject(http_response=None, **_):
        body = json.loads(http_response.content)
        body["UserPool"]["FutureSignInSetting"] = {"Mode": "ON"}
        http_response._content = json.dumps(body).encode()

    cognito.meta.events.register_first("after-call.cognito-idp.DescribeUserPool", inject)
    try:
        with pytest.raises(attach.AttachError, match="FutureSignInSetting.*Upgrade boto3"):
            attach.describe_pool(cognito, pool)
    finally:
        cognito.meta.events.unregister("after-call.cognito-idp.DescribeUserPool", inject)
    assert attach.describe_pool(cognito, pool)["Id"] == pool  # moto's answer: nothing unknown
