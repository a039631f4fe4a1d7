"""template.yaml as a person reads it: order, parameters, outputs, names, defaults."""

from __future__ import annotations

import re

import pytest

from tests.template.conftest import TEMPLATE_PATH

SECTION_ORDER = [
    "AWSTemplateFormatVersion",
    "Transform",
    "Description",
    "Metadata",
    "Parameters",
    "Conditions",
    "Globals",
    "Resources",
    "Outputs",
]
REQUIRED_OUTPUTS = {
    "TokenSecretArn",
    "ConsumerPolicyArn",
    "TokenClientLayerArn",
    "TokenRefreshFunctionName",
    "AlarmTopicArn",
    "PatSecretArn",
}
# The word each logical ID ends in, by resource type.
ID_SUFFIX_BY_TYPE = {
    "AWS::Serverless::Function": "Function",
    "AWS::Serverless::LayerVersion": "Layer",
    "AWS::SecretsManager::Secret": "Secret",
    "AWS::SecretsManager::ResourcePolicy": "Policy",
    "AWS::IAM::ManagedPolicy": "Policy",
    "AWS::IAM::Role": "Role",
    "AWS::Logs::LogGroup": "LogGroup",
    "AWS::SQS::Queue": "Queue",
    "AWS::SNS::Topic": "Topic",
    "AWS::SNS::Subscription": "Subscription",
    "AWS::CloudWatch::Alarm": "Alarm",
}
SECRET_ARN_PREFIX = "arn:aws:secretsmanager:eu-central-1:111122223333:secret:"
KEY_ARN_PREFIX = "arn:aws:kms:eu-central-1:111122223333:"
_RATE = re.compile(r"rate\((\d+) (minute|hour|day)s?\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def schedule_interval_seconds(expression: str) -> int:
    match = _RATE.fullmatch(expression)
    assert match, f"not a rate() expression: {expression}"
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def test_template_sections_in_documented_order(sam_template: dict) -> None:
    assert list(sam_template) == SECTION_ORDER


def test_template_indents_by_two_spaces_without_tabs() -> None:
    for number, line in enumerate(TEMPLATE_PATH.read_text().splitlines(), 1):
        assert "\t" not in line, f"tab on line {number}"
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0, f"odd indentation on line {number}"


def test_parameters_each_have_description_and_default(sam_template: dict) -> None:
    for name, spec in sam_template["Parameters"].items():
        assert spec.get("Description"), f"{name} has no Description"
        assert "Default" in spec, f"{name} has no Default"


def test_parameters_with_pattern_explain_it(sam_template: dict) -> None:
    for name, spec in sam_template["Parameters"].items():
        if "AllowedPattern" in spec:
            assert spec.get("ConstraintDescription"), f"{name}: pattern unexplained"


def test_parameter_defaults_pass_their_own_constraints(sam_template: dict) -> None:
    for name, spec in sam_template["Parameters"].items():
        default = str(spec["Default"])
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], default), name
        if "AllowedValues" in spec:
            assert default in [str(value) for value in spec["AllowedValues"]], name
        if "MinValue" in spec:
            assert spec["MinValue"] <= int(default) <= spec["MaxValue"], name


@pytest.mark.parametrize(
    ("parameter", "value", "accepted"),
    [
        ("PatSecretArn", "", True),
        ("PatSecretArn", SECRET_ARN_PREFIX + "ops/pat-a1B2c3", True),
        # A partial ARN (no random suffix) would never match the IAM statement.
        ("PatSecretArn", SECRET_ARN_PREFIX + "ops/pat", False),
        ("PatSecretArn", "ops/pat", False),
        ("KmsKeyArn", KEY_ARN_PREFIX + "key/1234abcd-12ab-34cd", True),
        ("KmsKeyArn", KEY_ARN_PREFIX + "alias/matrix42", False),
        ("ReplicaRegions", "eu-west-1", True),
        ("ReplicaRegions", "eu-west-1,us-gov-west-1,ap-southeast-2", True),
        ("ReplicaRegions", "eu-west-1, us-east-1", False),
        ("ReplicaRegions", "eu-west-1,us-east-1,us-east-2,us-west-2", False),
        ("ExchangeUrl", "https://esm.example.com/m42Services/api/ApiToken/x", True),
        ("ExchangeUrl", "http://accounts.matrix42.com/api/session/tokens/x", False),
        ("ExchangeUrl", "https://user:secret@esm.example.com/", False),
        ("VerifyUrl", "", True),
        ("VerifyUrl", "https://api.example.com/me", True),
        ("ScheduleExpression", "rate(10 minutes)", True),
        ("ScheduleExpression", "rate(1 hour)", True),
        ("ScheduleExpression", "cron(0/10 * * * ? *)", True),
        ("ScheduleExpression", "rate(1 minutes)", False),
        ("ScheduleExpression", "rate(10 minute)", False),
        ("ScheduleExpression", "cron(0/10 * * * *)", False),
        ("TokenSecretName", "matrix42/bearer-token", True),
        ("TokenSecretName", "matrix42 token", False),
        ("AlarmEmail", "ops@example.com", True),
        ("AlarmEmail", "ops", False),
    ],
)
def test_parameter_pattern_accepts_or_rejects(
    sam_template: dict, parameter: str, value: str, accepted: bool
) -> None:
    pattern = sam_template["Parameters"][parameter]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is accepted


def test_default_schedule_margin_and_alarm_fit_together(sam_template: dict) -> None:
    defaults = {
        name: spec["Default"] for name, spec in sam_template["Parameters"].items()
    }
    interval = schedule_interval_seconds(defaults["ScheduleExpression"])
    margin = int(defaults["RefreshBeforeExpirySeconds"])
    alarm_period = int(defaults["ExpiryAlarmPeriodSeconds"])
    threshold = int(defaults["ExpiryAlarmThresholdSeconds"])

    # Two more scheduled tries after the first one inside the margin.
    assert margin >= 3 * interval
    # Every alarm window holds at least one run, and a stopped schedule is
    # noticed while the last skipped token still has time left.
    assert interval < alarm_period <= margin // 2
    assert 0 < threshold < margin


def test_outputs_are_described_and_complete(sam_template: dict) -> None:
    outputs = sam_template["Outputs"]
    assert REQUIRED_OUTPUTS <= set(outputs)
    for name, output in outputs.items():
        assert output.get("Description"), f"output {name} has no Description"


def test_logical_ids_are_pascal_case_and_end_in_their_kind(sam_template: dict) -> None:
    for logical_id, resource in sam_template["Resources"].items():
        assert re.fullmatch(r"(?:[A-Z][a-z0-9]+)+", logical_id), logical_id
        suffix = ID_SUFFIX_BY_TYPE[resource["Type"]]
        assert logical_id.endswith(suffix), f"{logical_id} should end in {suffix}"


def test_iam_resources_are_unnamed_so_capability_iam_suffices(
    sam_template: dict,
) -> None:
    for logical_id, resource in sam_template["Resources"].items():
        properties = resource.get("Properties", {})
        for name_key in ("RoleName", "ManagedPolicyName"):
            assert name_key not in properties, f"{logical_id} names itself"


def test_arns_built_in_the_template_use_the_partition() -> None:
    for number, line in enumerate(TEMPLATE_PATH.read_text().splitlines(), 1):
        if "arn:" in line and "AllowedPattern" not in line:
            assert "arn:aws:" not in line, f"hard-coded partition on line {number}"
