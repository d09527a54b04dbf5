"""A real AWS API double for the tests: moto's server as a process on a free loopback port.

Tests reach it as users reach AWS, through ``AWS_ENDPOINT_URL`` and the standard
variables (:func:`aws_env`) in the environment envres runs in; boto3 is never patched.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from typing import Any


class MotoServer:
    """``python -m moto.server`` started on a free port; :meth:`stop` ends it."""

    def __init__(self, extra_env: Mapping[str, str] | None = None) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env={**os.environ, **(extra_env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2):
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def env(self, key: str = "testing", secret: str = "testing") -> dict[str, str]:
        return aws_env(self.url, key, secret)

    def client(self, service: str, key: str = "testing", secret: str = "testing") -> Any:
        return client(self.env(key, secret), service)


def client(env: Mapping[str, str], service: str) -> Any:
    """A boto3 client for ``service`` made from the variables ``env`` (see :func:`aws_env`)."""
    import boto3

    return boto3.session.Session().client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def aws_env(url: str, key: str = "testing", secret: str = "testing") -> dict[str, str]:
    """The standard AWS variables pointing at ``url``, with nothing read from ``~/.aws``."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
        "AWS_CONFIG_FILE": "/nonexistent/config",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
