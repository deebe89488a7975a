"""The stand-in's ``occ``: the few console commands Ronron uses, parsed and answered the way
Nextcloud 27.1's Symfony console does (same stdout, stderr and exit code)."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.stack.nextcloud import php
from tests.stack.nextcloud.php import Php
from tests.stack.nextcloud.state import (
    VERSION,
    VERSION_STRING,
    AppNotFound,
    InvalidArgument,
    NextcloudState,
)

TERMINAL_WIDTH = 80


@dataclass(frozen=True)
class Option:
    name: str
    short: str | None = None
    takes_value: bool = True
    repeatable: bool = False
    default: Php = None


@dataclass(frozen=True)
class Command:
    name: str
    arguments: tuple[str, ...]
    options: tuple[Option, ...]
    run: Callable[[Context], int]
    array_argument: bool = False

    @property
    def synopsis(self) -> str:
        parts = [self.name]
        for option in self.options:
            short = f"-{option.short}|" if option.short else ""
            value = f" {option.name.upper()}" if option.takes_value else ""
            parts.append(f"[{short}--{option.name}{value}]")
        if self.arguments:
            parts.append("[--]")
        for argument in self.arguments:
            parts.append(f"<{argument}>..." if self.array_argument else f"<{argument}>")
        return " ".join(parts)


@dataclass
class Context:
    state: NextcloudState
    cli_url: str
    options: dict[str, Php]
    arguments: dict[str, Php]
    stdout: list[str] = field(default_factory=list)

    def line(self, text: str = "") -> None:
        self.stdout.append(text + "\n")

    def write_formatted(self, items: Php, prefix: str = "  - ") -> None:
        output = self.options.get("output") or "plain"
        if output == "json":
            self.line(php.json_encode(items))
        elif output == "json_pretty":
            self.line(php.json_encode(items, pretty=True))
        elif isinstance(items, dict | list):
            pairs = items.items() if isinstance(items, dict) else enumerate(items)
            for key, item in pairs:
                if isinstance(item, dict | list):
                    self.line(f"{prefix}{key}:")
                    self.write_formatted(item, "  " + prefix)
                elif isinstance(key, int):
                    self.line(prefix + _value_text(item))
                elif item is None:
                    self.line(f"{prefix}{key}")
                else:
                    self.line(f"{prefix}{key}: {_value_text(item)}")
        else:
            self.line(_value_text(items))


def _value_text(value: Php) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return php.to_string(value)


class UsageError(Exception):
    pass


OUTPUT = Option("output", default="plain")

# ---- commands ---------------------------------------------------------------------------------


def app_list(ctx: Context) -> int:
    state = ctx.state
    shipped = ctx.options.get("shipped")
    only = None if shipped not in ("true", "false") else shipped == "true"
    enabled: dict[str, Php] = {}
    disabled: dict[str, Php] = {}
    for app_id in sorted(state.apps):
        app = state.apps[app_id]
        if only is not None and app.shipped != only:
            continue
        installed = state.app_config.get(app_id, {}).get("installed_version")
        if state.is_installed(app_id):
            enabled[app_id] = installed if installed is not None else True
        else:
            suffix = f" (installed {installed})" if installed is not None else ""
            disabled[app_id] = app.version + suffix
    if (ctx.options.get("output") or "plain") == "plain":
        ctx.line("Enabled:")
        ctx.write_formatted(enabled)
        ctx.line("Disabled:")
        ctx.write_formatted(disabled)
    else:
        ctx.write_formatted({"enabled": enabled, "disabled": disabled})
    return 0


def app_enable(ctx: Context) -> int:
    state = ctx.state
    groups = [state.groups[gid] for gid in ctx.options["groups"] if gid in state.groups]
    exit_code = 0
    for app_id in ctx.arguments["app-id"]:
        if state.is_installed(app_id) and not groups:
            ctx.line(f"{app_id} already enabled")
            continue
        try:
            if app_id not in state.apps:
                # The app store is off: there is nowhere to download it from.
                raise InvalidArgument(f"Could not download app {app_id.lower()}")
            state.install_app(app_id)
            version = state.apps[app_id].version
            if not groups:
                state.enable_app(app_id)
                ctx.line(f"{app_id} {version} enabled")
            else:
                state.enable_app_for_groups(app_id, [group.gid for group in groups])
                names = ", ".join(group.display_name for group in groups)
                ctx.line(f"{app_id} {version} enabled for groups: {names}")
        except (InvalidArgument, AppNotFound) as error:
            ctx.line(str(error))
            exit_code = 1
    return exit_code


def app_disable(ctx: Context) -> int:
    exit_code = 0
    for app_id in ctx.arguments["app-id"]:
        if not ctx.state.is_installed(app_id):
            ctx.line(f"No such app enabled: {app_id}")
            continue
        try:
            ctx.state.disable_app(app_id)
            ctx.line(f"{app_id} {ctx.state.apps[app_id].version} disabled")
        except InvalidArgument as error:
            ctx.line(str(error))
            exit_code = 2
    return exit_code


def config_app_get(ctx: Context) -> int:
    values = ctx.state.app_config.get(ctx.arguments["app"], {})
    name = ctx.arguments["name"]
    if name in values:
        value: Php = values[name]
    elif "default-value" in ctx.options:
        value = ctx.options["default-value"]
    else:
        return 1
    if (ctx.options.get("output") or "plain") == "plain":
        ctx.line(_value_text(value))
    else:
        ctx.write_formatted(value)
    return 0


def user_info(ctx: Context) -> int:
    state = ctx.state
    user = state.get_user(ctx.arguments["user"])
    if user is None:
        ctx.line("user not found")
        return 1
    server = ctx.cli_url.rstrip("/")
    if server.endswith("/index.php"):
        server = server[: -len("/index.php")]
    # Nextcloud strips only https:// from the cloud id.
    server = server.removeprefix("https://")
    last_seen = datetime.datetime.fromtimestamp(user.last_login, datetime.UTC)
    data: dict[str, Php] = {
        "user_id": user.uid,
        "display_name": user.effective_display_name,
        "email": user.system_email or "",
        "cloud_id": f"{user.uid}@{server}",
        "enabled": user.enabled,
        "groups": list(user.groups),
        "quota": state.quota_of(user),
        "storage": state.storage_info(user) if user.storage_ready else [],
        "last_seen": last_seen.isoformat(),
        "user_directory": state.home(user),
        "backend": "Database",
    }
    ctx.write_formatted(data)
    return 0


def status(ctx: Context) -> int:
    ctx.write_formatted(
        {
            "installed": True,
            "version": VERSION,
            "versionstring": VERSION_STRING,
            "edition": "",
            "maintenance": False,
            "needsDbUpgrade": False,
            "productname": "Nextcloud",
            "extendedSupport": False,
        }
    )
    return 0


def bruteforce_reset(ctx: Context) -> int:
    address = ctx.arguments["ipaddress"]
    try:
        ipaddress.ip_address(address)
    except ValueError:
        ctx.line(f'"{address}" is not a valid IP address')
        return 1
    ctx.state.reset_attempts(address)
    return 0


COMMANDS = {
    command.name: command
    for command in (
        Command("app:list", (), (OUTPUT, Option("shipped")), app_list),
        Command(
            "app:enable",
            ("app-id",),
            (Option("groups", "g", repeatable=True), Option("force", "f", takes_value=False)),
            app_enable,
            array_argument=True,
        ),
        Command("app:disable", ("app-id",), (), app_disable, array_argument=True),
        Command(
            "config:app:get",
            ("app", "name"),
            (OUTPUT, Option("default-value")),
            config_app_get,
        ),
        Command("user:info", ("user",), (OUTPUT,), user_info),
        Command("status", (), (OUTPUT, Option("exit-code", "e", takes_value=False)), status),
        Command("security:bruteforce:reset", ("ipaddress",), (), bruteforce_reset),
    )
}
# Symfony's own options, accepted everywhere and of no consequence here.
GLOBAL_FLAGS = ("-n", "--no-interaction", "--ansi", "--no-ansi", "-v", "-vv", "-vvv", "-q")


# ---- parsing and error rendering --------------------------------------------------------------


def _parse(command: Command, tokens: list[str]) -> tuple[dict[str, Php], dict[str, Php]]:
    by_long = {option.name: option for option in command.options}
    by_short = {option.short: option for option in command.options if option.short}
    options: dict[str, Php] = {
        option.name: ([] if option.repeatable else option.default)
        for option in command.options
        if option.repeatable or option.default is not None
    }
    positional: list[str] = []
    only_arguments = False
    while tokens:
        token = tokens.pop(0)
        if only_arguments or not token.startswith("-") or token == "-":
            positional.append(token)
            continue
        if token == "--":
            only_arguments = True
            continue
        if token in GLOBAL_FLAGS:
            continue
        value: str | None
        if token.startswith("--"):
            name, equals, value = token[2:].partition("=")
            has_value = bool(equals)
            option = by_long.get(name)
            label = f"--{name}"
        else:
            name, value = token[1:2], token[2:]
            has_value = bool(value)
            option = by_short.get(name)
            label = f"-{name}"
        if option is None:
            raise UsageError(f'The "{label}" option does not exist.')
        if not option.takes_value:
            if has_value:
                raise UsageError(f'The "--{option.name}" option does not accept a value.')
            options[option.name] = True
            continue
        if not has_value:
            if tokens and not tokens[0].startswith("-"):
                value = tokens.pop(0)
            elif option.name in ("output", "default-value"):
                value = None  # options whose value is optional
            else:
                raise UsageError(f'The "--{option.name}" option requires a value.')
        if option.repeatable:
            options[option.name].append(value)
        else:
            options[option.name] = value
    arguments: dict[str, Php] = {}
    if command.array_argument:
        if not positional:
            raise UsageError(f'Not enough arguments (missing: "{command.arguments[0]}").')
        arguments[command.arguments[0]] = positional
    else:
        if len(positional) > len(command.arguments):
            if not command.arguments:
                raise UsageError(
                    f'No arguments expected for "{command.name}" command, got "{positional[0]}".'
                )
            expected = " ".join(f'"{name}"' for name in command.arguments)
            raise UsageError(f"Too many arguments, expected arguments {expected}.")
        missing = command.arguments[len(positional) :]
        if missing:
            names = ", ".join(f'"{name}"' for name in missing)
            raise UsageError(f"Not enough arguments (missing: {names}).")
        arguments = dict(zip(command.arguments, positional, strict=False))
    return options, arguments


def _error_block(message: str) -> str:
    """Symfony's rendering of an exception message on a plain (non-decorated) output."""
    lines: list[str] = []
    for line in message.split("\n"):
        width = TERMINAL_WIDTH - 1 - 4
        lines.extend(line[i : i + width] for i in range(0, max(len(line), 1), width))
    length = max(len(line) + 4 for line in lines)
    block = ["", " " * length]
    block += [f"  {line}  " + " " * (length - len(line) - 4) for line in lines]
    block += [" " * length, ""]
    return "\n".join(block) + "\n"


def run(state: NextcloudState, argv: list[str], cli_url: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``occ ARGV``."""
    tokens = [token for token in argv if token not in GLOBAL_FLAGS]
    quiet = "-q" in argv
    names = [token for token in tokens if not token.startswith("-")]
    if not names:
        listing = "".join(f"  {name}\n" for name in sorted(COMMANDS))
        return 0, f"Nextcloud {VERSION_STRING}\n\nAvailable commands:\n{listing}", ""
    name = names[0]
    tokens.remove(name)
    command = COMMANDS.get(name)
    if command is None:
        return 1, "", _error_block(f'Command "{name}" is not defined.')
    try:
        options, arguments = _parse(command, tokens)
    except UsageError as error:
        return 1, "", _error_block(str(error)) + f"{command.synopsis}\n\n"
    ctx = Context(state, cli_url, options, arguments)
    exit_code = command.run(ctx)
    return exit_code, "" if quiet else "".join(ctx.stdout), ""
