"""A class's local MongoDB that asks who is calling: the instructor's user, made before the
first start with --auth.

With MONGODB_URI naming a user (`mongodb://teacher:...@localhost:27017`), the local SecantusDB
starts with --auth (labkit.ops.infra.local). Like mongod, it then answers nobody who has not
signed in, and it has no user to sign in as until one is made on a server that asks nobody.
So, once per user and password, `ensure_admin_user` runs the server without --auth on a free
port of 127.0.0.1 that nobody else is told of, creates (or updates) the user with the role
root in the `admin` database, and stops it. `local.start` then starts it as usual, with --auth.

A digest of user and password in `.lab/secantus/admin-user` records that it was done: a
changed password is set again at the next start, and the file does not hold the password.
The students' users are made later, by the instructor (labkit.teach.roster).
"""

from __future__ import annotations

import hashlib
import socket
from dataclasses import replace
from pathlib import Path

from labkit.config import Settings
from labkit.ops.infra.local import InfraError, Service, command, spawn, stop, wait_ready, write_private


def marker_file(home: Path) -> Path:
    return home / "secantus" / "admin-user"


def marker(settings: Settings) -> str:
    """What the marker file holds once the URI's user was made (pure)."""
    user, password = settings.mongodb_user
    return hashlib.sha256(f"{user}\0{password}".encode()).hexdigest()


def unauthenticated_argv(argv: list[str], port: int) -> list[str]:
    """The server's command line `argv` without --auth, listening on `port` instead (pure)."""
    out = [a for a in argv if a != "--auth"]
    at = out.index("--port")
    return [*out[:at + 1], str(port), *out[at + 2:]]


def ensure_admin_user(service: Service, settings: Settings, home: Path) -> None:
    """Make MONGODB_URI's user (root) unless the marker says it was made with this password.
    Raises InfraError when the URI would sign in against another database than `admin`."""
    if settings.mongodb_auth_db != "admin":
        raise InfraError(f"MONGODB_URI signs in against the database {settings.mongodb_auth_db!r}, and a class's users "
                         "live in 'admin': add ?authSource=admin to it.")
    try:
        if marker_file(home).read_text().strip() == marker(settings):
            return
    except FileNotFoundError:
        pass
    from labkit.ops import clients
    from labkit.ops.infra.readiness import mongodb_ready

    port = _free_port()
    hidden = replace(service, port=port)
    nobody = settings.replace(mongodb_uri=f"mongodb://127.0.0.1:{port}")
    spawn(hidden, unauthenticated_argv(command(service, settings, home), port), home)
    try:
        wait_ready(hidden, home, lambda: mongodb_ready(nobody))
        user, password = settings.mongodb_user
        client = clients.mongo_client(nobody)
        try:
            known = client.admin.command("usersInfo", user)["users"]
            client.admin.command("updateUser" if known else "createUser", user, pwd=password,
                                 roles=[{"role": "root", "db": "admin"}])
        finally:
            client.close()
    finally:
        stop(hidden, home)
    write_private(marker_file(home), marker(settings))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
