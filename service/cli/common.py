"""What every ``paperboy`` command shares: failing with an exit code, printing a result (human or
``--json``), the invocation (settings, logging and runtime, made on first use), parsing a date or
an address, and a progress bar on stderr.

Only click and the core modules are imported here; commands import their heavy modules inside the
command function, for start-up speed (``paperboy --help`` stays fast), not to dodge an import circle.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import click

from service.errors import ConfigError, InputError, SchemaError

if TYPE_CHECKING:
    from service.delivery.runtime import Runtime
    from service.settings import Settings


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"paperboy: {message}", err=True)
    sys.exit(code)


def emit(data: Any, as_json: bool, human: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else human)


@dataclass
class Invocation:
    """What the group's options decided, and the settings and runtime, made on first use."""

    verbose: bool = False
    long_running: bool = False
    _settings: Settings | None = None
    _runtime: Runtime | None = None

    def load_settings(self) -> Settings:
        """The settings (raises ConfigError); logging is configured once they are read."""
        if self._settings is None:
            from service import logs
            from service.settings import load_settings

            self._settings = load_settings()
            level = logs.command_level(
                self._settings.log_level, verbose=self.verbose, long_running=self.long_running
            )
            logs.configure(level, self._settings.log_format)
        return self._settings

    def settings(self) -> Settings:
        try:
            return self.load_settings()
        except ConfigError as exc:
            fail(str(exc), 2)

    def runtime(self, settings: Settings | None = None) -> Runtime:
        """The process's runtime, built from ``settings`` (default: the loaded ones) on first use."""
        if self._runtime is None:
            from service.delivery.runtime import Runtime

            self._runtime = Runtime(settings or self.settings())
        return self._runtime


def runtime_from(ctx: click.Context, *, check_schema: bool = True) -> Runtime:
    runtime = ctx.find_object(Invocation).runtime()
    if check_schema:
        try:
            runtime.require_current_schema()
        except SchemaError as exc:
            fail(str(exc))
    return runtime


def parse_date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"invalid --date {value!r}: use YYYY-MM-DD", 2)


def parse_email(address: str) -> str:
    from service.subscribers.validation import normalise_email

    try:
        return normalise_email(address)
    except InputError as exc:
        fail(str(exc), 2)


class ProgressBar:
    """A click progress bar on stderr, shown once the total is known; silent when disabled.

    Thread-safe: the SMTP pool's connections report from their own threads. Call it with
    ``(step, total)`` to advance by ``step``; ``reach(done, total)`` for a running count.
    """

    def __init__(self, label: str, *, enabled: bool) -> None:
        self.label, self.enabled = label, enabled
        self._lock = threading.Lock()
        self._bar: Any = None
        self._shown = 0

    def __call__(self, step: int, total: int | None) -> None:
        self.reach(self._shown + step, total)

    def reach(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self._bar is None:
                self._bar = click.progressbar(
                    length=total or 0,
                    label=self.label,
                    file=sys.stderr,
                    show_pos=True,
                    show_eta=True,
                )
                self._bar.__enter__()
            step, self._shown = max(0, done - self._shown), max(self._shown, done)
            if step:
                self._bar.update(step)

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.__exit__(None, None, None)
