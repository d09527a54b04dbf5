"""The output gate: whatever a command runs and however user code writes, no secret shows.

Each command runs as a real process (the gate takes descriptors 1 and 2 there), and
in-process (the gate replaces the Python streams). The project's code writes the
secrets every way it can: print to stdout and stderr, logging through a handler made
before envres started and one made during the run, warnings, a subprocess that
echoes them, and os.write on the descriptors. Each line it writes is looked for,
masked, so a path that stops printing fails the test too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from envres._secrets import MASK
from tests.conftest import Cli, make_project

TOKEN = "canary-5ecret-Zq81-tok"
PASSWORD = "pw@canary/Zq81:x"  # `@` and `/`: a DSN holds it URL-encoded
ENV = {"API_TOKEN": TOKEN, "PG_PASSWORD": PASSWORD}

#: Every spelling of a secret that must never show.
FORMS = {
    "token": TOKEN,
    "token upper-cased by the profile's template": TOKEN.upper(),
    "token JSON-quoted": json.dumps(TOKEN),
    "password": PASSWORD,
    "password URL-encoded": urllib.parse.quote(PASSWORD, safe=""),
    "password URL-encoded (plus)": urllib.parse.quote_plus(PASSWORD),
    "dsn": f"postgresql://svc:{urllib.parse.quote(PASSWORD, safe='')}@db/shop",
}

DEFINITIONS = """
import json
import logging
import os
import subprocess
import sys
import urllib.parse
import warnings
from collections.abc import Iterator

from pydantic import SecretStr

import envres

# A handler made at import, before any profile is loaded.
early = logging.getLogger("early")
early.addHandler(logging.StreamHandler(sys.stderr))
early.setLevel(logging.INFO)
early.propagate = False

print("IMPORT token", os.environ.get("API_TOKEN"))


def leak(where: str, token: str, shout: str, password: str, dsn: str) -> None:
    forms = {
        "whole": token,
        "sliced": token[:12],
        "shout": shout,
        "json": json.dumps(token),
        "password": password,
        "quoted": urllib.parse.quote(password, safe=""),
        "dsn": dsn,
        "repr": repr({"token": token}),
    }
    for form, text in forms.items():
        tag = f"{where} {form}"
        print(f"PRINT-OUT {tag} {text}")
        print(f"PRINT-ERR {tag} {text}", file=sys.stderr)
        early.info("EARLY-LOG %s %s", tag, text)
        logging.getLogger("user").warning("ROOT-LOG %s %s", tag, text)
        late = logging.getLogger(f"late.{where}")
        if not late.handlers:
            late.addHandler(logging.StreamHandler(sys.stdout))
            late.propagate = False
        late.error("LATE-LOG %s %s", tag, text)
        warnings.warn(f"WARN {tag} {text}", stacklevel=1)
        os.write(1, f"FD1 {tag} {text}\\n".encode())
        os.write(2, f"FD2 {tag} {text}\\n".encode())
        sys.stdout.flush()
        sys.stderr.flush()
        subprocess.run(
            [sys.executable, "-c", "import sys; print('CHILD', *sys.argv[1:])", tag, text],
            check=True,
        )


class Api(envres.Resource):
    token: SecretStr
    shout: str
    password: SecretStr
    dsn: str

    def lifespan(self) -> Iterator[None]:
        self.leak("SETUP")
        yield

    def check(self) -> None:
        self.leak("CHECK")

    def leak(self, where: str) -> None:
        leak(
            where,
            self.token.get_secret_value(),
            self.shout,
            self.password.get_secret_value(),
            self.dsn,
        )


@envres.asset
def report(api: Api) -> str:
    api.leak("ASSET")
    return "done"


defs = envres.Definitions(assets=[report], resource_types={"api": Api})
"""

PROFILE = """\
resources:
  api:
    type: api
    config:
      token: ${API_TOKEN}
      shout: "{{ env('API_TOKEN') | upper }}"
      password: ${PG_PASSWORD}
      dsn: "postgresql://svc:{{ env('PG_PASSWORD') | urlencode }}@db/shop"
