"""Least privilege: secret and key grants name only the two secrets and the key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.template.conftest import (
    CONSUMERS,
    KEY_ARN,
    PARAMETER_SETS,
    TEMPLATE_PATH,
    get_att,
    ref,
)

Deployed = Callable[[str], dict[str, Any]]

TOKEN = ref("BearerTokenSecret")
VIA_SECRETS_MANAGER = "secretsmanager.eu-central-1.amazonaws.com"
# The one grant AWS cannot scope: BatchGetSecretValue has no resource-level
# permissions (GetSecretValue is checked per secret as well).
UNSCOPABLE = {"secretsmanager:BatchGetSecretValue"}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return as_list(document["Statement"])


def identity_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict]]:
    """Every statement of every role and managed policy, with its owner's ID."""
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                for statement in statements(policy["PolicyDocument"]):
                    yield logical_id, statement
            assert not properties.get("ManagedPolicyArns"), logical_id
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            for statement in statements(properties["PolicyDocument"]):
                yield logical_id, statement


def pat_secret(parameter_set: str) -> Any:
    given = PARAMETER_SETS[parameter_set].get("PatSecretArn")
    return given or ref("PatSecret")


def is_token_replica(resource: Any) -> bool:
    """A replica ARN: the token secret's own name and suffix in another region."""
    if not isinstance(resource, dict) or "Fn::Sub" not in resource:
        return False
    text, variables = resource["Fn::Sub"]
    name_and_suffix = {"Fn::Select": [6, {"Fn::Split": [":", TOKEN]}]}
    return (
        text.startswith("arn:aws:secretsmanager:")
        and text.endswith(":111122223333:secret:${NameAndSuffix}")
        and variables == {"NameAndSuffix": name_and_suffix}
    )


