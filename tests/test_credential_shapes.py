"""What has the shape of a credential (envres._secrets.credential_shapes): real shapes and
look-alikes that must not be flagged."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envres._secrets import credential_shapes

# Shapes as the providers document them (the AWS and GitHub examples are their own
# published example values, not live credentials).
CREDENTIALS = [
    ("AKIAIOSFODNN7EXAMPLE", "an AWS access key id", "AKIAIOSFODNN7EXAMPLE"),
    ("key_id: ASIAY34FZKBOKMUTVV7A", "an AWS access key id", "ASIAY34FZKBOKMUTVV7A"),
    ('"AKIAIOSFODNN7EXAMPLE"', "an AWS access key id", "AKIAIOSFODNN7EXAMPLE"),
    (
        "-----BEGIN RSA PRIVATE KEY-----",
        "a private key block",
        "-----BEGIN RSA PRIVATE KEY-----",
    ),
    ("-----BEGIN PRIVATE KEY-----", "a private key block", "-----BEGIN PRIVATE KEY-----"),
    (
        "key: |\n  -----BEGIN OPENSSH PRIVATE KEY-----\n  b3BlbnNzaC1rZXktdjEAAAAA",
        "a private key block",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
    ),
    (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----",
        "a private key block",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----",
    ),
    (
        "token: xoxb-2934857103-4958372910384-aBcDeFgHiJkLmNoPqRsTuVwX",
        "a Slack token",
        "xoxb-2934857103-4958372910384-aBcDeFgHiJkLmNoPqRsTuVwX",
    ),
    ("xoxp-1234567890-0987654321", "a Slack token", "xoxp-1234567890-0987654321"),
    (
        "url: https://hooks.slack.com/services/T0AB12CD3/B0CD34EF5/abcdefghijklmnopqrstuvwx",
        "a Slack webhook URL",
        "https://hooks.slack.com/services/T0AB12CD3/B0CD34EF5/abcdefghijklmnopqrstuvwx",
    ),
    (
        "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
        "a GitHub token",
        "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    ),
    ("gho_" + "x" * 36, "a GitHub token", "gho_" + "x" * 36),
    ("ghs_" + "0" * 36, "a GitHub token", "ghs_" + "0" * 36),
    (
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "a GitHub token",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    ),
    ("postgresql://app:hunter2@db.internal:5432/shop", "a password in a URL", "hunter2"),
    ("dsn: 'mysql+pymysql://root:p%40ss@localhost/db'", "a password in a URL", "p%40ss"),
    ("redis://:s3cr3t-pw@cache:6379/0", "a password in a URL", "s3cr3t-pw"),
    ("amqp://guest:guest@rabbit//", "a password in a URL", "guest"),
    (
        "https://deploy:$${not-a-variable}@git.example.com/x",
        "a password in a URL",
        "$${not-a-variable}",
    ),
]

LOOK_ALIKES = [
    "id: 123e4567-e89b-12d3-a456-426614174000",
    "https://github.com/org/repo/commit/a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
    "https://cdn.example.com/sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "https://example.com/files/a@b:c",
    "s3://bucket/key:with@sign",
    "postgresql://app:${PG_PASSWORD}@db.internal:5432/shop",
    "postgresql://app:${PG_PASSWORD:?set it}@db/shop",
    "postgresql://${PG_USER}:${PG_PASSWORD}@${PG_HOST}/shop",
    "postgresql://app@db.internal:5432/shop",
    "http://localhost:8080/health",
    "https://user@example.com/path",
    "git@github.com:org/repo.git",
    "password: ${PG_PASSWORD}",
    "token: ${SLACK_TOKEN:-}",
    "{{ env('GITHUB_TOKEN') }}",
    "-----BEGIN PUBLIC KEY-----",
    "-----BEGIN CERTIFICATE-----",
    "AKIA",  # too short
    "XAKIAIOSFODNN7EXAMPLE",  # part of a longer word
    "akiaiosfodnn7example",  # lower case: not the format
    "ghp_short",
    "ghp_" + "a" * 20,
    "xoxb",
    "xoxb-token",
    "the slack channel is #xoxb-alerts",
    "sha1: 356a192b7913b04c54574d18c28d46e6395428ab",
    "md5 d41d8cd98f00b204e9800998ecf8427e",
    "mailto:ops@example.com",
    "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
    "http://[::1]:8080/",
]


@pytest.mark.parametrize(("text", "kind", "credential"), CREDENTIALS)
def test_a_credential_shape_is_found_where_it_stands(text: str, kind: str, credential: str) -> None:
    found = credential_shapes(text)
    assert [(c.kind, text[c.start : c.end]) for c in found] == [(kind, credential)]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_a_look_alike_is_not_a_credential(text: str) -> None:
    assert credential_shapes(text) == []


def test_several_credentials_in_one_text_come_in_order() -> None:
    text = "a: AKIAIOSFODNN7EXAMPLE b: postgresql://u:pw12345@h/db"
    assert [c.kind for c in credential_shapes(text)] == [
        "an AWS access key id",
        "a password in a URL",
    ]


def test_a_credential_shape_says_its_kind_and_place_never_its_text() -> None:
    (found,) = credential_shapes("postgresql://app:hunter2@db")
    assert "hunter2" not in repr(found)


def test_every_kind_of_credential_has_an_example_above() -> None:
    # The quick scan that skips most lines is only as good as the examples that prove
    # each shape still gets past it.
    from envres._secrets import _CREDENTIALS

    assert {kind for kind, _ in _CREDENTIALS} == {kind for _, kind, _ in CREDENTIALS}


_PIECES = st.sampled_from(
    [
        "AKIA", "ASIA", "IOSFODNN7EXAMPLE", "-----BEGIN ", "RSA ", "PRIVATE KEY", "-----",
        "xoxb-", "xoxp-", "1234567890", "-", "https://", "hooks.slack.com/services/",
        "T0AB12CD3/", "B0CD34EF5/", "ghp_", "github_pat_", "a" * 36, "postgresql://",
        "app:", "hunter2", "@db/x", "${PG}", "://", ":", "/", " ", "_", "Z9",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES | st.text(max_size=4), max_size=12).map("".join))
def test_the_quick_scan_never_hides_a_shape_the_full_scan_finds(text: str) -> None:
    from envres._secrets import _CREDENTIALS

    full = sorted(
        (m.start("c"), m.end("c"), kind)
        for kind, pattern in _CREDENTIALS
        for m in pattern.finditer(text)
    )
    assert [(c.start, c.end, c.kind) for c in credential_shapes(text)] == full


_FILE_PIECES = (
    _PIECES
    | st.text(max_size=4)
    | st.sampled_from(
        ["\n", "\r\n", "\r", "\x85", "\u2028", "#", "# envres: allow-literal", "envres:"]
    )
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_FILE_PIECES, max_size=16).map("".join))
def test_a_whole_file_scan_finds_what_a_scan_of_each_line_finds(text: str) -> None:
    # The rules scan a profile file whole and split lines only where something was
    # found; this keeps that equal to reading every line (line numbers and columns).
    from envres._rules import _ALLOW, _Text

    lines = text.splitlines()
    by_line = [(n, c) for n, line in enumerate(lines, 1) for c in credential_shapes(line)]
    allows = [(n, m.start() + 1) for n, line in enumerate(lines, 1) if (m := _ALLOW.search(line))]
    assert _Text(text).credentials() == by_line
    assert _Text(text).allow_comments() == allows


@pytest.mark.parametrize(("text", "kind", "credential"), CREDENTIALS)
def test_a_whole_file_scan_finds_each_kind_on_its_own_line(
    text: str, kind: str, credential: str
) -> None:
    from envres._rules import _Text

    file = f"resources:\n  x:\n    a: {text}\n    b: 1\n"
    found = [
        (n, c.kind, file.splitlines()[n - 1][c.start : c.end]) for n, c in _Text(file).credentials()
    ]
    assert (kind, credential) in [(k, s) for _, k, s in found]
    assert {n for n, _, s in found if s == credential} == {
        n for n, line in enumerate(file.splitlines(), 1) if credential in line
    }