"""

WAYS = ("PRINT-OUT", "PRINT-ERR", "EARLY-LOG", "ROOT-LOG", "LATE-LOG", "WARN", "FD1", "FD2")
WAYS_WITH_CHILD = (*WAYS, "CHILD")
USER_FORMS = ("whole", "sliced", "shout", "json", "password", "quoted", "dsn", "repr")


@pytest.fixture
def leaky(tmp_path: Path) -> Path:
    project = make_project(tmp_path / "proj", {"dev.yaml": PROFILE}, DEFINITIONS, "leaky")
    return project.root


def leaks(text: str) -> list[str]:
    """The spellings of a secret found in ``text``, and any eight characters of one."""
    found = [name for name, form in FORMS.items() if form in text]
    for secret in (TOKEN, PASSWORD):
        for i in range(len(secret) - 7):
            if secret[i : i + 8] in text:
                found.append(f"fragment {secret[i : i + 8]!r}")
    return found


def assert_masked(text: str, where: str, ways: tuple[str, ...]) -> None:
    assert leaks(text) == [], text
    lines = text.splitlines()
    for way in ways:
        for form in USER_FORMS:
            prefix = f"{way} {where} {form} "
            written = [line for line in lines if prefix in line]
            assert written, f"no {prefix!r} line: the path was not exercised\n{text}"
            assert any(MASK in line for line in written), written


def real(root: Path, *args: str, before: str = "") -> subprocess.CompletedProcess[str]:
    """``envres ARGS`` as its own process; ``before`` runs first in that process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVRES_")}
    env.update(ENV)
    code = f"{before}\nfrom envres._cli import main\nmain({list(args)!r})"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# A handler configured before envres starts, as a wrapper script or a notebook would.
BASIC_CONFIG = "import logging, sys; logging.basicConfig(stream=sys.stderr, level=logging.INFO)"


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_run_shows_no_secret_however_user_code_writes_it(leaky: Path, jobs: str) -> None:
    result = real(leaky, "run", "--jobs", jobs, before=BASIC_CONFIG)
    assert result.returncode == 0, result.stderr
    text = result.stdout + result.stderr
    assert_masked(text, "SETUP", WAYS_WITH_CHILD)
    assert_masked(text, "ASSET", WAYS_WITH_CHILD)
    assert f"IMPORT token {MASK}" in text


def test_check_shows_no_secret_however_user_code_writes_it(leaky: Path) -> None:
    result = real(leaky, "check", before=BASIC_CONFIG)
    assert result.returncode == 0, result.stderr
    text = result.stdout + result.stderr
    assert_masked(text, "SETUP", WAYS_WITH_CHILD)
    assert_masked(text, "CHECK", WAYS_WITH_CHILD)
    assert "api" in result.stdout and "ok" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("show",),
        ("show", "--explain"),
        ("show", "--format", "json"),
        ("env",),
        ("validate",),
        ("assets",),
        ("graph",),
        ("diff", "dev", "dev"),
    ],
    ids=" ".join,
)
def test_commands_that_only_import_the_project_show_no_secret(
    leaky: Path, args: tuple[str]
) -> None:
    result = real(leaky, *args, before=BASIC_CONFIG)
    assert result.returncode == 0, result.stderr
    text = result.stdout + result.stderr
    assert leaks(text) == [], text
    # What the project printed at import is shown, masked, not dropped.
    assert f"IMPORT token {MASK}" in text


def test_show_masks_values_computed_from_a_secret_and_stays_valid_yaml(leaky: Path) -> None:
    import yaml

    result = real(leaky, "show")
    assert result.returncode == 0, result.stderr
    shown = yaml.safe_load(result.stdout.split("IMPORT token")[0])
    assert shown["resources"]["api"]["config"] == {
        "token": MASK,
        "shout": MASK,  # {{ env('API_TOKEN') | upper }}
        "password": MASK,
        "dsn": MASK,  # holds the password, URL-encoded
    }


