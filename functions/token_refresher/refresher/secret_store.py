"""Secrets Manager: read the PAT and the current record in one call, write a record.

Every AWS error is translated here into a SecretReadError or SecretWriteError that
names the secret, the AWS error code and what to do about it.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from matrix42_token.record import TokenRecord, TokenRecordError
from refresher.answer import read_server_time
from refresher.budget import TimeBudget
from refresher.errors import ConfigError, SecretReadError, SecretWriteError

# Secrets Manager answers in tens of milliseconds; an attempt that takes seconds
# is better retried (standard mode: throttling and 5xx, 3 attempts in all).
# botocore also counts LimitExceededException as throttling and retries it,
# though only time fixes the version quota: up to two wasted attempts.
AWS_CONNECT_TIMEOUT_SECONDS = 1
AWS_READ_TIMEOUT_SECONDS = 3
AWS_ATTEMPT_SECONDS = AWS_CONNECT_TIMEOUT_SECONDS + AWS_READ_TIMEOUT_SECONDS
AWS_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=AWS_CONNECT_TIMEOUT_SECONDS,
    read_timeout=AWS_READ_TIMEOUT_SECONDS,
)
_BUDGET_HOOK_ID = "matrix42-refresher-time-budget"
# The budget of the invocation running in this thread (or task). The boto3 client
# outlives invocations and is shared, so its hook looks the budget up here.
_current_budget: ContextVar[TimeBudget | None] = ContextVar(
    "matrix42_refresher_budget", default=None
)


def _check_time(**_: Any) -> None:
    budget = _current_budget.get()
    if budget is not None:
        budget.require(AWS_ATTEMPT_SECONDS, "a Secrets Manager call")


# A PAT goes into an HTTP header: visible ASCII, no spaces.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")

_TRANSIENT_HINT = (
    "Secrets Manager kept failing after retries; the next scheduled run tries again"
)
_KMS_READ_HINT = (
    "its KMS key cannot be used: grant the role kms:Decrypt on the key, and check "
    "that the key policy allows it"
)
_KMS_WRITE_HINT = (
    "its KMS key cannot be used: grant the role kms:GenerateDataKey and kms:Decrypt "
    "on the key, and check that the key policy allows it"
)
_READ_HINTS = {
    "InternalServiceError": _TRANSIENT_HINT,
    "ThrottlingException": _TRANSIENT_HINT,
    "ResourceNotFoundException": "it does not exist or holds no value: check the "
    "secret id setting",
    "AccessDeniedException": "the function's role may not read it: grant "
    "secretsmanager:GetSecretValue on it",
    "DecryptionFailure": _KMS_READ_HINT,
    "InvalidRequestException": "it is scheduled for deletion or disabled: restore it "
    "with aws secretsmanager restore-secret",
}
_WRITE_HINTS = {
    "InternalServiceError": _TRANSIENT_HINT,
    "ThrottlingException": _TRANSIENT_HINT,
    "ResourceNotFoundException": "it does not exist: create it or fix TOKEN_SECRET_ID",
    "AccessDeniedException": "the function's role may not write it: grant "
    "secretsmanager:PutSecretValue on it",
    "EncryptionFailure": _KMS_WRITE_HINT,
    "LimitExceededException": "the secret has too many versions from the last 24 "
    "hours: refresh less often (raise the schedule interval) and wait for old "
    "versions to age out",
    "InvalidRequestException": "it is scheduled for deletion or disabled: restore it "
    "with aws secretsmanager restore-secret",
}


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What both secrets held at one moment, read in a single call."""

    pat: str = dataclasses.field(repr=False)
    pat_version_id: str
    record: TokenRecord | None
    record_problem: str | None
    aws_time: datetime | None


