"""Lambda entry point: wire settings, clients and one refresh cycle together."""

from __future__ import annotations

import functools
import logging
from typing import Any

import boto3
import requests
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from refresher.budget import TimeBudget
from refresher.config import METRICS_NAMESPACE, SERVICE_NAME, Settings
from refresher.cycle import RefreshCycle, RunOptions
from refresher.errors import TokenRefreshError
from refresher.exchange import ExchangeClient
from refresher.secret_store import AWS_CONFIG, SecretStore

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(service=SERVICE_NAME, namespace=METRICS_NAMESPACE)

# botocore's DEBUG lines carry request and response bodies, which hold the PAT
# and the token: keep them off whatever level the root logger is given.
logging.getLogger("botocore").setLevel(logging.INFO)


@functools.cache
def _secrets_client() -> Any:
    # Built on first use, after the environment is final, and kept while warm.
    return boto3.client("secretsmanager", config=AWS_CONFIG)


@functools.cache
def _http_session() -> requests.Session:
    return requests.Session()


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False, clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    cycle = None
    try:
        budget = TimeBudget.from_context(context)
        settings = Settings.from_env()
        options = RunOptions.from_event(event)
        store = SecretStore(
            _secrets_client(),
            settings.pat_secret_id,
            settings.token_secret_id,
            budget,
        )
        exchange = ExchangeClient(
            settings.exchange_url, settings.exchange_method, _http_session()
        )
        cycle = RefreshCycle(settings, store, exchange)
        result = cycle.run(options, budget)
    except Exception as exc:
        _report_failure(exc, cycle)
        raise
    _report_success(result, cycle)
    return result


def _report_success(result: dict[str, Any], cycle: RefreshCycle) -> None:
    metrics.add_metric(
        "TokenRefreshed", MetricUnit.Count, result["status"] == "refreshed"
    )
    metrics.add_metric("RefreshFailed", MetricUnit.Count, 0)
    _report_expiry(cycle)
    logger.info("refresh finished", extra=result)


def _report_failure(exc: Exception, cycle: RefreshCycle | None) -> None:
    metrics.add_metric("TokenRefreshed", MetricUnit.Count, 0)
    metrics.add_metric("RefreshFailed", MetricUnit.Count, 1)
    if cycle is not None:
        _report_expiry(cycle)
    if getattr(exc, "aws_error_code", None) == "LimitExceededException":
        # The version quota: its own metric, because the fix is not a retry.
        metrics.add_metric("VersionQuotaExceeded", MetricUnit.Count, 1)
    # Our own errors carry a message written to be logged; others are bugs whose
    # text we have not vetted, so only their type is logged here (Lambda reports
    # the exception itself).
    message = str(exc) if isinstance(exc, TokenRefreshError) else None
    logger.error(
        "refresh failed", extra={"error_type": type(exc).__name__, "error": message}
    )


def _report_expiry(cycle: RefreshCycle) -> None:
    """The published token's remaining life: the alarm's heartbeat."""
    left = cycle.published.seconds_left(cycle.now) if cycle.published else None
    if left is not None:
        metrics.add_metric("TokenSecondsToExpiry", MetricUnit.Seconds, max(left, 0))
