#!/usr/bin/env python3
"""Translates the SAM template to plain CloudFormation JSON, offline.

Why: moto's CloudFormation does not run the SAM transform, and the IAM checks
(cfn-lint's W3037 action check, checkov's CKV_AWS_60..111) only look at plain
CloudFormation. This runs the same translator `sam deploy` uses
(aws-sam-translator, pinned with aws-sam-cli in scripts/infra-check) with no
network: a template that names no managed policy needs no policy lookup, and
this one names none (every role is written out in the template).

Each `CodeUri` (a local path, which `sam build` replaces with the built zip)
becomes s3://authtrail-build-artifacts/<binary>.zip so the output is
deployable (the moto test uploads a placeholder there).

    sam2cfn.py infra/template.yaml > template.json
"""

import json
import os
import sys

import yaml
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform

ARTIFACTS = "authtrail-build-artifacts"


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, !If ...)."""


def _tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


class _NoManagedPolicies:
    """The translator asks for managed policy ARNs only by name; none here."""

    def load(self):
        return {}


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)


def translate(template):
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::Serverless::Function":
            binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary", name)
            resource["Properties"]["CodeUri"] = f"s3://{ARTIFACTS}/{binary}.zip"
    globals_ = template.get("Globals", {}).get("Function", {})
    globals_.pop("CodeUri", None)
    return transform(template, {}, _NoManagedPolicies())


def main(argv):
    # The translator fills AWS::Region for ARNs it builds; any region will do
    # (the output keeps the !Sub/${AWS::Region} references).
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        out = translate(load(argv[1]))
    except InvalidDocumentException as e:
        for cause in e.causes:
            print(f"{argv[1]}: {cause.message}", file=sys.stderr)
        return 1
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
