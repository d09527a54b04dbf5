"""``${ssm:/path/name}``: an AWS Systems Manager Parameter Store parameter, decrypted.

Names as CloudFormation and Serverless write them (``/shop/prod/pg_password``);
a ``SecureString`` is decrypted. boto3 is imported only when a reference is
resolved. Registered as the entry point ``ssm = "envres._sources.ssm:fetch"``.
"""

from __future__ import annotations

from envres._sources._base import aws_client, aws_failure

__all__ = ["fetch"]

_NOT_FOUND = {"ParameterNotFound": "no such parameter"}


def fetch(reference: str) -> str:
    """The parameter's value, decrypted."""
    client = aws_client("ssm")
    try:
        answer = client.get_parameter(Name=reference, WithDecryption=True)
    except Exception as exc:
        raise aws_failure(exc, "ssm:GetParameter", _NOT_FOUND) from None
    return str(answer["Parameter"]["Value"])
