"""Helpers the construct tests share: logical ids, a grantee role, a nag-checked synthesis."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import Validations
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks


def logical_id(construct: Any) -> str:
    """The logical id of an L1 element, or of an L2 construct's default child."""
    stack = cdk.Stack.of(construct)
    element = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
    return str(stack.resolve(stack.get_logical_id(element)))


def lambda_role(stack: cdk.Stack, name: str) -> iam.Role:
    """A role to grant to, as a function's would be."""
    return iam.Role(stack, name, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))


def synth_with_nag(app: cdk.App) -> str | None:
    """Synthesize with cdk-nag's AWS Solutions checks; what synthesis raised, or None.

    The assembly (templates and validation-report.json) is written even when validation fails, so a
    test module reads it back and a nag finding fails only its nag test.
    """
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    try:
        app.synth()
    except RuntimeError as err:  # jsii's form of CDK's ValidationFailed; the report says why
        return str(err)
    return None


def render(value: Any, refs: dict[str, str]) -> Any:
    """A CloudFormation value as text: Fn::Join joined, Refs of ``refs`` by name, others as ``<id>``."""
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(str(render(part, refs)) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return refs.get(value["Ref"], f"<{value['Ref']}>")
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    return value
