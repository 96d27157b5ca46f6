"""Jinja rendering of SQL files and YAML strings: var(), env_var(), ref(), config() and macros.

Undefined names are errors (StrictUndefined) reported at the line of the template they occur on.
"""

from __future__ import annotations

import os
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import jinja2

from mlmon.errors import ConfigError, Location, MlmonError, did_you_mean

__all__ = ["Renderer", "has_jinja"]

_TEMPLATE_FILE = "<template>"
_MISSING = object()


class _TemplateUserError(Exception):
    """Raised from inside a template (e.g. an unknown var): re-raised with its line."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def has_jinja(text: str) -> bool:
    return "{{" in text or "{%" in text or "{#" in text


def _template_line(exc: BaseException) -> int | None:
    """The line inside the template where `exc` was raised (Jinja rewrites tracebacks to it)."""
    lines = [fr.lineno for fr in traceback.extract_tb(exc.__traceback__) if fr.filename == _TEMPLATE_FILE]
    return lines[-1] if lines else None


class Renderer:
    """One Jinja environment per compile: project vars, the process environment and macros/."""

    def __init__(self, vars: Mapping[str, Any], macro_files: list[tuple[Path, str]] = ()):
        self.vars = dict(vars)
        self._used: set[str] | None = None
        self.env = jinja2.Environment(
            undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False,
            extensions=["jinja2.ext.do"],
        )
        self.env.globals.update(var=self._var, env_var=self._env_var)
        self._load_macros(macro_files)

    @contextmanager
    def recording(self) -> Iterator[set[str]]:
        """The names of the vars read while the block renders: what a node depends on."""
        outer, self._used = self._used, set()
        try:
            yield self._used
        finally:
            used, self._used = self._used, outer
            if outer is not None:
                outer |= used

    def _var(self, name: str, default: Any = _MISSING) -> Any:
        if self._used is not None:
            self._used.add(name)
        if name in self.vars:
            return self.vars[name]
        if default is not _MISSING:
            return default
        raise _TemplateUserError(
            f"undefined var '{name}'",
            did_you_mean(name, self.vars) or "set it under vars: in mlmon_project.yml or pass --vars",
        )

    @staticmethod
    def _env_var(name: str, default: Any = _MISSING) -> Any:
        if name in os.environ:
            return os.environ[name]
        if default is not _MISSING:
            return default
        raise _TemplateUserError(
            f"environment variable '{name}' is not set", f"export {name}=... or give env_var('{name}', 'default')"
        )

    def _load_macros(self, macro_files: list[tuple[Path, str]]) -> None:
        for file, display in macro_files:
            source = file.read_text(encoding="utf-8")
            module = self._compile(source, Location(display, 1)).module
            for name in dir(module):
                if not name.startswith("_"):
                    self.env.globals[name] = getattr(module, name)

    def _compile(self, source: str, location: Location) -> jinja2.Template:
        try:
            return self.env.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(
                f"Jinja syntax error: {exc.message}", location=self._at(location, exc.lineno)
            ) from None

    @staticmethod
    def _at(location: Location, template_line: int | None) -> Location:
        if template_line is None or location.line is None:
            return location
        return Location(location.path, location.line + template_line - 1)

    def render(self, source: str, location: Location, context: Mapping[str, Callable[..., Any]] | None = None) -> str:
        """Render `source` written at `location`; `context` adds per-render functions (ref, config)."""
        template = self._compile(source, location)
        try:
            return template.render(**(context or {}))
        except _TemplateUserError as exc:
            raise ConfigError(str(exc), location=self._at(location, _template_line(exc)), hint=exc.hint) from None
        except jinja2.UndefinedError as exc:
            raise ConfigError(
                f"Jinja: {exc.message}", location=self._at(location, _template_line(exc)),
                hint="available: var(), env_var(), ref(), config() and the macros in macros/",
            ) from None
        except MlmonError as exc:
            if exc.location is None:
                exc.location = self._at(location, _template_line(exc))
            raise
        except Exception as exc:  # a macro's own bug: still name the place
            raise ConfigError(
                f"Jinja: {type(exc).__name__}: {exc}", location=self._at(location, _template_line(exc))
            ) from None
