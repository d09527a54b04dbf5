"""``${secretsmanager:SECRET_ID}`` and ``${secretsmanager:SECRET_ID#key}``: AWS Secrets Manager.

``SECRET_ID`` is a secret's name or ARN; ``#key`` picks a field of a JSON secret
(``#db.password`` for a nested one). boto3 is imported only when a reference is
resolved, with the standard AWS configuration. Registered as the entry point
``secretsmanager = "envres._sources.secretsmanager:fetch"``.
"""

from __future__ import annotations

from envres._sources._base import SourceFailed, aws_client, aws_failure, pick

__all__ = ["fetch"]

_NOT_FOUND = {"ResourceNotFoundException": "no such secret"}


def fetch(reference: str) -> str:
    """The secret's string (or the scalar ``#key`` picks from it)."""
    secret_id, has_key, key = reference.partition("#")
    client = aws_client("secretsmanager")
    try:
        answer = client.get_secret_value(SecretId=secret_id)
    except Exception as exc:
        raise aws_failure(exc, "secretsmanager:GetSecretValue", _NOT_FOUND) from None
    text = answer.get("SecretString")
    if text is None:
        binary = answer.get("SecretBinary") or b""
        try:
            text = bytes(binary).decode("utf-8")
        except UnicodeDecodeError:
            raise SourceFailed("a binary secret that is not UTF-8 text") from None
    return pick(text, key) if has_key else str(text)
