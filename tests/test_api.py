"""§6 the Python API: binding a profile, running, scopes, errors, the pytest plugin.

The resources and assets are defined right here; each test writes a small
project (pyproject.toml + profiles/dev.yaml) and binds it with
``defs.with_profile("dev", project=..., env=...)``. Resources append
"setup NAME" / "teardown NAME" to ``LOG``.
"""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import textwrap
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import envres
from tests.conftest import code_line

LOG: list[str] = []


class Db(envres.Resource):
    dsn: str
    name: str = "db"
    fail: str = ""

    def lifespan(self) -> Iterator[None]:
        if self.fail == "setup":
            raise ConnectionError(f"cannot reach {self.dsn}")
        LOG.append(f"setup {self.name}")
        self._open = True
        yield
        self._open = False
        LOG.append(f"teardown {self.name}")
        if self.fail == "teardown":
            raise OSError(f"{self.name} did not close")
        if self.fail == "ctrl-c in teardown":
            raise KeyboardInterrupt

    def query(self, sql: str) -> str:
        assert self._open, "query on a closed Db"
        return f"{self.dsn}:{sql}"


@envres.resource
def cache(db: Db, size: int = 1) -> Iterator[dict[str, Any]]:
    LOG.append("setup cache")
    yield {"db": db, "size": size}
    LOG.append("teardown cache")


@envres.resource
def notifier(prefix: str = "") -> Iterator[list[str]]:
    LOG.append("setup notifier")
    sent: list[str] = []
    yield sent
    LOG.append(f"teardown notifier {sent}")


@envres.asset
def orders(db: Db) -> str:
    return db.query("orders")


@envres.asset
def revenue(orders: str, cache: dict[str, Any]) -> str:
    return f"revenue({orders}, size={cache['size']})"


@envres.asset
async def alerts(revenue: str, notifier: list[str]) -> int:
    await asyncio.sleep(0)
    notifier.append(revenue)
    return len(notifier)


defs = envres.Definitions(
    assets=[orders, revenue, alerts],
    resource_types={"db": Db, "cache": cache, "notifier": notifier},
)

DEV = """\
resources:
  db:
    type: db
    config:
      dsn: ${DB_DSN:-sqlite://dev}
      fail: ${DB_FAIL:-}
  cache:
    type: cache
    config:
      db: {resource: db}
      size: 3
  notifier:
    type: notifier
"""


@pytest.fixture(autouse=True)
def _clear_log() -> None:
    LOG.clear()


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "profiles").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.envres]\n", encoding="utf-8")
    (root / "profiles" / "dev.yaml").write_text(DEV, encoding="utf-8")
    return root


def bind(proj: Path, d: envres.Definitions = defs, **env: str) -> envres.BoundDefinitions:
    return d.with_profile("dev", project=str(proj), env=env)


# -- binding and running ---------------------------------------------------------------


def test_with_profile_returns_bound_definitions_and_sets_nothing_up(proj: Path) -> None:
    bound = bind(proj)

    assert isinstance(bound, envres.BoundDefinitions)
    assert bound.keys == ("db", "cache", "notifier")
    assert repr(bound) == "<BoundDefinitions profile='dev' resources=['cache', 'db', 'notifier']>"
    assert LOG == []


