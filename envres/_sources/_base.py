"""What every secret source shares: how it says "not found" or "failed", and AWS access.

A source is a callable ``fetch(reference) -> str``. It raises a ``LookupError``
(:class:`SecretNotFound` here) when there is no such secret, which the profile
may default (``${ssm:/x:-}``), and any other exception when it cannot tell
(:class:`SourceFailed` carries a reason in the user's terms). A reason never
holds a value.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Mapping
from typing import Any

__all__ = [
    "SecretNotFound",
    "SourceFailed",
    "aws_client",
    "aws_failure",
    "forget_aws_clients",
    "pick",
]

#: Seconds boto3 may wait to connect and for each answer, so no lookup hangs for long.
AWS_TIMEOUT = 10


class SecretNotFound(LookupError):
    """The source looked and found nothing for the reference; the message says what."""


class SourceFailed(RuntimeError):
    """The source could not tell: no access, no credentials, a bad answer. One line."""


def pick(text: str, path: str) -> str:
    """The scalar at ``path`` (``key``, or ``a.b`` for nested keys) of the JSON ``text``.

    Raises :class:`SourceFailed` when ``text`` is not a JSON object or the value is
    not a scalar, :class:`SecretNotFound` (naming the keys that exist, never their
    values) when a key is absent.

        >>> pick('{"db": {"password": "pw", "port": 5432}}', "db.port")
        '5432'
    """
    if not path:
        raise SourceFailed('nothing after "#": name the key to pick (#password)')
    try:
        value: Any = json.loads(text)
    except ValueError:
        raise SourceFailed(f"not JSON, so #{path} cannot pick a key from it") from None
    walked: list[str] = []
    for key in path.split("."):
        if not isinstance(value, dict):
            where = f"#{'.'.join(walked)}" if walked else "the secret"
            raise SourceFailed(f"{where} is not a JSON object, so #{path} cannot pick a key")
        if key not in value:
            where = f" under #{'.'.join(walked)}" if walked else ""
            keys = ", ".join(sorted(str(k) for k in value)) or "none"
            raise SecretNotFound(f"key '{key}' absent{where} (keys: {keys})")
        walked.append(key)
        value = value[key]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    kind = "null" if value is None else "an object" if isinstance(value, dict) else "a list"
    raise SourceFailed(f"#{path} is {kind}, not a single value")


_CLIENTS_LOCK = threading.Lock()


def aws_client(service: str) -> Any:
    """A boto3 client for ``service`` with the standard AWS configuration.

    boto3 reads the process environment (``AWS_PROFILE``, ``AWS_DEFAULT_REGION``,
    ``AWS_ENDPOINT_URL``...) and ``~/.aws`` itself; envres adds no settings of its
    own but timeouts. One client per service until :func:`forget_aws_clients`, made
    under a lock (making clients is not thread-safe; using one is).
    """
    with _CLIENTS_LOCK:
        return _client(service)


def forget_aws_clients() -> None:
    """Make the next lookup build its clients afresh: each load reads the AWS
    configuration of the moment (a notebook or a test may have changed it)."""
    with _CLIENTS_LOCK:
        _client.cache_clear()


@functools.cache
def _client(service: str) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise SourceFailed(f"the {service} source needs boto3: pip install 'envres[aws]'") from None
    config = Config(
        connect_timeout=AWS_TIMEOUT,
        read_timeout=AWS_TIMEOUT,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    try:
        return boto3.session.Session().client(service, config=config)
    except Exception as exc:
        raise aws_failure(exc, "") from None


_DENIED = frozenset({"AccessDenied", "AccessDeniedException"})
_BAD_KEYS = frozenset(
    {"UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException"}
)


def aws_failure(exc: Exception, action: str, not_found: Mapping[str, str] = {}) -> Exception:
    """``exc`` from boto3 as the one-line reason a user acts on; never a traceback.

    ``action`` is the IAM action the call needs (``secretsmanager:GetSecretValue``);
    ``not_found`` maps the error codes that mean "no such secret" to how to say it.
    """
    from botocore import exceptions as bx

    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in not_found:
            return SecretNotFound(not_found[code])
        if code in _BAD_KEYS:
            return SourceFailed("access denied: AWS does not accept these credentials")
        if code in _DENIED or status == 403:
            return SourceFailed(f"access denied ({action} was refused)")
        said = " ".join(str(error.get("Message", "")).split())[:200]
        return SourceFailed(f"AWS answered {code}" + (f": {said}" if said else ""))
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return SourceFailed(
            "no AWS credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        )
    if isinstance(exc, bx.NoRegionError):
        return SourceFailed("no AWS region (set AWS_DEFAULT_REGION, or region in the AWS profile)")
    if isinstance(exc, bx.ProfileNotFound):
        return SourceFailed(f"no such AWS profile ({exc.kwargs.get('profile', '?')})")
    if isinstance(exc, bx.ConnectTimeoutError | bx.ReadTimeoutError):
        return SourceFailed(f"AWS did not answer within {AWS_TIMEOUT} s")
    if isinstance(exc, bx.EndpointConnectionError):
        return SourceFailed(f"cannot reach AWS at {exc.kwargs.get('endpoint_url', '?')}")
    if isinstance(exc, bx.BotoCoreError):
        return SourceFailed(" ".join(str(exc).split())[:200] or type(exc).__name__)
    return SourceFailed(f"boto3 raised {type(exc).__name__}")
