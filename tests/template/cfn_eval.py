"""Resolve a translated CloudFormation template for one set of parameter values.

The SAM translator leaves parameters, conditions and Fn::If in place. This module
evaluates the parts that depend only on parameters and pseudo parameters, drops
resources whose condition is false and values that resolve to AWS::NoValue, and
leaves references to resources (Ref, Fn::GetAtt, Fn::Sub over them) as they are,
so tests can check what points where. It knows only the functions template.yaml
uses and fails loudly on anything else.
"""

from __future__ import annotations

import re
from typing import Any

PSEUDO_PARAMETERS = {
    "AWS::AccountId": "111122223333",
    "AWS::Partition": "aws",
    "AWS::Region": "eu-central-1",
    "AWS::StackName": "matrix42-token-refresher",
    "AWS::URLSuffix": "amazonaws.com",
}

_NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


class UnresolvedError(ValueError):
    """A condition or parameter needed a value that is not known offline."""


def parameter_values(template: dict, overrides: dict[str, str]) -> dict[str, Any]:
    """Defaults overlaid with overrides; a CommaDelimitedList becomes a list."""
    unknown = set(overrides) - set(template["Parameters"])
    if unknown:
        raise KeyError(f"no such parameters: {sorted(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in template["Parameters"].items():
        raw = str(overrides.get(name, spec.get("Default", "")))
        is_list = spec["Type"] == "CommaDelimitedList"
        values[name] = raw.split(",") if is_list else raw
    return values


def resolve(template: dict, overrides: dict[str, str] | None = None) -> dict:
    """The template as CloudFormation would see it with these parameter values."""
    evaluator = _Evaluator(template, parameter_values(template, overrides or {}))
    resources = {}
    for logical_id, resource in template["Resources"].items():
        if "Condition" in resource and not evaluator.condition(resource["Condition"]):
            continue
        resources[logical_id] = evaluator.value(resource)
    outputs = {
        name: evaluator.value(output)
        for name, output in template.get("Outputs", {}).items()
        if "Condition" not in output or evaluator.condition(output["Condition"])
    }
    return {"Resources": resources, "Outputs": outputs, "Parameters": evaluator.params}


class _Evaluator:
    def __init__(self, template: dict, params: dict[str, Any]) -> None:
        self.conditions = template.get("Conditions", {})
        self.params = params
        self._cache: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise KeyError(f"condition {name} is not defined")
        if name not in self._cache:
            self._cache[name] = self._truth(self.conditions[name])
        return self._cache[name]

    def _truth(self, node: Any) -> bool:
        ((function, args),) = node.items()
        if function == "Condition":
            return self.condition(args)
        if function == "Fn::Equals":
            left, right = (self.value(arg) for arg in args)
            _require_literal(left, right)
            return left == right
        if function == "Fn::Not":
            return not self._truth(args[0])
        if function == "Fn::And":
            return all(self._truth(arg) for arg in args)
        if function == "Fn::Or":
            return any(self._truth(arg) for arg in args)
        raise UnresolvedError(f"unsupported condition function {function}")

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            items = (self.value(item) for item in node)
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, args),) = node.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._function(key, args, node)
        resolved = {key: self.value(item) for key, item in node.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _function(self, function: str, args: Any, node: dict) -> Any:
        if function == "Ref":
            return self._ref(args, node)
        if function == "Fn::If":
            name, when_true, when_false = args
            return self.value(when_true if self.condition(name) else when_false)
        if function == "Fn::Sub":
            return self._sub(args)
        if function == "Fn::Join":
            separator, items = args[0], self.value(args[1])
            if _all_literal(items):
                return separator.join(items)
            return {function: [separator, items]}
        if function == "Fn::Split":
            separator, text = args[0], self.value(args[1])
            return (
                text.split(separator)
                if isinstance(text, str)
                else {function: [separator, text]}
            )
        if function == "Fn::Select":
            index, items = int(self.value(args[0])), self.value(args[1])
            return (
                items[index] if isinstance(items, list) else {function: [index, items]}
            )
        if function in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"):
            return self._truth(node)
        if function == "Fn::GetAtt":
            return node
        raise UnresolvedError(f"unsupported function {function}")

    def _ref(self, name: str, node: dict) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in self.params:
            return self.params[name]
        return node

    def _sub(self, args: Any) -> Any:
        text, variables = (args, {}) if isinstance(args, str) else args
        variables = {name: self.value(item) for name, item in variables.items()}
        unresolved = {}

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name in variables:
                if isinstance(variables[name], str):
                    return variables[name]
                unresolved[name] = variables[name]
                return match.group(0)
            known = self._ref(name, {"Ref": name})
            if isinstance(known, str):
                return known
            return match.group(0)

        result = _SUB_VARIABLE.sub(replace, text)
        if "${" not in result:
            return result
        return {"Fn::Sub": [result, unresolved]} if unresolved else {"Fn::Sub": result}


def _all_literal(items: Any) -> bool:
    return isinstance(items, list) and all(isinstance(item, str) for item in items)


def _require_literal(*values: Any) -> None:
    for value in values:
        if not isinstance(value, (str, list)):
            raise UnresolvedError(
                f"condition compares a value unknown offline: {value!r}"
            )
