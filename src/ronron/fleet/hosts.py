"""Hosts: how drivers reach a server. ``run(argv)``, ``read_file``, ``write_file``, ``exists``.

Argument lists only, never a shell string. Drivers never call ``subprocess`` themselves; hosts
know nothing of drivers. ``LocalHost`` is this machine; ``SSHHost`` (ronron.fleet.ssh) another
one over SSH.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ronron.fleet.layout import Layout
    from ronron.fleet.models import Server

_CONTROL = re.compile(r"[\r\n\x00]")


class HostError(Exception):
    """A command failed or a file could not be read or written; the message says which."""


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def output(self) -> str:
        """What a journal shows: both streams, trimmed."""
        return "\n".join(part for part in (self.stdout.strip(), self.stderr.strip()) if part)


def check_argv(argv: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    if not argv or not all(isinstance(a, str) for a in argv):
        raise HostError("a command is a non-empty list of strings")
    for arg in argv:
        if "\x00" in arg:
            raise HostError("NUL character in a command argument")
    return tuple(argv)


def check_path(path: str) -> str:
    if not path.startswith("/") or _CONTROL.search(path) or "/../" in f"{path}/":
        raise HostError(f"refusing an unsafe path: {path!r}")
    return path


class Host(Protocol):
    """What every host offers. ``layout`` says where things live on that server."""

    name: str
    layout: Layout

    def run(
        self,
        argv: list[str] | tuple[str, ...],
        input: bytes | str | None = None,
        *,
        check: bool = True,
        timeout: float = 300,
    ) -> Result: ...

    def read_file(self, path: str) -> bytes: ...

    def write_file(
        self, path: str, data: bytes | str, mode: int = 0o644, owner: str = "", group: str = ""
    ) -> None: ...

    def exists(self, path: str) -> bool: ...


class LocalHost:
    """This machine. Files are written atomically: a temporary file in the same directory,
    its mode and owner set, then renamed over the target."""

    def __init__(self, name: str, layout: Layout) -> None:
        self.name = name
        self.layout = layout

    def run(
        self,
        argv: list[str] | tuple[str, ...],
        input: bytes | str | None = None,
        *,
        check: bool = True,
        timeout: float = 300,
    ) -> Result:
        args = check_argv(argv)
        data = input.encode() if isinstance(input, str) else input
        try:
            # An argument list, never a shell; a session of its own, so that a timeout stops
            # the command's children too (a reload that forks, a dump piped elsewhere).
            process = subprocess.Popen(
                args,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise HostError(f"{args[0]}: command not found on {self.name}") from exc
        try:
            stdout, stderr = process.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise HostError(f"{args[0]}: no answer after {timeout:.0f} s on {self.name}") from exc
        completed = subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
        result = Result(
            args,
            completed.returncode,
            completed.stdout.decode(errors="replace"),
            completed.stderr.decode(errors="replace"),
        )
        if check and not result.ok:
            raise HostError(
                f"{' '.join(args[:3])}… exited with {result.returncode} on {self.name}: "
                f"{result.output[-2000:]}"
            )
        return result

    def read_file(self, path: str) -> bytes:
        try:
            with open(check_path(path), "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise HostError(f"cannot read {path} on {self.name}: {exc.strerror}") from exc

    def write_file(
        self, path: str, data: bytes | str, mode: int = 0o644, owner: str = "", group: str = ""
    ) -> None:
        target = check_path(path)
        payload = data.encode() if isinstance(data, str) else data
        directory = os.path.dirname(target)
        try:
            uid = pwd.getpwnam(owner).pw_uid if owner else -1
            gid = grp.getgrnam(group).gr_gid if group else -1
        except KeyError as exc:
            raise HostError(f"unknown user or group on {self.name}: {exc}") from exc
        try:
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".ronron-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(payload)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.chmod(tmp, mode)
                if uid != -1 or gid != -1:
                    os.chown(tmp, uid, gid)
                os.replace(tmp, target)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise HostError(f"cannot write {path} on {self.name}: {exc.strerror}") from exc

    def exists(self, path: str) -> bool:
        return os.path.lexists(check_path(path))


def host_for(server: Server) -> Host:
    from ronron.fleet.layout import Layout

    layout = Layout.from_overrides(server.layout or {})
    if server.host_kind == "ssh":
        from ronron.fleet.ssh import SSHHost

        return SSHHost.for_server(server, layout)
    return LocalHost(server.name, layout)
