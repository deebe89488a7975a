"""``SSHHost``: the Host contract on another machine, over SSH (paramiko).

The server's host key is recorded with the server and verified on every connection: Ronron never
trusts a key it sees for the first time, so a machine that answers with another key (reinstalled,
or someone in the middle) is refused. Commands are argument lists, each argument quoted with
``shlex.quote`` for the remote shell; files go through SFTP. One connection per host object,
opened on first use and kept until ``close()``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import secrets
import select
import shlex
import threading
import time
from typing import TYPE_CHECKING, Any

import paramiko

from ronron.fleet.hosts import HostError, Result, check_argv, check_path

if TYPE_CHECKING:
    from ronron.fleet.layout import Layout
    from ronron.fleet.models import Server

CONNECT_TIMEOUT = 15.0
# A remote command gets this much longer than its own limit before we give up on the channel:
# the remote `timeout` kills it first and we report it as a timeout.
_GRACE = 5.0
_KEY_CLASSES: tuple[type[paramiko.PKey], ...] = (
    paramiko.Ed25519Key,
    paramiko.RSAKey,
    paramiko.ECDSAKey,
)


def load_private_key(text: str) -> paramiko.PKey:
    """The private key of an OpenSSH or PEM text (ed25519, RSA, ECDSA); ValueError otherwise."""
    if not text or not text.strip():
        raise ValueError("no private key")
    for key_class in _KEY_CLASSES:
        try:
            return key_class.from_private_key(io.StringIO(text.strip() + "\n"))
        except paramiko.PasswordRequiredException as exc:
            raise ValueError("the private key is protected by a passphrase") from exc
        except (paramiko.SSHException, ValueError, TypeError, IndexError):
            continue
    raise ValueError("not a private key (OpenSSH ed25519, RSA or ECDSA)")


def parse_host_key(line: str) -> paramiko.PKey:
    """The public key of an OpenSSH public key line ("ssh-ed25519 AAAA… comment")."""
    parts = (line or "").split()
    if len(parts) < 2:
        raise ValueError("a host key line is '<type> <base64 key> [comment]'")
    key_type, blob = parts[0], parts[1]
    try:
        data = base64.b64decode(blob, validate=True)
        key = paramiko.PKey.from_type_string(key_type, data)
    except (binascii.Error, paramiko.SSHException, ValueError, TypeError) as exc:
        raise ValueError("this host key line cannot be read") from exc
    if key.get_name() != key_type and not key_type.startswith("ssh-rsa"):
        raise ValueError("the key type does not match the key")
    return key


def _known_hosts_name(address: str, port: int) -> str:
    # The name paramiko looks up, as in known_hosts files.
    return address if port == 22 else f"[{address}]:{port}"


class SSHHost:
    """A server reached over SSH as ``user``@``address``:``port`` with a private key."""

    def __init__(
        self,
        name: str,
        layout: Layout,
        *,
        address: str,
        port: int,
        user: str,
        private_key: str,
        host_key: str,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        self.name = name
        self.layout = layout
        self.address = address
        self.port = port
        self.user = user
        self._private_key = private_key
        self._host_key = host_key
        self._connect_timeout = connect_timeout
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        # Never the key: hosts end up in tracebacks and logs.
        return f"<SSHHost {self.name} {self.user}@{self.address}:{self.port}>"

    @classmethod
    def for_server(cls, server: Server, layout: Layout) -> SSHHost:
        credentials = server.ssh_credentials or {}
        return cls(
            server.name,
            layout,
            address=server.address,
            port=server.port,
            user=server.ssh_user,
            private_key=credentials.get("private_key", ""),
            host_key=credentials.get("host_key", ""),
        )

    # Connection -------------------------------------------------------------------------

    def _connect(self) -> paramiko.SSHClient:
        with self._lock:
            client = self._client
            transport = client.get_transport() if client is not None else None
            if client is not None and transport is not None and transport.is_active():
                return client
            self.close()
            if not self.address or not self.user:
                raise HostError(f"{self.name}: no SSH address or user recorded")
            if not self._host_key.strip():
                raise HostError(
                    f"{self.name}: no SSH host key recorded; refusing to connect to a server "
                    "whose identity cannot be verified"
                )
            try:
                expected = parse_host_key(self._host_key)
            except ValueError as exc:
                raise HostError(f"{self.name}: recorded SSH host key unusable: {exc}") from exc
            try:
                pkey = load_private_key(self._private_key)
            except ValueError as exc:
                raise HostError(f"{self.name}: SSH private key unusable: {exc}") from exc
            client = paramiko.SSHClient()
            client.get_host_keys().add(
                _known_hosts_name(self.address, self.port), expected.get_name(), expected
            )
            # Only the recorded key is accepted: no first-use trust, no known_hosts file.
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
            try:
                client.connect(
                    self.address,
                    port=self.port,
                    username=self.user,
                    pkey=pkey,
                    look_for_keys=False,
                    allow_agent=False,
                    timeout=self._connect_timeout,
                    banner_timeout=self._connect_timeout,
                    auth_timeout=self._connect_timeout,
                )
            except paramiko.BadHostKeyException as exc:
                client.close()
                raise HostError(
                    f"{self.name}: the SSH host key of {self.address}:{self.port} is not the "
                    "recorded one; refusing to connect (was the server reinstalled?)"
                ) from exc
            except paramiko.AuthenticationException as exc:
                client.close()
                raise HostError(
                    f"{self.name}: {self.user}@{self.address} refused our SSH key"
                ) from exc
            except (paramiko.SSHException, OSError) as exc:
                client.close()
                raise HostError(
                    f"{self.name}: cannot connect to {self.address}:{self.port} over SSH: {exc}"
                ) from exc
            self._client = client
            return client

    def _sftp_client(self) -> paramiko.SFTPClient:
        with self._lock:
            client = self._connect()
            sftp = self._sftp
            channel = sftp.get_channel() if sftp is not None else None
            if sftp is None or channel is None or channel.closed:
                try:
                    sftp = self._sftp = client.open_sftp()
                except (paramiko.SSHException, OSError) as exc:
                    raise HostError(f"{self.name}: cannot open SFTP: {exc}") from exc
            return sftp

    def close(self) -> None:
        with self._lock:
            if self._sftp is not None:
                self._sftp.close()
                self._sftp = None
            if self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> SSHHost:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # Commands ---------------------------------------------------------------------------

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
        # The remote `timeout` stops the command itself; closing our channel would not.
        command = shlex.join(["timeout", "-k", "5", f"{max(timeout, 0.001):.3f}", *args])
        client = self._connect()
        started = time.monotonic()
        try:
            transport = client.get_transport()
            assert transport is not None
            channel = transport.open_session(timeout=self._connect_timeout)
            channel.exec_command(command)
            stdout, stderr, timed_out = self._exchange(
                channel, data or b"", started + timeout + _GRACE
            )
            returncode = -1 if timed_out else channel.recv_exit_status()
            channel.close()
        except (paramiko.SSHException, OSError) as exc:
            self.close()
            raise HostError(f"{args[0]}: SSH failure on {self.name}: {exc}") from exc
        elapsed = time.monotonic() - started
        if timed_out or (returncode == 124 and elapsed >= timeout):
            raise HostError(f"{args[0]}: no answer after {timeout:.0f} s on {self.name}")
        result = Result(
            args, returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace")
        )
        if returncode == 127:
            # What the shell or `timeout` answer when the program does not exist.
            raise HostError(f"{args[0]}: command not found on {self.name}")
        if check and not result.ok:
            raise HostError(
                f"{' '.join(args[:3])}… exited with {result.returncode} on {self.name}: "
                f"{result.output[-2000:]}"
            )
        return result

    @staticmethod
    def _exchange(
        channel: paramiko.Channel, data: bytes, deadline: float
    ) -> tuple[bytes, bytes, bool]:
        """Feed standard input while reading both outputs, so that neither side fills its
        window waiting for the other; (stdout, stderr, timed out)."""
        out: list[bytes] = []
        err: list[bytes] = []
        view = memoryview(data)
        if not view:
            channel.shutdown_write()
        while True:
            while view and channel.send_ready():
                view = view[channel.send(view[:32768]) :]
                if not view:
                    channel.shutdown_write()
            while channel.recv_ready():
                out.append(channel.recv(65536))
            while channel.recv_stderr_ready():
                err.append(channel.recv_stderr(65536))
            finished = channel.exit_status_ready() and channel.eof_received
            if finished and not channel.recv_ready() and not channel.recv_stderr_ready():
                return b"".join(out), b"".join(err), False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return b"".join(out), b"".join(err), True
            # The channel's pipe wakes us for stdout and closing; stdin and stderr are polled.
            select.select([channel], [], [], min(remaining, 0.005 if view else 0.05))

    # Files ------------------------------------------------------------------------------

    def read_file(self, path: str) -> bytes:
        target = check_path(path)
        sftp = self._sftp_client()
        try:
            with sftp.open(target, "rb") as handle:
                handle.prefetch()
                return handle.read()
        except OSError as exc:
            raise HostError(f"cannot read {path} on {self.name}: {exc.strerror or exc}") from exc

    def write_file(
        self, path: str, data: bytes | str, mode: int = 0o644, owner: str = "", group: str = ""
    ) -> None:
        target = check_path(path)
        payload = data.encode() if isinstance(data, str) else data
        directory = target.rsplit("/", 1)[0] or "/"
        tmp = f"{directory.rstrip('/')}/.ronron-{secrets.token_hex(8)}"
        sftp = self._sftp_client()
        try:
            try:
                with sftp.open(tmp, "wb") as handle:
                    # Private before the first byte: the content may be a secret (wp-config).
                    handle.chmod(0o600)
                    handle.set_pipelined(True)
                    handle.write(payload)
                if owner or group:
                    spec = f"{owner}:{group}" if group else owner
                    self.run(["chown", "--", spec, tmp], timeout=60)
                sftp.chmod(tmp, mode)
                sftp.posix_rename(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    sftp.remove(tmp)
                raise
        except OSError as exc:
            raise HostError(f"cannot write {path} on {self.name}: {exc.strerror or exc}") from exc

    def exists(self, path: str) -> bool:
        target = check_path(path)
        sftp = self._sftp_client()
        try:
            sftp.lstat(target)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise HostError(f"cannot look at {path} on {self.name}: {exc.strerror or exc}") from exc
        return True
