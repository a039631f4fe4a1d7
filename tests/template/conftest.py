"""Fixtures for the template tests: template.yaml parsed, translated and resolved.

Translation runs aws-sam-translator offline, as `sam deploy` would before sending
the template to CloudFormation; resolution then evaluates parameters and conditions
for one parameter set (see cfn_eval), so each test sees what one deployment gets.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from tests.template.cfn_eval import resolve

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"

PAT_ARN = (
    "arn:aws:secretsmanager:eu-central-1:111122223333:secret:ops/matrix42-pat-a1B2c3"
)
KEY_ARN = (
    "arn:aws:kms:eu-central-1:111122223333:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
)
CONSUMERS = "arn:aws:iam::111122223333:role/billing-sync,arn:aws:iam::444455556666:root"
REPLICAS = "eu-west-1,us-east-1,ap-southeast-2"
EMAIL = "ops@example.com"

# Named parameter sets: the defaults, each optional part switched on alone, and all
# of them together.
PARAMETER_SETS: dict[str, dict[str, str]] = {
    "defaults": {},
    "pat_given": {"PatSecretArn": PAT_ARN},
    "kms_key": {"KmsKeyArn": KEY_ARN},
    "consumers": {"ConsumerPrincipalArns": CONSUMERS},
    "one_replica": {"ReplicaRegions": "eu-west-1"},
    "three_replicas": {"ReplicaRegions": REPLICAS},
    "email": {"AlarmEmail": EMAIL},
    "tracing": {"TracingEnabled": "true"},
    "everything": {
        "PatSecretArn": PAT_ARN,
        "KmsKeyArn": KEY_ARN,
        "ConsumerPrincipalArns": CONSUMERS,
        "ReplicaRegions": REPLICAS,
        "AlarmEmail": EMAIL,
        "TracingEnabled": "true",
    },
}


class _NoManagedPolicies:
    """The translator looks up AWS managed policies only if a template names one."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="session")
def sam_template() -> dict[str, Any]:
    """template.yaml as written (SAM), with intrinsic tags turned into dicts."""
    return yaml_parse(TEMPLATE_PATH.read_text())


@pytest.fixture(scope="session")
def cfn_template(sam_template: dict[str, Any]) -> dict[str, Any]:
    """template.yaml translated to plain CloudFormation, conditions still in place."""
    template = copy.deepcopy(sam_template)
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in properties:
                # `sam package` replaces local paths by S3 URIs before translation.
                properties[key] = "s3://artifacts/placeholder.zip"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
        return transform(template, {}, _NoManagedPolicies())


@pytest.fixture(scope="session")
def deployed(cfn_template: dict[str, Any]) -> Callable[[str], dict[str, Any]]:
    """Resolve the translated template for a named parameter set (cached)."""
    cache: dict[str, dict[str, Any]] = {}

    def resolve_set(name: str) -> dict[str, Any]:
        if name not in cache:
            cache[name] = resolve(cfn_template, PARAMETER_SETS[name])
        return cache[name]

    return resolve_set


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def get_att(logical_id: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, attribute]}
