"""The refresher function, its schedule, failure destination, log group and layer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.template.conftest import PAT_ARN, get_att, ref, resources_of_type

Deployed = Callable[[str], dict[str, Any]]

EXPECTED_ENVIRONMENT = {
    "PAT_SECRET_ID",
    "TOKEN_SECRET_ID",
    "EXCHANGE_URL",
    "EXCHANGE_METHOD",
    "REFRESH_BEFORE_EXPIRY_SECONDS",
    "VERIFY_URL",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}


def only(template: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    found = resources_of_type(template, kind)
    assert len(found) == 1, f"expected one {kind}, found {sorted(found)}"
    logical_id, resource = next(iter(found.items()))
    return logical_id, resource


def function_properties(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]["TokenRefreshFunction"]["Properties"]


def test_globals_set_runtime_architecture_timeout_and_memory(
    sam_template: dict,
) -> None:
    function_globals = sam_template["Globals"]["Function"]

    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Timeout"] == 60
    assert 128 <= function_globals["MemorySize"] <= 512


def test_function_runs_the_handler_on_arm64_python313(deployed: Deployed) -> None:
    properties = function_properties(deployed("defaults"))

    assert properties["Handler"] == "app.lambda_handler"
    assert properties["Runtime"] == "python3.13"
    assert properties["Architectures"] == ["arm64"]
    assert properties["Timeout"] == 60


def test_function_source_and_layer_paths(sam_template: dict) -> None:
    function = sam_template["Resources"]["TokenRefreshFunction"]["Properties"]
    layer = sam_template["Resources"]["TokenClientLayer"]

    assert function["CodeUri"] == "functions/token_refresher/"
    assert function["Layers"] == [ref("TokenClientLayer")]
    assert layer["Properties"]["ContentUri"] == "layers/matrix42_token/"
    assert layer["Metadata"] == {
        "BuildMethod": "python3.13",
        "BuildArchitecture": "arm64",
    }


def test_function_uses_the_published_layer(deployed: Deployed) -> None:
    template = deployed("defaults")
    layer_id, layer = only(template, "AWS::Lambda::LayerVersion")

    assert function_properties(template)["Layers"] == [ref(layer_id)]
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert "arm64" in layer["Properties"]["CompatibleArchitectures"]
    assert template["Outputs"]["TokenClientLayerArn"]["Value"] == ref(layer_id)


def test_function_never_runs_twice_at_once(deployed: Deployed) -> None:
    assert (
        function_properties(deployed("defaults"))["ReservedConcurrentExecutions"] == 1
    )


def test_function_environment_is_exactly_the_documented_settings(
    deployed: Deployed,
) -> None:
    variables = function_properties(deployed("defaults"))["Environment"]["Variables"]

    assert set(variables) == EXPECTED_ENVIRONMENT
    assert variables["TOKEN_SECRET_ID"] == ref("BearerTokenSecret")
    assert variables["PAT_SECRET_ID"] == ref("PatSecret")
    assert variables["EXCHANGE_URL"] == (
        "https://accounts.matrix42.com/api/session/tokens/exchange"
    )
    assert variables["EXCHANGE_METHOD"] == "GET"
    assert variables["REFRESH_BEFORE_EXPIRY_SECONDS"] == "1800"
    assert variables["VERIFY_URL"] == ""
    assert variables["POWERTOOLS_SERVICE_NAME"] == "matrix42-token-refresher"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "Matrix42TokenRefresher"
    assert variables["POWERTOOLS_LOG_LEVEL"] == "INFO"


def test_function_reads_the_given_pat_secret(deployed: Deployed) -> None:
    variables = function_properties(deployed("pat_given"))["Environment"]["Variables"]

    assert variables["PAT_SECRET_ID"] == PAT_ARN


@pytest.mark.parametrize(
    ("parameter_set", "mode"), [("defaults", "PassThrough"), ("tracing", "Active")]
)
def test_tracing_follows_the_parameter(
    deployed: Deployed, parameter_set: str, mode: str
) -> None:
    properties = function_properties(deployed(parameter_set))

    assert properties["TracingConfig"] == {"Mode": mode}


def test_schedule_rule_targets_the_function(deployed: Deployed) -> None:
    template = deployed("defaults")
    rule_id, rule = only(template, "AWS::Events::Rule")
    _, permission = only(template, "AWS::Lambda::Permission")

    assert rule["Properties"]["ScheduleExpression"] == "rate(10 minutes)"
    assert rule["Properties"]["State"] == "ENABLED"
    assert rule["Properties"]["Description"]
    targets = rule["Properties"]["Targets"]
    assert [target["Arn"] for target in targets] == [
        get_att("TokenRefreshFunction", "Arn")
    ]
    assert permission["Properties"] == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": ref("TokenRefreshFunction"),
        "Principal": "events.amazonaws.com",
        "SourceArn": get_att(rule_id, "Arn"),
    }


def test_async_failures_are_retried_once_then_kept_in_the_queue(
    deployed: Deployed,
) -> None:
    template = deployed("defaults")
    _, config = only(template, "AWS::Lambda::EventInvokeConfig")
    properties = config["Properties"]

    assert properties["FunctionName"] == ref("TokenRefreshFunction")
    assert properties["MaximumRetryAttempts"] == 1
    assert 60 <= properties["MaximumEventAgeInSeconds"] <= 3600
    assert properties["DestinationConfig"] == {
        "OnFailure": {"Destination": get_att("FailedRefreshQueue", "Arn")}
    }


def test_failure_queue_is_encrypted_and_keeps_messages_14_days(
    deployed: Deployed,
) -> None:
    queue = deployed("defaults")["Resources"]["FailedRefreshQueue"]["Properties"]

    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_function_logs_to_its_own_log_group_with_retention(deployed: Deployed) -> None:
    template = deployed("defaults")
    log_group = template["Resources"]["TokenRefreshLogGroup"]["Properties"]

    assert function_properties(template)["LoggingConfig"] == {
        "LogGroup": ref("TokenRefreshLogGroup")
    }
    assert log_group["RetentionInDays"] == "30"
    assert log_group["LogGroupName"] == ("/aws/lambda/matrix42-token-refresher")


@pytest.mark.parametrize(
    ("logical_id", "record"),
    [
        ("BearerTokenSecret", {"token": None, "expires_at": None}),
        ("PatSecret", {"pat": ""}),
    ],
)
def test_stack_created_secrets_start_with_a_placeholder_not_a_password(
    deployed: Deployed, logical_id: str, record: dict[str, Any]
) -> None:
    properties = deployed("defaults")["Resources"][logical_id]["Properties"]

    assert json.loads(properties["SecretString"]) == record
    assert "GenerateSecretString" not in properties


@pytest.mark.parametrize(
    ("logical_id", "policy"), [("PatSecret", "Retain"), ("BearerTokenSecret", "Delete")]
)
def test_secrets_have_a_deletion_decision(
    sam_template: dict, logical_id: str, policy: str
) -> None:
    resource = sam_template["Resources"][logical_id]

    assert resource["DeletionPolicy"] == policy
    assert resource["UpdateReplacePolicy"] == policy
