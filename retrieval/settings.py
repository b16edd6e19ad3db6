"""How settings are read, for the bot and the action server alike (pydantic-settings): defaults < a YAML file <
`SHOPBOT_*` environment variables < explicit values.

Every setting has a variable: `SHOPBOT_` and its path in capitals, `__` between levels (`dialogue.redis_url`:
`SHOPBOT_DIALOGUE__REDIS_URL`). A field may also keep an older, shorter name (`SHOPBOT_REDIS_URL`), declared with
`doc(..., env=...)` beside the field; the nested form wins when both are set. The YAML file is the one `load()`
names, else `SHOPBOT_CONFIG`, else `shopbot.yml` in the working folder when there is one. A bad value raises
`ConfigError` naming where it came from (the file, the variable, or "given") and the field.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict,
                               SettingsError, YamlConfigSettingsSource)


ENV_PREFIX = "SHOPBOT_"
NESTED = "__"
CONFIG_ENV = "SHOPBOT_CONFIG"
DEFAULT_FILE = Path("shopbot.yml")
_named_file: ContextVar[Path | None] = ContextVar("shopbot_settings_file", default=None)


class ConfigError(ValueError):
    """A configuration file or variable is invalid."""


def doc(meaning: str, env: str | None = None, shown: str | None = None) -> dict[str, Any]:
    """`Field` keywords for a setting: what it means (the README's table), an older variable name that still
    works, and how the README shows its default when the value itself would not say it."""
    extra = {key: value for key, value in (("env", env), ("shown", shown)) if value}
    return {"description": meaning, **({"json_schema_extra": extra} if extra else {})}


def section_model(field: FieldInfo) -> type[BaseModel] | None:
    """The model of a field that is a section of settings (`server`, `retrieval`), else None."""
    annotation = field.annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def leaf_fields(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], FieldInfo]]:
    """Every setting of `model` with its path (sections walked into), in declaration order."""
    for name, field in model.model_fields.items():
        inner = section_model(field)
        if inner is not None:
            yield from leaf_fields(inner, (*prefix, name))
        else:
            yield (*prefix, name), field


def env_name(path: tuple[str, ...]) -> str:
    """The variable of the setting at `path`: `SHOPBOT_DIALOGUE__REDIS_URL`."""
    return ENV_PREFIX + NESTED.join(path).upper()


@cache
def older_names(model: type[BaseModel]) -> dict[str, tuple[str, ...]]:
    """The older variable names `model` still reads, each with the path of its setting (do not change the dict)."""
    names: dict[str, tuple[str, ...]] = {}
    for path, field in leaf_fields(model):
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if extra.get("env"):
            names[str(extra["env"])] = path
    return names


def settings_file() -> Path | None:
    """The YAML file settings are read from: the one `load` names, else `SHOPBOT_CONFIG`, else `shopbot.yml` in
    the working folder when it exists."""
    named = _named_file.get() or os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"{path}: cannot read configuration: no such file")
        return path
    return DEFAULT_FILE if DEFAULT_FILE.is_file() else None


def _put(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data.setdefault(key, {})
    data[path[-1]] = value


def _holds(data: Any, path: tuple[Any, ...]) -> bool:
    """Whether nested `data` has a value at `path` (a model or a non-mapping on the way counts as holding it)."""
    for key in path:
        if not isinstance(data, Mapping):
            return True
        if key not in data:
            return False
        data = data[key]
    return True


class NestedEnvSource(EnvSettingsSource):
    """`SHOPBOT_*` variables in their nested form; the older names are left to `OlderEnvSource` (`SHOPBOT_FINETUNE`
    is `finetune.enabled`, not the whole `finetune` section as JSON)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        older = {name.lower() for name in older_names(self.settings_cls)}
        return {name: value for name, value in super()._load_env_vars().items() if name.lower() not in older}

    def explode_env_vars(self, field_name: str, field: FieldInfo, env_vars: Mapping[str, str | None]) -> dict[str, Any]:
        try:
            return super().explode_env_vars(field_name, field, env_vars)
        except ValueError:  # name the variable whose list or mapping is not JSON
            for name, value in env_vars.items():
                try:
                    super().explode_env_vars(field_name, field, {name: value})
                except ValueError as exc:
                    path = name[len(ENV_PREFIX):].lower().replace(NESTED, ".")
                    raise ConfigError(f"{name.upper()}: invalid configuration: {path}: a list or mapping is "
                                      f"written as JSON: {exc}") from None
            raise


class OlderEnvSource(PydanticBaseSettingsSource):
    """The older, shorter variable names (`SHOPBOT_KB`, `SHOPBOT_LM`, `SHOPBOT_REDIS_URL`); empty ones are unset."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every name at once

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name, path in older_names(self.settings_cls).items():
            if os.environ.get(name):
                _put(data, path, os.environ[name])
        return data


class YamlFileSource(YamlConfigSettingsSource):
    """The YAML file, which must be a mapping; an unreadable or malformed file is a `ConfigError` naming it."""

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        try:
            data = super()._read_file(file_path)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(f"{file_path}: cannot read configuration: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{file_path}: configuration must be a mapping")
        return data


class ShopbotSettings(BaseSettings):
    """Settings read from defaults, the YAML file, `SHOPBOT_*` variables and explicit values, in that order of
    strength. `Settings()` reads them; `load()` also names the file and turns every bad value into `ConfigError`."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter=NESTED, env_ignore_empty=True,
                                      extra="ignore")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, NestedEnvSource(settings_cls), OlderEnvSource(settings_cls),
                YamlFileSource(settings_cls, yaml_file=settings_file()))

    @classmethod
    def load(cls, path: Path | str | None = None, **overrides: Any) -> Self:
        """Defaults < the YAML file (`path`, else `SHOPBOT_CONFIG`, else `./shopbot.yml`) < environment <
        `overrides` (None values are ignored). Raises `ConfigError` naming the file or variable and the field."""
        given = {key: value for key, value in overrides.items() if value is not None}
        token = _named_file.set(Path(path) if path is not None else None)
        try:
            try:
                return cls(**given)
            except ValidationError as exc:
                raise ConfigError(_describe(cls, exc, given)) from None
            except SettingsError as exc:
                cause = exc.__cause__
                if isinstance(cause, ConfigError):
                    raise cause from None
                raise ConfigError(f"invalid configuration: {exc}" + (f" ({cause})" if cause else "")) from None
        finally:
            _named_file.reset(token)


def _origin(model: type[BaseModel], loc: tuple[Any, ...], given: dict[str, Any]) -> str:
    """Where the value at `loc` came from: "given", a variable's name, the YAML file, or "defaults"."""
    if _holds(given, loc):
        return "given"
    for depth in range(len(loc), 0, -1):
        name = env_name(tuple(str(key) for key in loc[:depth]))
        if any(var.upper() == name and value for var, value in os.environ.items()):
            return name
    for name, path in older_names(model).items():
        if tuple(loc[:len(path)]) == path and os.environ.get(name):
            return name
    path = settings_file()
    if path is not None:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            data = {}
        if _holds(data, loc):
            return str(path)
    return "defaults"


def _describe(model: type[BaseModel], exc: ValidationError, given: dict[str, Any]) -> str:
    """`origin: invalid configuration: field: problem`, one per problem, joined by "; "."""
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        problems.append(f"{_origin(model, loc, given)}: invalid configuration: {'.'.join(map(str, loc))}: "
                        f"{error['msg']}")
    return "; ".join(problems)