def test_with_profile_env_replaces_the_process_environment(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_DSN", "from-os-environ")

    assert bind(proj, DB_DSN="pg://given").run(["orders"])["orders"] == "pg://given:orders"
    assert bind(proj).run(["orders"])["orders"] == "sqlite://dev:orders"


def test_with_profile_invalid_profile_raises_profile_error_listing_the_problem(
    proj: Path,
) -> None:
    (proj / "profiles" / "dev.yaml").write_text(DEV.replace("size: 3", "size: three"), "utf-8")

    with pytest.raises(envres.ProfileError) as info:
        bind(proj)

    assert isinstance(info.value, ValueError)
    assert [p.path for p in info.value.problems] == ["resources.cache.config.size"]


def test_run_returns_each_asset_result_by_name_and_tears_everything_down(proj: Path) -> None:
    result = bind(proj).run()

    assert isinstance(result, envres.RunResult)
    assert result.outputs == {
        "orders": "sqlite://dev:orders",
        "revenue": "revenue(sqlite://dev:orders, size=3)",
        "alerts": 1,
    }
    assert result["alerts"] == 1
    assert set(result.seconds) == {"orders", "revenue", "alerts"}
    assert LOG == [
        "setup db",
        "setup cache",
        "setup notifier",
        "teardown notifier ['revenue(sqlite://dev:orders, size=3)']",
        "teardown cache",
        "teardown db",
    ]


def test_run_selected_asset_runs_it_and_its_upstream_only(proj: Path) -> None:
    result = bind(proj).run(["revenue"])

    assert result.outputs == {
        "orders": "sqlite://dev:orders",
        "revenue": "revenue(sqlite://dev:orders, size=3)",
    }
    assert LOG == ["setup db", "setup cache", "teardown cache", "teardown db"]


def test_run_with_jobs_gives_the_same_results_including_the_async_asset(proj: Path) -> None:
    assert bind(proj).run(jobs=4).outputs == bind(proj).run().outputs


def test_run_unknown_asset_raises_usage_error_with_did_you_mean(proj: Path) -> None:
    with pytest.raises(envres.UsageError, match=r"unknown asset 'revenu'; did you mean 'revenue'"):
        bind(proj).run(["revenu"])
    assert LOG == []


def test_run_events_report_setups_assets_and_teardowns_in_order(proj: Path) -> None:
    events: list[tuple[str, str]] = []
    bind(proj).run(["orders"], on_event=lambda e: events.append((e.kind, e.name)))

    assert events == [
        ("asset_started", "orders"),
        ("setup", "db"),
        ("asset_done", "orders"),
        ("teardown", "db"),
    ]


# -- resources(), call(), scope() ------------------------------------------------------


def test_resources_sets_up_the_named_keys_and_their_dependencies_and_tears_down_on_exit(
    proj: Path,
) -> None:
    with bind(proj).resources("cache", "notifier") as live:
        assert LOG == ["setup db", "setup cache", "setup notifier"]
        assert list(live) == ["cache", "notifier"]
        assert isinstance(live["cache"]["db"], Db)
        assert live["cache"]["db"].query("q") == "sqlite://dev:q"
        assert live["notifier"] == []

    assert LOG[3:] == ["teardown notifier []", "teardown cache", "teardown db"]


def test_resources_without_keys_sets_up_every_key(proj: Path) -> None:
    with bind(proj).resources() as live:
        assert list(live) == ["db", "cache", "notifier"]
    assert LOG.count("teardown db") == 1


def test_resources_tears_down_when_the_block_raises(proj: Path) -> None:
    with pytest.raises(LookupError, match="inside the block"), bind(proj).resources("db"):
        raise LookupError("inside the block")

    assert LOG == ["setup db", "teardown db"]


def test_resources_unknown_key_raises_usage_error_and_sets_nothing_up(proj: Path) -> None:
    with (
        pytest.raises(envres.UsageError, match="resource 'dbb'"),
        bind(proj).resources("db", "dbb"),
    ):
        pass
    assert LOG == []


def test_call_injects_resources_by_parameter_name_then_tears_them_down(proj: Path) -> None:
    def report(db: Db, notifier: list[str], title: str = "t") -> str:
        notifier.append(title)
        return f"{title}:{db.query('x')}:{notifier}"

    assert bind(proj).call(report) == "t:sqlite://dev:x:['t']"
    assert LOG == ["setup db", "setup notifier", "teardown notifier ['t']", "teardown db"]


def test_call_keyword_given_wins_over_the_resource(proj: Path) -> None:
    assert bind(proj).call(lambda db, notifier: (db, notifier), db="fake") == ("fake", [])
    assert LOG == ["setup notifier", "teardown notifier []"]


def test_scope_sets_up_lazily_shares_values_and_tears_down_on_exit(proj: Path) -> None:
    with bind(proj).scope() as scope:
        assert isinstance(scope, envres.ResourceScope)
        assert repr(scope) == "<ResourceScope profile='dev' live=[]>"
        assert LOG == []

        first = scope.get("cache")
        assert LOG == ["setup db", "setup cache"]
        assert scope.get("cache") is first
        assert scope.get("db") is first["db"]
        assert LOG == ["setup db", "setup cache"]
        assert repr(scope) == "<ResourceScope profile='dev' live=['db', 'cache']>"
        assert scope.call(lambda db, size=0: (db.name, size)) == ("db", 0)

    assert repr(scope) == "<ResourceScope profile='dev' closed>"
    assert LOG == ["setup db", "setup cache", "teardown cache", "teardown db"]


def test_scope_close_twice_is_harmless(proj: Path) -> None:
    scope = bind(proj).scope()
    scope.get("db")

    assert scope.close() == []
    assert scope.close() == []
    assert LOG == ["setup db", "teardown db"]


def test_scope_garbage_collected_with_live_resources_warns(proj: Path) -> None:
    bound = bind(proj)

    def leak_and_collect() -> None:
        scope = bound.scope()
        scope.get("db")
        del scope
        gc.collect()

    with pytest.warns(ResourceWarning, match="garbage-collected with live resources"):
        leak_and_collect()


def test_scope_garbage_collected_with_nothing_set_up_does_not_warn(proj: Path) -> None:
    bound = bind(proj)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bound.scope()
        with bound.scope() as scope:
            scope.get("db")
        del scope
        gc.collect()

    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_scope_closed_while_a_setup_is_in_flight_tears_that_resource_down(proj: Path) -> None:
    # Ctrl-C with --jobs: the main thread closes the scope while a worker is
    # still inside a setup. That resource must not outlive the scope.
    entered, release = threading.Event(), threading.Event()

    class Slow(envres.Resource):
        def lifespan(self) -> Iterator[None]:
            entered.set()
            assert release.wait(10)
            LOG.append("setup slow")
            yield
            LOG.append("teardown slow")

    bound = defs.with_profile("dev", project=str(proj), env={}, overrides={"slow": Slow()})
    scope = bound.scope()
    outcome: list[BaseException | object] = []

    def worker() -> None:
        try:
            outcome.append(scope.get("slow"))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    assert entered.wait(10)
    assert scope.close() == []
    release.set()
    thread.join(10)

    assert not thread.is_alive()
    assert LOG == ["setup slow", "teardown slow"]
    assert len(outcome) == 1
    assert isinstance(outcome[0], envres.EnvresError)
    assert scope.live == ()


# -- errors ----------------------------------------------------------------------------


def _failing_defs() -> envres.Definitions:
    @envres.asset
    def boom(db: Db) -> None:
        raise ValueError("no rows for 2024-01-01")

    @envres.asset
    def after(boom: None, notifier: list[str]) -> None:
        notifier.append("never")

    return envres.Definitions(
        assets=[boom, after], resource_types={"db": Db, "cache": cache, "notifier": notifier}
    )


def test_asset_failure_raises_asset_error_with_the_original_as_cause(proj: Path) -> None:
    with pytest.raises(envres.AssetError) as info:
        bind(proj, _failing_defs()).run()

    err = info.value
    assert isinstance(err, envres.RunError)
    assert isinstance(err, envres.EnvresError)
    assert isinstance(err, RuntimeError)
    assert err.asset == "boom"
    boom = code_line(__file__, 'raise ValueError("no rows')
    assert str(err) == f"asset 'boom' failed: {boom}: ValueError: no rows for 2024-01-01"
    assert type(err.__cause__) is ValueError
    assert err.__cause__.args == ("no rows for 2024-01-01",)
    assert err.failures == (err,)
    assert LOG == ["setup db", "teardown db"]


def test_setup_failure_raises_setup_error_with_the_original_as_cause(proj: Path) -> None:
    with pytest.raises(envres.SetupError) as info:
        bind(proj, DB_FAIL="setup").run(["revenue"])

    err = info.value
    assert isinstance(err, envres.RunError)
    assert isinstance(err, RuntimeError)
    assert err.key == "db"
    at = code_line(__file__, 'raise ConnectionError(f"cannot reach')
    assert str(err) == (
        f"setup of resource 'db' failed: {at}: ConnectionError: cannot reach sqlite://dev"
    )
    assert type(err.__cause__) is ConnectionError
    assert err.failures == (err,)
    assert LOG == []


def test_teardown_failure_raises_teardown_error_after_every_other_teardown(proj: Path) -> None:
    with pytest.raises(envres.TeardownError) as info:
        bind(proj, DB_FAIL="teardown").run()

    err = info.value
    assert isinstance(err, envres.RunError)
    assert isinstance(err, RuntimeError)
    assert err.key == "db"
    at = code_line(__file__, 'raise OSError(f"{self.name} did not close")')
    assert str(err) == f"teardown of resource 'db' failed: {at}: OSError: db did not close"
    assert type(err.__cause__) is OSError
    assert err.failures == (err,)
    assert LOG[-3:] == [
        "teardown notifier ['revenue(sqlite://dev:orders, size=3)']",
        "teardown cache",
        "teardown db",
    ]


def test_asset_and_teardown_failures_are_both_in_failures_asset_first(proj: Path) -> None:
    with pytest.raises(envres.AssetError) as info:
        bind(proj, _failing_defs(), DB_FAIL="teardown").run()

    err = info.value
    assert [type(f) for f in err.failures] == [envres.AssetError, envres.TeardownError]
    boom = code_line(__file__, 'raise ValueError("no rows')
    db = code_line(__file__, 'raise OSError(f"{self.name} did not close")')
    assert [f.message for f in err.failures] == [
        f"asset 'boom' failed: {boom}: ValueError: no rows for 2024-01-01",
        f"teardown of resource 'db' failed: {db}: OSError: db did not close",
    ]
    assert type(err.failures[1].__cause__) is OSError


def test_ctrl_c_during_one_teardown_still_runs_the_others_then_propagates(
    proj: Path,
) -> None:
    (proj / "profiles" / "dev.yaml").write_text(
        "resources:\n"
        "  first: {type: db, config: {dsn: x, name: first}}\n"
        "  second: {type: db, config: {dsn: x, name: second, fail: ctrl-c in teardown}}\n"
        "  third: {type: db, config: {dsn: x, name: third}}\n",
        "utf-8",
    )

    @envres.asset
    def all_three(first: Db, second: Db, third: Db) -> str:
        return first.name + second.name + third.name

    d = envres.Definitions(assets=[all_three], resource_types={"db": Db})

    with pytest.raises(KeyboardInterrupt):
        bind(proj, d).run()
    assert LOG == [
        "setup first",
        "setup second",
        "setup third",
        "teardown third",
        "teardown second",
        "teardown first",
    ]


def test_resources_teardown_failure_raises_teardown_error(proj: Path) -> None:
    with pytest.raises(envres.TeardownError), bind(proj, DB_FAIL="teardown").resources("db"):
        pass


def test_call_teardown_failure_raises_teardown_error(proj: Path) -> None:
    with pytest.raises(envres.TeardownError):
        bind(proj, DB_FAIL="teardown").call(lambda db: db)


def test_resources_teardown_failure_is_a_run_error_with_the_original_as_cause(
    proj: Path,
) -> None:
    with (
        pytest.raises(envres.RunError, match="teardown of resource 'db' failed") as info,
        bind(proj, DB_FAIL="teardown").resources("db"),
    ):
        pass
    assert type(info.value.__cause__) is OSError


# -- defining resources ----------------------------------------------------------------


def test_resource_decorator_on_a_plain_function_raises_definition_error_saying_to_yield() -> None:
    def plain(size: int = 1) -> dict[str, int]:
        return {"size": size}

    with pytest.raises(envres.DefinitionError, match="yield") as info:
        envres.resource(plain)
    assert isinstance(info.value, TypeError)


def test_resource_decorator_on_an_async_generator_is_rejected() -> None:
    async def agen() -> Any:
        yield 1

    with pytest.raises(envres.DefinitionError, match="async"):
        envres.resource(agen)


def test_lifespan_that_is_not_a_generator_is_rejected_at_class_definition() -> None:
    with pytest.raises(envres.DefinitionError, match=r"NoYield\.lifespan must be a generator"):

        class NoYield(envres.Resource):
            def lifespan(self) -> None:  # type: ignore[override]
                return None


def test_async_generator_lifespan_is_rejected_at_class_definition() -> None:
    with pytest.raises(envres.DefinitionError, match=r"AsyncGen\.lifespan is async"):

        class AsyncGen(envres.Resource):
            async def lifespan(self) -> Any:  # type: ignore[override]
                yield


def test_coroutine_lifespan_is_rejected_at_class_definition() -> None:
    with pytest.raises(envres.DefinitionError, match=r"Coro\.lifespan is async"):

        class Coro(envres.Resource):
            async def lifespan(self) -> None:  # type: ignore[override]
                return None


class Twice(envres.Resource):
    def lifespan(self) -> Iterator[None]:
        LOG.append("setup twice")
        yield
        LOG.append("between")
        yield
        LOG.append("never")  # pragma: no cover


@envres.asset
def uses_twice(twice: Twice) -> str:
    return "ok"


def test_lifespan_that_yields_twice_fails_its_teardown_saying_so(proj: Path) -> None:
    (proj / "profiles" / "dev.yaml").write_text("resources:\n  twice: {type: twice}\n", "utf-8")
    d = envres.Definitions(assets=[uses_twice], resource_types={"twice": Twice})

    with pytest.raises(envres.TeardownError, match="yielded more than once") as info:
        bind(proj, d).run()

    assert info.value.key == "twice"
    assert LOG == ["setup twice", "between"]


def test_override_instance_whose_lifespan_yields_twice_fails_its_teardown(proj: Path) -> None:
    d = envres.Definitions(assets=[uses_twice], resource_types={"twice": Twice})
    (proj / "profiles" / "dev.yaml").write_text("resources: {}\n", "utf-8")
    bound = d.with_profile("dev", project=str(proj), env={}, overrides={"twice": Twice()})

    with pytest.raises(envres.TeardownError, match="yielded more than once"):
        bound.run()


def test_async_asset_result_is_awaited(proj: Path) -> None:
    @envres.asset
    async def answer(db: Db) -> str:
        await asyncio.sleep(0)
        return db.query("42")

    d = envres.Definitions(
        assets=[answer], resource_types={"db": Db, "cache": cache, "notifier": notifier}
    )

    assert bind(proj, d).run().outputs == {"answer": "sqlite://dev:42"}
    assert bind(proj, d).run(jobs=2).outputs == {"answer": "sqlite://dev:42"}


# -- the pytest plugin -----------------------------------------------------------------


class FakeDb:
    name = "fake"

    def query(self, sql: str) -> str:
        return f"fake:{sql}"


def test_envres_bind_overrides_a_key_with_a_fake_object(envres_bind: Any, proj: Path) -> None:
    fake = FakeDb()
    bound = envres_bind(defs, "dev", project=str(proj), env={}, db=fake)

    with bound.resources("db") as live:
        assert live["db"] is fake
    assert bound.run(["orders"]).outputs == {"orders": "fake:orders"}
    assert LOG == []


def test_envres_bind_overrides_a_key_with_a_resource_instance_that_is_set_up(
    envres_bind: Any, proj: Path
) -> None:
    mem = Db(dsn="mem://", name="mem")
    bound = envres_bind(defs, "dev", project=str(proj), env={}, db=mem)

    assert bound.run(["revenue"]).outputs == {
        "orders": "mem://:orders",
        "revenue": "revenue(mem://:orders, size=3)",
    }
    assert LOG == ["setup mem", "setup cache", "teardown cache", "teardown mem"]
    with bound.resources("cache") as live:
        # A resource that refers to the key gets the override too.
        assert live["cache"]["db"] is mem


def test_envres_bind_can_add_a_key_the_profile_lacks(envres_bind: Any, proj: Path) -> None:
    (proj / "profiles" / "dev.yaml").write_text("resources: {}\n", "utf-8")
    d = envres.Definitions(assets=[orders], resource_types={"db": Db})
    bound = envres_bind(d, "dev", project=str(proj), env={}, db=FakeDb())

    assert bound.run()["orders"] == "fake:orders"


def test_envres_call_calls_one_asset_with_hand_made_inputs(envres_call: Any) -> None:
    assert envres_call(revenue, orders="o", cache={"size": 2}) == "revenue(o, size=2)"
    assert envres_call(alerts, revenue="r", notifier=["x"]) == 2


def test_envres_call_missing_inputs_raise_usage_error_naming_them(envres_call: Any) -> None:
    with pytest.raises(envres.UsageError, match=r"missing orders, cache"):
        envres_call(revenue)
    with pytest.raises(envres.UsageError, match=r"missing cache; unknown warehouse"):
        envres_call(revenue, orders="o", warehouse=1)


# -- envres.load and the public surface ------------------------------------------------


def test_load_imports_the_project_definitions_and_binds_the_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "loadproj"
    (root / "profiles").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[tool.envres]\ndefinitions = "api_load_pipeline:defs"\ndefault_profile = "staging"\n',
        encoding="utf-8",
    )
    (root / "profiles" / "staging.yaml").write_text(
        "resources:\n  greeting: {type: greeting, config: {who: '${WHO}'}}\n", "utf-8"
    )
    (root / "api_load_pipeline.py").write_text(
        textwrap.dedent(
            """
            import envres

            @envres.resource
            def greeting(who: str):
                yield f"hello {who}"

            @envres.asset
            def hello(greeting: str) -> str:
                return greeting

            defs = envres.Definitions(assets=[hello], resource_types={"greeting": greeting})
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "api_load_pipeline", raising=False)

    bound = envres.load(project=root, env={"WHO": "world"})

    assert bound.profile.name == "staging"
    assert bound.run()["hello"] == "hello world"


EXPECTED_ALL = [
    "AssetDef",
    "AssetError",
    "BoundDefinitions",
    "DefinitionError",
    "Definitions",
    "EnvresError",
    "Event",
    "InterpolationError",
    "Loc",
    "MissingVariableError",
    "Problem",
    "ProfileError",
    "ProfileNotFoundError",
    "Resource",
    "ResourceFunction",
    "ResourceScope",
    "RunError",
    "RunResult",
    "SetupError",
    "TeardownError",
    "TemplateError",
    "UsageError",
    "YamlError",
    "__version__",
    "asset",
    "load",
    "resource",
    "selected_profile",
]


def test_selected_profile_follows_the_variable_then_the_table_then_dev(tmp_path: Path) -> None:
    root = tmp_path / "sel"
    root.mkdir()

    bare = envres.selected_profile(project=root, env={})
    (root / "pyproject.toml").write_text('[tool.envres]\ndefault_profile = "staging"\n')
    from_table = envres.selected_profile(project=root, env={})
    from_variable = envres.selected_profile(project=root, env={"ENVRES_PROFILE": "prod"})

    assert (bare, from_table, from_variable) == ("dev", "staging", "prod")


@pytest.mark.parametrize("name", ["../prod", "", "prod/eu", "."])
def test_selected_profile_refuses_a_name_that_is_not_plain(tmp_path: Path, name: str) -> None:
    with pytest.raises(envres.UsageError, match="is not a profile name"):
        envres.selected_profile(project=tmp_path, env={"ENVRES_PROFILE": name})


@envres.resource
def _echo(prefix: str) -> Iterator[str]:
    yield prefix


def test_envres_allow_missing_env_variable_acts_as_allow_missing_env(tmp_path: Path) -> None:
    root = tmp_path / "missing"
    (root / "profiles").mkdir(parents=True)
    (root / "profiles" / "dev.yaml").write_text(
        "resources:\n  n:\n    type: echo\n    config:\n      prefix: ${UNSET_X}\n"
    )
    defs = envres.Definitions(resource_types={"echo": _echo})

    with pytest.raises(envres.ProfileError, match="UNSET_X is not set"):
        defs.with_profile(project=str(root), env={})
    bound = defs.with_profile(project=str(root), env={"ENVRES_ALLOW_MISSING_ENV": "1"})

    assert [w.message for w in bound.profile.warnings] == [
        "environment variable UNSET_X is not set"
    ]


def test_public_names_are_exactly_the_documented_list_sorted_and_importable() -> None:
    assert envres.__all__ == sorted(envres.__all__)
    assert envres.__all__ == EXPECTED_ALL
    for name in envres.__all__:
        assert hasattr(envres, name), name


def test_every_public_error_is_an_envres_error() -> None:
    errors = [getattr(envres, n) for n in envres.__all__ if n.endswith("Error")]
    assert all(issubclass(e, envres.EnvresError) for e in errors)
    for sub in (envres.SetupError, envres.AssetError, envres.TeardownError):
        assert issubclass(sub, envres.RunError)
        assert issubclass(sub, RuntimeError)
    assert issubclass(envres.DefinitionError, TypeError)


def test_import_envres_does_not_import_optional_heavy_modules() -> None:
    code = (
        "import sys, envres\n"
        "heavy = ('jinja2', 'click', 'pydantic_settings', 'dotenv')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert out.stdout.strip() == "[]"
