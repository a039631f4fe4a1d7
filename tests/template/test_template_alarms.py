"""Alarms: failed runs, a token nearing expiry or a silent schedule, kept failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.template.conftest import get_att, ref, resources_of_type

Deployed = Callable[[str], dict[str, Any]]

ALARMS = {"RefreshErrorsAlarm", "TokenExpiryAlarm", "FailedEventsAlarm"}


def alarm(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id]["Properties"]


def test_every_alarm_notifies_the_topic_on_alarm_and_recovery(
    deployed: Deployed,
) -> None:
    alarms = resources_of_type(deployed("defaults"), "AWS::CloudWatch::Alarm")

    assert set(alarms) == ALARMS
    for logical_id, resource in alarms.items():
        properties = resource["Properties"]
        assert properties["AlarmActions"] == [ref("AlarmTopic")], logical_id
        assert properties["OKActions"] == [ref("AlarmTopic")], logical_id
        assert properties["AlarmDescription"], logical_id


def test_errors_alarm_fires_on_any_function_error(deployed: Deployed) -> None:
    properties = alarm(deployed("defaults"), "RefreshErrorsAlarm")

    assert (properties["Namespace"], properties["MetricName"]) == (
        "AWS/Lambda",
        "Errors",
    )
    assert properties["Dimensions"] == [
        {"Name": "FunctionName", "Value": ref("TokenRefreshFunction")}
    ]
    assert properties["Statistic"] == "Sum"
    assert properties["ComparisonOperator"] == "GreaterThanThreshold"
    assert properties["Threshold"] == 0
    assert properties["TreatMissingData"] == "notBreaching"


def test_expiry_alarm_watches_the_metric_the_function_emits(
    deployed: Deployed,
) -> None:
    template = deployed("defaults")
    properties = alarm(template, "TokenExpiryAlarm")
    environment = template["Resources"]["TokenRefreshFunction"]["Properties"][
        "Environment"
    ]["Variables"]

    assert properties["Namespace"] == environment["POWERTOOLS_METRICS_NAMESPACE"]
    assert properties["MetricName"] == "TokenSecondsToExpiry"
    assert properties["Dimensions"] == [
        {"Name": "service", "Value": environment["POWERTOOLS_SERVICE_NAME"]}
    ]


def test_expiry_alarm_breaches_when_low_or_silent(deployed: Deployed) -> None:
    template = deployed("defaults")
    properties = alarm(template, "TokenExpiryAlarm")
    margin = int(template["Parameters"]["RefreshBeforeExpirySeconds"])

    assert properties["Statistic"] == "Minimum"
    assert properties["ComparisonOperator"] == "LessThanThreshold"
    assert properties["TreatMissingData"] == "breaching"
    assert properties["EvaluationPeriods"] == 1
    assert int(properties["Threshold"]) == margin // 2
    assert int(properties["Period"]) <= margin // 2


def test_failed_events_alarm_watches_the_on_failure_queue(deployed: Deployed) -> None:
    properties = alarm(deployed("defaults"), "FailedEventsAlarm")

    assert properties["Namespace"] == "AWS/SQS"
    assert properties["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert properties["Dimensions"] == [
        {"Name": "QueueName", "Value": get_att("FailedRefreshQueue", "QueueName")}
    ]
    assert properties["ComparisonOperator"] == "GreaterThanThreshold"
    assert properties["Threshold"] == 0


def test_alarm_topic_is_an_output(deployed: Deployed) -> None:
    assert deployed("defaults")["Outputs"]["AlarmTopicArn"]["Value"] == ref(
        "AlarmTopic"
    )
