"""MariaDB: one database per site and one user of the same name, allowed on that database only.

Statements go to the administrative client (``layout.mysql``, root through the unix socket) on
its standard input: a password never appears on a command line (``ps`` shows those) nor in what
a step returns. Every identifier is checked against a strict pattern before it reaches SQL.
"""

from __future__ import annotations

import re

from ronron.fleet.hosts import Host, HostError

NAME = re.compile(r"^[a-z0-9_]{1,64}$")
# The user names Ronron gives (and looks for, to list orphans): the site's database name.
PREFIX = "wp_"


def check_name(name: str) -> str:
    if not NAME.match(name or ""):
        raise HostError(f"refusing an unsafe database name: {name!r}")
    return name


def sql_string(value: str) -> str:
    """A SQL string literal, whatever the characters (MariaDB's default SQL mode: backslash
    escapes are active, so both the backslash and the quote are doubled)."""
    if "\x00" in value:
        raise HostError("NUL character in a SQL value")
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _sql(host: Host, statements: str) -> str:
    # Every statement is built from names checked by ``check_name`` and values quoted by
    # ``sql_string`` (hence the S608 exemptions below).
    return host.run([*host.layout.mysql, "--batch", "--skip-column-names"], input=statements).stdout


def observe(host: Host, name: str) -> dict[str, bool]:
    name = check_name(name)
    out = _sql(
        host,
        "SELECT CONCAT('database:', SCHEMA_NAME) FROM information_schema.SCHEMATA "  # noqa: S608
        f"WHERE SCHEMA_NAME = {sql_string(name)};\n"
        "SELECT CONCAT('user:', User) FROM mysql.user "
        f"WHERE User = {sql_string(name)} AND Host = 'localhost';\n",
    )
    lines = set(out.split())
    return {"database": f"database:{name}" in lines, "user": f"user:{name}" in lines}


def password_works(host: Host, name: str, password: str) -> bool:
    """Whether the stored password is the user's (a crash may leave an older one)."""
    name = check_name(name)
    out = _sql(
        host,
        "SELECT IF(authentication_string = PASSWORD("  # noqa: S608
        f"{sql_string(password)}), 'same', 'different') FROM mysql.user "
        f"WHERE User = {sql_string(name)} AND Host = 'localhost';\n",
    )
    return out.strip() == "same"


def ensure(host: Host, name: str, password: str) -> str:
    """Create (or repair) the database, its user, the user's password and its rights."""
    name = check_name(name)
    user = f"{sql_string(name)}@'localhost'"
    _sql(
        host,
        f"CREATE DATABASE IF NOT EXISTS `{name}` "
        "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n"
        f"CREATE USER IF NOT EXISTS {user} IDENTIFIED BY {sql_string(password)};\n"
        f"ALTER USER {user} IDENTIFIED BY {sql_string(password)};\n"
        f"GRANT ALL PRIVILEGES ON `{name}`.* TO {user};\n",
    )
    return f"database {name} and its user ready"


def drop(host: Host, name: str) -> str:
    name = check_name(name)
    _sql(
        host,
        f"DROP DATABASE IF EXISTS `{name}`;\nDROP USER IF EXISTS {sql_string(name)}@'localhost';\n",
    )
    return f"database {name} and its user removed"


def dump(host: Host, name: str, path: str) -> str:
    """A consistent SQL dump of the database into ``path`` on the server (root's file)."""
    name = check_name(name)
    host.run(
        [
            *host.layout.mysqldump,
            "--single-transaction",
            "--routines",
            "--triggers",
            "--events",
            "--default-character-set=utf8mb4",
            f"--result-file={path}",
            "--databases",
            name,
        ]
    )
    head = host.run(["head", "-c", "4096", path]).stdout
    if "MariaDB dump" not in head and "MySQL dump" not in head:
        raise HostError(f"the dump of {name} is not a SQL dump")
    return f"database {name} dumped"


def list_names(host: Host) -> dict[str, list[str]]:
    """Databases and users named like Ronron's (``wp_…``), to find orphans."""
    pattern = sql_string(PREFIX.replace("_", "\\_") + "%")
    out = _sql(
        host,
        "SELECT CONCAT('database:', SCHEMA_NAME) FROM information_schema.SCHEMATA "  # noqa: S608
        f"WHERE SCHEMA_NAME LIKE {pattern};\n"
        "SELECT CONCAT('user:', User) FROM mysql.user "
        f"WHERE User LIKE {pattern} AND Host = 'localhost';\n",
    )
    found: dict[str, list[str]] = {"database": [], "user": []}
    for line in out.split():
        kind, _sep, name = line.partition(":")
        if kind in found and NAME.match(name):
            found[kind].append(name)
    return {kind: sorted(names) for kind, names in found.items()}
