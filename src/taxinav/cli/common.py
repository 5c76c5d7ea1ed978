"""What every command shares: the console, the one error path and the option types.

Dates, unit types, roles and policies are parsed here, once, when the command line is read.
A malformed date or policy spec ends the command with one ``error: …`` line naming the option
and exit code 1 (see ``fail``); a unit type or role outside its choice is refused by the
choice itself (a usage error, exit code 2), and ``--help`` lists the choices.

Every command runs inside :class:`Group`, the root group: an expected failure raised anywhere
below it (a missing table, file or model, a refused value) ends the command the same way, with
the traceback logged at DEBUG (``taxinav --log-level DEBUG …``); anything else is a bug and
shows its traceback."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import duckdb
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from taxinav.logs import Level
from taxinav.settings import Role, Settings, get_settings

if TYPE_CHECKING:
    from typer._click import Context  # the click Typer vendors, whose Context it passes

console = Console(soft_wrap=True)  # never break a file:line message across lines
log = logging.getLogger("taxinav.cli")


def fail(message: str) -> NoReturn:
    """Print ``error: <message>`` on one line and end the command with exit code 1."""
    line = " ".join(part.strip() for part in message.strip().splitlines())
    console.print(Text.assemble(("error:", "red"), " ", line))  # Text: no markup in messages
    raise typer.Exit(code=1)


# Failures the user can act on: missing data, tables, files or models, values refused by a
# domain function. KeyError and IndexError are LookupErrors too, but raised by the
# interpreter they are bugs. Classes of lazily imported libraries are named, not imported.
EXPECTED: tuple[type[Exception], ...] = (
    LookupError,
    ValueError,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
)
BUGS: tuple[type[Exception], ...] = (KeyError, IndexError)
EXPECTED_ELSEWHERE = {"duckdb": ("CatalogException", "IOException"),
                      "mlflow.exceptions": ("MlflowException",)}  # fmt: skip


def expected(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure to report in one line (True) or a bug to show (False)."""
    if isinstance(exc, BUGS) or not isinstance(exc, Exception):
        return False
    if isinstance(exc, EXPECTED):
        return True
    for module_name, names in EXPECTED_ELSEWHERE.items():
        module = sys.modules.get(module_name)  # not imported: none of its errors was raised
        if module is not None and isinstance(exc, tuple(getattr(module, n) for n in names)):
            return True
    return False


class Group(TyperGroup):
    """The root command group: turns an expected failure of any command into ``fail``."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if not expected(exc):
                raise
            log.debug("%s, reported as one error line", type(exc).__name__, exc_info=exc)
            fail(str(exc) or type(exc).__name__)


def load_settings() -> Settings:
    """The process's settings; settings the environment makes invalid end in one line."""
    try:
        return get_settings()
    except ValidationError as exc:
        problems = [f"TAXINAV_{'__'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                    for e in exc.errors()]  # fmt: skip
        fail(f"invalid settings: {'; '.join(problems)}")


def _option(param: typer.CallbackParam) -> str:
    return param.opts[0] if param.opts else f"--{(param.name or '').replace('_', '-')}"


# Dates ---------------------------------------------------------------------------------------


def _parse_date(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> date | None:
    if value is None or isinstance(value, date) or ctx.resilient_parsing:
        return value  # type: ignore[no-any-return]
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{_option(param)} {value!r} is not a date (YYYY-MM-DD)")


def date_option(*decls: str, help: str) -> Any:
    """A local date option, YYYY-MM-DD, handed to the command as a ``datetime.date``."""
    return typer.Option(*decls, help=help, parser=str, callback=_parse_date, metavar="YYYY-MM-DD")


def _parse_moment(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime) or ctx.resilient_parsing:
        return value  # type: ignore[no-any-return]
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        fail(f"{_option(param)} {value!r} is not a date-time (YYYY-MM-DDTHH:MM)")


def moment_option(*decls: str, help: str) -> Any:
    """A moment, YYYY-MM-DDTHH:MM[+offset], as a ``datetime`` (naive if no offset given)."""
    return typer.Option(
        *decls, help=help, parser=str, callback=_parse_moment, metavar="YYYY-MM-DDTHH:MM"
    )


# Choices -------------------------------------------------------------------------------------


class Unit(StrEnum):
    """The unit types demand is forecast on."""

    road = "road"
    h3 = "h3"


UnitOption = Annotated[Unit, typer.Option(help="road or h3")]
RoleOption = Annotated[Role, typer.Option(help="driver, operator or ingest")]
LogLevelOption = Annotated[
    Level | None,
    typer.Option(
        "--log-level",
        case_sensitive=False,
        help="Least severe log records shown, on standard error (default TAXINAV_LOG_LEVEL); "
        "DEBUG adds the traceback behind an error line.",
    ),
]


def _parse_policy(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> str | None:
    """A policy name from ``guidance.experiment``, guided ones with ``:demand[:competitors]``;
    ``PolicySpec.parse`` decides (imported here: the simulator is slow to import)."""
    if value is None or ctx.resilient_parsing:
        return value  # type: ignore[no-any-return]
    from taxinav.guidance.experiment import PolicySpec

    try:
        PolicySpec.parse(value)
    except ValueError as exc:
        fail(f"{_option(param)}: {exc}")
    return str(value)


def _policy_names(incomplete: str) -> list[str]:
    from taxinav.guidance.experiment import ALL_POLICIES

    return [name for name in ALL_POLICIES if name.startswith(incomplete)]


def policy_option(*decls: str, help: str) -> Any:
    """A cruising policy spec, name[:demand[:competitors]], checked before the command runs."""
    return typer.Option(
        *decls,
        help=help,
        parser=str,
        callback=_parse_policy,
        autocompletion=_policy_names,
        metavar="POLICY[:DEMAND[:COMPETITORS]]",
    )


__all__ = [
    "Group",
    "LogLevelOption",
    "RoleOption",
    "Unit",
    "UnitOption",
    "console",
    "date_option",
    "expected",
    "fail",
    "load_settings",
    "moment_option",
    "policy_option",
]


@contextmanager
def writer(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse for a command that changes it; on success the read copy that the
    service, simulations and recommendations open is published again."""
    from taxinav.warehouse import open_warehouse, publish_reader

    con = open_warehouse(settings)
    try:
        yield con
    finally:
        con.close()
    with console.status("publishing the warehouse's read copy …"):
        publish_reader(settings)