def role_statements(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    role = template["Resources"]["TokenRefreshFunctionRole"]["Properties"]
    (policy,) = role["Policies"]
    return {s["Sid"]: s for s in statements(policy["PolicyDocument"])}


def consumer_statements(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    policy = template["Resources"]["TokenConsumerPolicy"]["Properties"]
    return {s["Sid"]: s for s in statements(policy["PolicyDocument"])}


@pytest.mark.parametrize("parameter_set", sorted(PARAMETER_SETS))
def test_secret_and_key_grants_name_only_the_two_secrets_and_the_key(
    deployed: Deployed, parameter_set: str
) -> None:
    template = deployed(parameter_set)
    secrets = [TOKEN, pat_secret(parameter_set)]

    for owner, statement in identity_statements(template):
        assert statement["Effect"] == "Allow", owner
        actions = set(as_list(statement["Action"]))
        resources = as_list(statement["Resource"])
        assert not any(action.endswith("*") for action in actions), owner
        services = {action.split(":")[0] for action in actions}
        if actions & UNSCOPABLE:
            assert actions == UNSCOPABLE and resources == ["*"], owner
        elif "secretsmanager" in services:
            assert services == {"secretsmanager"}, owner
            for resource in resources:
                assert resource in secrets or is_token_replica(resource), owner
        elif "kms" in services:
            assert services == {"kms"} and resources == [KEY_ARN], owner
            assert statement["Condition"]["StringEquals"]["kms:ViaService"] == (
                VIA_SECRETS_MANAGER
            )


def test_only_unscopable_actions_use_a_wildcard_resource(deployed: Deployed) -> None:
    for owner, statement in identity_statements(deployed("everything")):
        if "*" in as_list(statement["Resource"]):
            actions = set(as_list(statement["Action"]))
            unscopable_here = UNSCOPABLE | {
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
            }
            assert actions <= unscopable_here, owner


def test_wildcard_resource_lines_carry_a_comment() -> None:
    lines = TEMPLATE_PATH.read_text().splitlines()
    wildcard_sids = ["ReadSecretsInOneCall", "SendTraces"]
    for sid in wildcard_sids:
        number = next(n for n, line in enumerate(lines) if f"Sid: {sid}" in line)
        context = "\n".join(lines[number - 4 : number])
        assert "#" in context, f"statement {sid} has no comment saying why"


@pytest.mark.parametrize("parameter_set", ["defaults", "pat_given"])
def test_refresher_reads_both_secrets_and_writes_only_the_token(
    deployed: Deployed, parameter_set: str
) -> None:
    granted = role_statements(deployed(parameter_set))

    assert granted["ReadPatAndToken"]["Action"] == "secretsmanager:GetSecretValue"
    assert granted["ReadPatAndToken"]["Resource"] == [pat_secret(parameter_set), TOKEN]
    assert set(granted["WriteToken"]["Action"]) == {
        "secretsmanager:PutSecretValue",
        "secretsmanager:DescribeSecret",
    }
    assert granted["WriteToken"]["Resource"] == TOKEN


def test_refresher_without_a_key_gets_no_kms_grant(deployed: Deployed) -> None:
    granted = role_statements(deployed("defaults"))

    assert not [s for s in granted.values() if "kms" in str(s["Action"])]


def test_refresher_with_a_key_decrypts_both_and_encrypts_only_the_token(
    deployed: Deployed,
) -> None:
    granted = role_statements(deployed("kms_key"))
    decrypt, encrypt = granted["DecryptSecrets"], granted["EncryptToken"]

    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"] == [
        ref("PatSecret"),
        TOKEN,
    ]
    assert encrypt["Action"] == "kms:GenerateDataKey"
    assert encrypt["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"] == (
        TOKEN
    )


def test_refresher_writes_only_its_log_group_and_failure_queue(
    deployed: Deployed,
) -> None:
    granted = role_statements(deployed("defaults"))

    assert granted["WriteOwnLog"]["Resource"] == get_att("TokenRefreshLogGroup", "Arn")
    assert granted["KeepFailedEvents"] == {
        "Sid": "KeepFailedEvents",
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": get_att("FailedRefreshQueue", "Arn"),
    }
    assert "SendTraces" not in granted


def test_refresher_role_is_assumable_by_lambda_only(deployed: Deployed) -> None:
    role = deployed("defaults")["Resources"]["TokenRefreshFunctionRole"]["Properties"]

    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"


def test_consumer_policy_reads_only_the_token(deployed: Deployed) -> None:
    granted = consumer_statements(deployed("defaults"))

    assert list(granted) == ["ReadToken"]
    assert set(granted["ReadToken"]["Action"]) == {
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
    }
    assert granted["ReadToken"]["Resource"] == [TOKEN]


def test_consumer_policy_decrypts_with_the_key_for_the_token_only(
    deployed: Deployed,
) -> None:
    decrypt = consumer_statements(deployed("kms_key"))["DecryptToken"]

    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Resource"] == KEY_ARN
    assert decrypt["Condition"]["StringEquals"] == {
        "kms:ViaService": VIA_SECRETS_MANAGER,
        "kms:EncryptionContext:SecretARN": TOKEN,
    }


def test_consumer_policy_covers_each_replica(deployed: Deployed) -> None:
    resources = consumer_statements(deployed("three_replicas"))["ReadToken"]["Resource"]

    assert resources[0] == TOKEN
    regions = [replica["Fn::Sub"][0].split(":")[3] for replica in resources[1:]]
    assert regions == ["eu-west-1", "us-east-1", "ap-southeast-2"]
    assert all(is_token_replica(replica) for replica in resources[1:])


def test_resource_policy_lets_the_consumers_read_the_token(deployed: Deployed) -> None:
    policy = deployed("consumers")["Resources"]["BearerTokenSecretPolicy"]["Properties"]

    assert policy["SecretId"] == TOKEN
    assert policy["BlockPublicPolicy"] is True
    (statement,) = policy["ResourcePolicy"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"AWS": CONSUMERS.split(",")}
    assert set(statement["Action"]) == {
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
    }
    # In a secret's resource policy "*" is the secret the policy is attached to.
    assert statement["Resource"] == "*"


def test_no_resource_policy_without_consumers(deployed: Deployed) -> None:
    assert "BearerTokenSecretPolicy" not in deployed("defaults")["Resources"]
