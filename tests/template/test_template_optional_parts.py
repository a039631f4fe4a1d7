"""Each optional parameter switches its part on, and leaving it empty removes it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.template.conftest import EMAIL, KEY_ARN, PAT_ARN, ref

Deployed = Callable[[str], dict[str, Any]]


def secret_properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id]["Properties"]


def test_empty_pat_parameter_creates_the_pat_secret(deployed: Deployed) -> None:
    template = deployed("defaults")

    assert secret_properties(template, "PatSecret")["Name"] == (
        "matrix42-token-refresher/matrix42-pat"
    )
    assert template["Outputs"]["PatSecretArn"]["Value"] == ref("PatSecret")


def test_given_pat_arn_creates_no_pat_secret(deployed: Deployed) -> None:
    template = deployed("pat_given")

    assert "PatSecret" not in template["Resources"]
    assert template["Outputs"]["PatSecretArn"]["Value"] == PAT_ARN


def test_no_key_leaves_the_aws_managed_key(deployed: Deployed) -> None:
    template = deployed("defaults")

    for logical_id in ("PatSecret", "BearerTokenSecret"):
        assert "KmsKeyId" not in secret_properties(template, logical_id)


def test_key_encrypts_both_secrets(deployed: Deployed) -> None:
    template = deployed("kms_key")

    for logical_id in ("PatSecret", "BearerTokenSecret"):
        assert secret_properties(template, logical_id)["KmsKeyId"] == KEY_ARN


@pytest.mark.parametrize(
    ("parameter_set", "regions"),
    [
        ("defaults", None),
        ("one_replica", ["eu-west-1"]),
        ("three_replicas", ["eu-west-1", "us-east-1", "ap-southeast-2"]),
    ],
)
def test_token_secret_is_replicated_to_the_given_regions(
    deployed: Deployed, parameter_set: str, regions: list[str] | None
) -> None:
    properties = secret_properties(deployed(parameter_set), "BearerTokenSecret")

    replicas = properties.get("ReplicaRegions")
    assert replicas == (None if regions is None else [{"Region": r} for r in regions])


def test_email_subscription_only_when_an_address_is_given(deployed: Deployed) -> None:
    assert "AlarmEmailSubscription" not in deployed("defaults")["Resources"]
    subscription = deployed("email")["Resources"]["AlarmEmailSubscription"]

    assert subscription["Properties"] == {
        "TopicArn": ref("AlarmTopic"),
        "Protocol": "email",
        "Endpoint": EMAIL,
    }


def test_everything_on_still_keeps_the_core_stack(deployed: Deployed) -> None:
    resources = deployed("everything")["Resources"]

    for logical_id in (
        "BearerTokenSecret",
        "BearerTokenSecretPolicy",
        "TokenConsumerPolicy",
        "TokenRefreshFunction",
        "AlarmEmailSubscription",
    ):
        assert logical_id in resources


def test_conditions_used_by_the_template_are_all_defined(cfn_template: dict) -> None:
    used: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if "Fn::If" in node:
                used.add(node["Fn::If"][0])
            if isinstance(node.get("Condition"), str):
                used.add(node["Condition"])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(cfn_template["Resources"])
    collect(cfn_template["Outputs"])
    assert used == set(cfn_template["Conditions"])