class SecretStore:
    """The PAT secret (read only) and the token secret (read and write)."""

    def __init__(
        self,
        client: Any,
        pat_secret_id: str,
        token_secret_id: str,
        budget: TimeBudget,
    ) -> None:
        self._client = client
        self.pat_secret_id = pat_secret_id
        self.token_secret_id = token_secret_id
        # Every attempt, retries included, first checks the invocation's time
        # (registering the same hook again is a no-op).
        _current_budget.set(budget)
        client.meta.events.register(
            "before-send.secrets-manager", _check_time, unique_id=_BUDGET_HOOK_ID
        )

    @property
    def token_secret_key(self) -> str:
        """The token secret's id with the endpoint and region that hold it."""
        return f"{self._client.meta.endpoint_url} {self.token_secret_id}"

    def read(self) -> Snapshot:
        """Read both secrets with one BatchGetSecretValue call."""
        ids = [self.pat_secret_id, self.token_secret_id]
        try:
            answer = self._client.batch_get_secret_value(SecretIdList=ids)
        except ClientError as exc:
            code, message = _code_and_message(exc)
            raise SecretReadError(
                f"cannot read secrets {self.pat_secret_id!r} and "
                f"{self.token_secret_id!r} ({code}): {_batch_hint(code, message)}",
                code,
            ) from exc
        except BotoCoreError as exc:
            raise SecretReadError(f"cannot reach Secrets Manager: {exc}") from exc
        values, errors = _sort_answer(answer, ids)
        self._refuse_one_secret_twice(values)
        pat_value = self._require(values, errors, self.pat_secret_id, "PAT")
        record, problem = self._read_record(values, errors)
        return Snapshot(
            pat=read_pat(pat_value, self.pat_secret_id),
            pat_version_id=pat_value["VersionId"],
            record=record,
            record_problem=problem,
            aws_time=_aws_time(answer),
        )

    def publish(self, record: TokenRecord) -> str:
        """Write the record as the secret's current version; return its version id.

        One request token per write: botocore's retries of this call reuse it, so
        they cannot add a version. (A token derived from the record or the token
        would make a no-op of writing a record equal to an older version, which
        then never becomes current again.)
        """
        try:
            answer = self._client.put_secret_value(
                SecretId=self.token_secret_id,
                SecretString=record.to_json(),
                ClientRequestToken=str(uuid.uuid4()),
            )
        except ClientError as exc:
            code, message = _code_and_message(exc)
            hint = _explain(code, message, _WRITE_HINTS, _KMS_WRITE_HINT)
            raise SecretWriteError(
                f"cannot write token secret {self.token_secret_id!r} ({code}): {hint}",
                code,
            ) from exc
        except BotoCoreError as exc:
            raise SecretWriteError(
                f"cannot write token secret {self.token_secret_id!r}: {exc}"
            ) from exc
        return answer["VersionId"]

    def _refuse_one_secret_twice(self, values: dict[str, dict[str, Any]]) -> None:
        # A name and an ARN can name the same secret; writing the token there
        # would overwrite the PAT.
        arns = {value.get("ARN") for value in values.values()}
        if len(values) == 2 and len(arns) == 1:
            raise ConfigError(
                f"PAT_SECRET_ID {self.pat_secret_id!r} and TOKEN_SECRET_ID "
                f"{self.token_secret_id!r} name the same secret: use two secrets"
            )

    def _require(
        self, values: dict, errors: dict, secret_id: str, what: str
    ) -> dict[str, Any]:
        if secret_id in values:
            return values[secret_id]
        code, message = errors.get(secret_id, ("ResourceNotFoundException", ""))
        hint = _explain(code, message, _READ_HINTS, _KMS_READ_HINT)
        raise SecretReadError(
            f"cannot read the {what} secret {secret_id!r} ({code}): {hint}", code
        )

    def _read_record(
        self, values: dict, errors: dict
    ) -> tuple[TokenRecord | None, str | None]:
        secret_id = self.token_secret_id
        code, message = errors.get(secret_id, ("", ""))
        # "can't find the specified secret value": the secret exists, empty.
        if code == "ResourceNotFoundException" and "secret value" in message:
            return None, "the token secret holds no value yet"
        value = self._require(values, errors, secret_id, "token")
        try:
            return TokenRecord.from_json(value.get("SecretString")), None
        except TokenRecordError as exc:
            return None, str(exc)


def read_pat(value: dict[str, Any], secret_id: str) -> str:
    """The PAT from a secret value: a plain string, or JSON with a ``pat`` key."""
    fix = (
        f"put it with: aws secretsmanager put-secret-value --secret-id {secret_id} "
        '--secret-string \'{"pat":"<your PAT>"}\''
    )
    text = value.get("SecretString")
    if text is None:
        raise SecretReadError(
            f"the PAT secret {secret_id!r} holds binary data, not text; {fix}"
        )
    pat = _unwrap_pat(text, secret_id, fix).strip()
    if not pat:
        raise SecretReadError(f"the PAT secret {secret_id!r} holds an empty PAT; {fix}")
    if not _HEADER_SAFE.fullmatch(pat):
        raise SecretReadError(
            f"the PAT in secret {secret_id!r} has spaces or characters that cannot "
            f"be sent in an HTTP header; {fix}"
        )
    return pat


def _unwrap_pat(text: str, secret_id: str, fix: str) -> str:
    try:
        data = json.loads(text)
    except RecursionError:
        data = None  # JSON nested too deep to be a PAT or {"pat": ...}
    except ValueError:
        if text.lstrip().startswith("{"):
            raise SecretReadError(
                f"the PAT secret {secret_id!r} looks like JSON but does not parse; "
                + fix
            ) from None
        return text
    if isinstance(data, dict):
        pat = data.get("pat")
        if not isinstance(pat, str):
            raise SecretReadError(
                f"the PAT secret {secret_id!r} is a JSON object without a string "
                f"'pat' key; {fix}"
            )
        return pat
    if isinstance(data, str):
        return data
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        return text
    raise SecretReadError(
        f"the PAT secret {secret_id!r} holds neither a string nor a JSON object "
        f"with 'pat'; {fix}"
    )


def _sort_answer(answer: dict, ids: list[str]) -> tuple[dict, dict]:
    values: dict[str, dict] = {}
    for value in answer.get("SecretValues", []):
        for secret_id in ids:
            if _names(secret_id, value):
                values[secret_id] = value
    errors = {
        e.get("SecretId"): (e.get("ErrorCode"), e.get("Message") or "")
        for e in answer.get("Errors", [])
    }
    return values, errors


def _names(secret_id: str, value: dict[str, Any]) -> bool:
    arn = value.get("ARN", "")
    # A partial ARN leaves out the six random characters AWS appends.
    return secret_id in (value.get("Name"), arn) or arn.startswith(secret_id + "-")


def _code_and_message(exc: ClientError) -> tuple[str, str]:
    error = exc.response.get("Error", {})
    return error.get("Code", "UnknownError"), error.get("Message") or ""


def _explain(code: str, message: str, hints: dict[str, str], kms_hint: str) -> str:
    # A key policy that refuses the role surfaces as AccessDeniedException with a
    # message about KMS, not as a KMS error code.
    if code == "AccessDeniedException" and "kms" in message.lower():
        return kms_hint
    return hints.get(code, "see the AWS error code")


def _batch_hint(code: str, message: str) -> str:
    if code == "AccessDeniedException" and "kms" not in message.lower():
        return (
            "grant the function's role secretsmanager:BatchGetSecretValue (resource *) "
            "and secretsmanager:GetSecretValue on both secrets"
        )
    return _explain(code, message, _READ_HINTS, _KMS_READ_HINT)


def _aws_time(answer: dict[str, Any]) -> datetime | None:
    headers = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return read_server_time(headers.get("date"))