def test_a_run_whose_output_is_closed_early_still_masks_and_tears_down(leaky: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVRES_")}
    env.update(ENV)
    proc = subprocess.Popen(
        [sys.executable, "-m", "envres", "run"],
        cwd=leaky,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # `envres run | head -0`
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert leaks(err) == [], err
    assert f"PRINT-ERR ASSET whole {MASK}" in err


def test_in_process_check_masks_a_handler_made_before_the_command(
    envres_cli: Cli, leaky: Path
) -> None:
    import logging
    import warnings

    stream_path = leaky / "handler.log"
    with stream_path.open("w", encoding="utf-8") as fh, warnings.catch_warnings():
        # The suite turns warnings into errors; the real-process tests cover warn().
        warnings.simplefilter("ignore")
        handler = logging.StreamHandler(fh)
        logging.getLogger().addHandler(handler)
        try:
            result = envres_cli("check", cwd=leaky, env=ENV)
        finally:
            logging.getLogger().removeHandler(handler)
    assert result.code == 0, result
    logged = stream_path.read_text(encoding="utf-8")
    assert leaks(result.out + result.err + logged) == []
    assert f"ROOT-LOG CHECK whole {MASK}" in logged
    assert f"PRINT-OUT CHECK whole {MASK}" in result.out


# -- structure is never masked -----------------------------------------------------------

STRUCTURE_PROFILE = """\
resources:
  warehouse:
    type: postgres
    config:
      dsn: host=db dbname=shop
      password: ${PG_PASSWORD}
  notifier:
    type: console
"""


@pytest.mark.parametrize("secret", ["postgres", "warehouse", "password"])
def test_a_secret_equal_to_a_type_key_or_field_name_leaves_the_structure_readable(
    envres_cli: Cli, tmp_path: Path, secret: str
) -> None:
    import yaml

    root = make_project(tmp_path / "proj", {"dev.yaml": STRUCTURE_PROFILE}).root
    result = envres_cli("show", cwd=root, env={"PG_PASSWORD": secret})
    assert result.code == 0, result
    assert yaml.safe_load(result.out)["resources"]["warehouse"] == {
        "type": "postgres",
        "config": {"dsn": "host=db dbname=shop", "password": MASK, "pool_size": 5},
    }
    explained = envres_cli("show", "--explain", cwd=root, env={"PG_PASSWORD": secret})
    assert "  warehouse:" in explained.out.splitlines()
    assert "    type: postgres  # profiles/dev.yaml:3" in explained.out.splitlines()
    assert f"      password: '{MASK}'" in "\n".join(explained.out.splitlines())


# -- a secret written in pieces, without a newline ---------------------------------------

PIECES = """
import os
import sys
import time

import envres
from pydantic import SecretStr


class Api(envres.Resource):
    token: SecretStr


@envres.asset
def pieces(api: Api) -> None:
    token = api.token.get_secret_value()
    # The first five characters, then a pause longer than a partial line waits, then the
    # rest: five characters are too few to be masked as a fragment on their own.
    os.write(1, ("SPLIT " + token[:5]).encode())
    time.sleep(0.3)
    os.write(1, (token[5:] + " END\\n").encode())
    print("PROMPT " + token[:6], end="", flush=True, file=sys.stderr)
    time.sleep(0.3)
    print(token[6:] + " DONE", file=sys.stderr)
    # The last thing written: the start of the secret, and no newline ever comes.
    os.write(1, ("TAIL " + token[:4]).encode())


defs = envres.Definitions(assets=[pieces], resource_types={"api": Api})
"""


def test_a_secret_written_in_pieces_with_pauses_never_shows_a_piece(tmp_path: Path) -> None:
    profile = "resources:\n  api:\n    type: api\n    config:\n      token: ${API_TOKEN}\n"
    root = make_project(tmp_path / "proj", {"dev.yaml": profile}, PIECES, "pieces").root
    result = real(root, "run")
    assert result.returncode == 0, result.stderr
    text = result.stdout + result.stderr
    for n in (4, 5, 6):
        assert TOKEN[:n] not in text, text
    assert f"SPLIT {MASK} END" in result.stdout
    assert f"PROMPT {MASK} DONE" in result.stderr
    assert f"TAIL {MASK}" in result.stdout


# -- what a red-team pass found: each a test ---------------------------------------------

IMPORTER = """
import atexit
import logging
import os
import sys
import threading
import time

from pydantic import SecretStr

import envres

print("IMPORT", os.environ.get("DBPW"), os.environ.get("P_PW"))
if os.environ.get("RAISE_AT_IMPORT"):
    raise RuntimeError("cannot start: " + os.environ["DBPW"])


class Db(envres.Resource):
    db_password: str = ""
    port: int = 5432


@envres.asset
def report(db: Db) -> None:
    secret = db.db_password
    atexit.register(lambda: print("ATEXIT", secret))

    def late() -> None:
        time.sleep(0.3)
        print("THREAD", secret)

    threading.Thread(target=late).start()
    log = logging.getLogger("extra")
    handler = logging.FileHandler(os.environ["LOG_FILE"])
    handler.setFormatter(logging.Formatter("%(message)s %(detail)s"))
    log.addHandler(handler)
    log.warning("EXTRA", extra={"detail": secret})
    handler.close()
    print("USER", secret, file=sys.stderr)


defs = envres.Definitions(assets=[report], resource_types={"db": Db})
"""

DBPW = "dbpw-Zq81-canary"
P_PW = "prodpw-Zq81-canary"


def importer(tmp_path: Path, dev: str = "", prod: str = "") -> Path:
    dev = dev or "resources:\n  db:\n    type: db\n    config:\n      db_password: ${DBPW}\n"
    prod = prod or "resources:\n  db:\n    type: db\n    config:\n      db_password: ${P_PW}\n"
    profiles = {"dev.yaml": dev, "prod.yaml": prod}
    return make_project(tmp_path / "proj", profiles, IMPORTER, "importer").root


def importer_run(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("ENVRES_")}
    full.update({"DBPW": DBPW, "P_PW": P_PW, "LOG_FILE": str(root / "user.log"), **env})
    return subprocess.run(
        [sys.executable, "-m", "envres", *args],
        cwd=root,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def no_canary(*texts: str) -> None:
    for text in texts:
        for secret in (DBPW, P_PW):
            assert secret[:8] not in text and secret[-8:] not in text, text


@pytest.mark.parametrize(
    "args",
    [("validate",), ("run",), ("show",), ("assets",), ("schema",)],
    ids=" ".join,
)
def test_what_the_project_prints_at_import_is_masked_even_when_its_profile_fails(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    bad = (
        "resources:\n  db:\n    type: db\n    config:\n      db_password: ${DBPW}\n      bogus: 1\n"
    )
    root = importer(tmp_path, dev=bad)
    result = importer_run(root, *args)
    no_canary(result.stdout, result.stderr)
    # What the project prints while it is imported goes to stderr (stdout is for data).
    assert f"IMPORT {MASK} {MASK}" in result.stderr


@pytest.mark.parametrize(
    "args", [("diff", "dev", "prod"), ("validate", "--all"), ("show", "--profile", "dev")]
)
def test_a_secret_of_any_profile_is_masked_in_what_the_project_printed(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    result = importer_run(importer(tmp_path), *args)
    assert result.returncode == 0, result.stderr
    no_canary(result.stdout, result.stderr)
    assert f"IMPORT {MASK} {MASK}" in result.stderr


def test_an_import_that_raises_with_a_secret_says_so_masked(tmp_path: Path) -> None:
    result = importer_run(importer(tmp_path), "validate", RAISE_AT_IMPORT="1")
    assert result.returncode == 1
    no_canary(result.stdout, result.stderr)
    assert f"cannot start: {MASK}" in result.stderr


def test_what_runs_at_exit_and_late_threads_print_is_masked_and_log_extras_too(
    tmp_path: Path,
) -> None:
    root = importer(tmp_path)
    result = importer_run(root, "run")
    assert result.returncode == 0, result.stderr
    logged = (root / "user.log").read_text(encoding="utf-8")
    no_canary(result.stdout, result.stderr, logged)
    assert f"ATEXIT {MASK}" in result.stdout
    assert f"THREAD {MASK}" in result.stdout
    assert f"USER {MASK}" in result.stderr
    assert logged.strip() == f"EXTRA {MASK}"


def test_a_secret_equal_to_a_type_name_is_still_masked_in_user_output(tmp_path: Path) -> None:
    root = importer(tmp_path)
    result = importer_run(root, "run", DBPW="db")  # the secret is the type's name
    assert result.returncode == 0, result.stderr
    assert "USER db" not in result.stderr
    assert f"USER {MASK}" in result.stderr
    assert "  setup   db" in result.stdout  # envres's own lines keep the structure


def test_a_flag_computed_from_a_secret_is_not_a_secret_and_show_stays_yaml(
    tmp_path: Path,
) -> None:
    import yaml

    dev = (
        "resources:\n  db:\n    type: db\n    config:\n"
        "      db_password: ${DBPW}\n      port: ${DBPW:+1234}\n"
    )
    root = importer(tmp_path, dev=dev)
    shown = importer_run(root, "show", DBPW="5432")  # a password that equals a number
    assert shown.returncode == 0, shown.stderr
    config = yaml.safe_load(shown.stdout)["resources"]["db"]["config"]
    assert config == {"db_password": MASK, "port": 1234}
    run = importer_run(root, "validate", DBPW="x" * 12)
    assert "(1 resource, 1 asset)" in run.stdout  # no `1` masked anywhere


def test_the_gate_fails_closed_when_it_cannot_take_the_descriptors(tmp_path: Path) -> None:
    root = importer(tmp_path)
    full = {k: v for k, v in os.environ.items() if not k.startswith("ENVRES_")}
    full.update({"DBPW": DBPW, "P_PW": P_PW, "LOG_FILE": str(root / "user.log")})
    # Few descriptors left: the pipes cannot be made.
    script = (
        "import resource; resource.setrlimit(resource.RLIMIT_NOFILE, (9, 9))\n"
        "from envres._cli import main\nmain(['run'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    no_canary(result.stdout, result.stderr)
    assert result.returncode == 1, result
    assert "cannot guard the output" in result.stderr
    assert "IMPORT" not in result.stdout + result.stderr  # nothing ran
