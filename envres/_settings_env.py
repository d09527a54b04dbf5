"""envres's settings layered by pydantic-settings, for ``ENVRES_*`` lists and tables.

``ENVRES_SECRET_NAMES='["TOKEN"]'``, ``ENVRES_RULES``, ``ENVRES_SECRET_SOURCES`` and
``ENVRES_ALLOWED_IMPORTS`` hold JSON that pydantic-settings decodes, and their
values merge with the table's as its sources do. envres._settings imports this
module only when one of them is set: pydantic-settings loads every provider it has
(AWS, Azure, Google, its own command line), tens of milliseconds that the common
start-up does not pay.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

__all__ = ["layered"]

#: The layers of the settings being built: flags, ``ENVRES_*`` variables, the table.
_LAYERS: ContextVar[tuple[dict[str, Any], Mapping[str, str], dict[str, Any]]] = ContextVar(
    "envres_settings_layers"
)

_classes: dict[type[BaseModel], type[BaseSettings]] = {}


def layered(
    model: type[BaseModel],
    given: dict[str, Any],
    env: Mapping[str, str],
    table: dict[str, Any],
) -> BaseModel:
    """``model``'s fields from the three layers, highest precedence first.

    Raises pydantic's ``ValidationError`` as validating ``model`` does, and
    pydantic-settings' ``SettingsError`` for a variable that is not valid JSON.
    """
    cls = _classes.get(model)
    if cls is None:
        cls = _classes[model] = _layered_class(model)
    token = _LAYERS.set((given, env, table))
    try:
        return cls()
    finally:
        _LAYERS.reset(token)


def _layered_class(model: type[BaseModel]) -> type[BaseSettings]:
    class _Layered(BaseSettings, model):  # type: ignore[misc,valid-type]
        """``model`` from the layers in :data:`_LAYERS`."""

        model_config = SettingsConfigDict(
            env_prefix="ENVRES_",
            extra="forbid",
            frozen=True,
            populate_by_name=True,
        )

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            given, env, table = _LAYERS.get()
            return (
                InitSettingsSource(settings_cls, init_kwargs=given),
                _MappingEnvSource(settings_cls, env),
                # [tool.envres] as read by envres._settings (once, through the bounded
                # reader): what pydantic-settings' pyproject source does with the table.
                InitSettingsSource(settings_cls, init_kwargs=table),
            )

    return _Layered


class _MappingEnvSource(EnvSettingsSource):
    """``ENVRES_*`` variables from a given mapping, so callers choose the environment."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._given = {k.lower(): v for k, v in environ.items()}
        super().__init__(settings_cls, case_sensitive=False)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._given
