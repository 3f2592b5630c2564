"""A small evaluator of CloudFormation intrinsics, for the infra tests.

It resolves what the checks need to read a translated template as it would
be deployed: Ref, Fn::Sub (both forms), Fn::GetAtt, Fn::If with the
template's Conditions, Fn::Equals / Not / And / Or, Fn::Select, Fn::Split,
Fn::Join. References to resources resolve through ``physical`` (logical id
-> value; attributes as "Id.Attr"), defaulting to a visible placeholder
``{Id}`` / ``{Id.Attr}`` so a test can compare shapes without a deploy.
"""

from __future__ import annotations

import re

NO_VALUE = object()

PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "authtrail",
    "AWS::URLSuffix": "amazonaws.com",
}


class Resolver:
    def __init__(self, template: dict, parameters: dict | None = None, physical: dict | None = None):
        self.template = template
        self.params = {
            name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()
        }
        self.params.update(parameters or {})
        self.physical = physical or {}
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self.template["Conditions"][name]))
        return self._conditions[name]

    def active(self, logical_id: str) -> bool:
        """Whether the resource exists under the parameters."""
        cond = self.template["Resources"][logical_id].get("Condition")
        return cond is None or self.condition(cond)

    def ref(self, name: str):
        if name in PSEUDO:
            return PSEUDO[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.params:
            return self.params[name]
        return self.physical.get(name, "{%s}" % name)

    def getatt(self, logical_id: str, attr: str):
        key = f"{logical_id}.{attr}"
        return self.physical.get(key, "{%s}" % key)

    def sub(self, text: str, variables: dict) -> str:
        def one(m):
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name:
                return str(self.getatt(*name.split(".", 1)))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def resolve(self, value):
        if isinstance(value, list):
            out = [self.resolve(v) for v in value]
            return [v for v in out if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.getatt(logical, attr)
            if key == "Fn::Sub":
                if isinstance(arg, str):
                    return self.sub(arg, {})
                text, variables = arg
                return self.sub(text, {k: self.resolve(v) for k, v in variables.items()})
            if key == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                a, b = (self.resolve(v) for v in arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(v) for v in arg)
            if key == "Fn::Or":
                return any(self.resolve(v) for v in arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                sep, text = arg
                return str(self.resolve(text)).split(sep)
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(v) for v in self.resolve(items))
        out = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}

    def properties(self, logical_id: str) -> dict:
        return self.resolve(self.template["Resources"][logical_id].get("Properties", {}))

    def of_type(self, type_name: str):
        """(logical id, resolved properties) of the active resources of a type."""
        for logical_id, resource in self.template["Resources"].items():
            if resource["Type"] == type_name and self.active(logical_id):
                yield logical_id, self.properties(logical_id)
