"""The lab inside a JupyterHub user's server, without Docker: `python -m labkit hub setup`.

A hub already runs JupyterLab for each user, so the lab adds none of its own. Setup does two
things and says what it did:

1. registers the lab's kernel for this user (`ipykernel install --user`), in the folder the
   hub's own Jupyter searches first (`~/.local/share/jupyter/kernels`), pointing at this
   environment's Python;
2. chooses the ports of the lab's services for this user: the defaults (9092 and 9093 for
   Kafka, 27017 for MongoDB, 8000 for the API) where they are free, else free ones near them,
   written to the repository's `.env`, which every lab command and notebook reads. On a hub
   whose users share one machine's network (The Littlest JupyterHub, a LocalSpawner) two
   students' brokers would otherwise collide; with a container per user the defaults stay.

Pure parts (`choose_ports`, `merged_env`) take the facts as arguments, so tests can fake a
busy machine; `setup` does the I/O.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from labkit.config import REPO_ROOT, Settings

KERNEL_NAME = "telemetry-lab"
KERNEL_DISPLAY = "Python (telemetry-lab)"

#: How far above a default port to look for a free one (a hub of 100 users fits).
SEARCH = 1000


@dataclass(frozen=True)
class Ports:
    kafka: int  # the controller listens on kafka + 1
    mongodb: int
    api: int

    def env(self) -> dict[str, str]:
        """The `.env` lines that point every lab command and notebook at these ports."""
        return {"KAFKA_BOOTSTRAP_SERVERS": f"localhost:{self.kafka}",
                "MONGODB_URI": f"mongodb://localhost:{self.mongodb}",
                "API_URL": f"http://localhost:{self.api}"}


def default_ports(settings: Settings) -> Ports:
    return Ports(settings.kafka_host_port[1], settings.mongodb_host_port[1], urlsplit(settings.api_url).port or 80)


def choose_ports(defaults: Ports, is_free: Callable[[int], bool], ours: frozenset[int] = frozenset()) -> Ports:
    """Each default port if it is free or already the lab's own (`ours`: this user's running
    services), else the first free one above it; Kafka needs its port and the next one free.
    The three never overlap. Raises RuntimeError when nothing is free within SEARCH ports."""
    taken: set[int] = set()

    def usable(port: int) -> bool:
        return port not in taken and (port in ours or is_free(port))

    def pick(start: int, width: int) -> int:
        port = first_free(start, width, usable)
        taken.update(range(port, port + width))
        return port

    return Ports(kafka=pick(defaults.kafka, 2), mongodb=pick(defaults.mongodb, 1), api=pick(defaults.api, 1))


def first_free(start: int, width: int = 1, is_free: Callable[[int], bool] | None = None) -> int:
    """The first port from `start` up with `width` free ports in a row (a notebook's own API,
    notebook 11's brokers): on a machine other students share, the default may be taken.
    Raises RuntimeError when none is within SEARCH ports."""
    is_free = is_free or port_is_free
    for port in range(start, start + SEARCH):
        if all(is_free(p) for p in range(port, port + width)):
            return port
    raise RuntimeError(f"no {width} free port(s) in a row between {start} and {start + SEARCH}")


def merged_env(text: str, values: dict[str, str]) -> str:
    """`text` (a .env file) with `values` set: a line that sets one of them is replaced in place,
    the others are appended; comments and every other line stay as they were."""
    lines, done = [], set()
    for line in text.splitlines():
        key = line.split("=", 1)[0].strip().removeprefix("export ").strip()
        if "=" in line and not line.lstrip().startswith("#") and key in values:
            lines.append(f"{key}={values[key]}")
            done.add(key)
        else:
            lines.append(line)
    lines += [f"{key}={value}" for key, value in values.items() if key not in done]
    return "\n".join(lines) + "\n"


def port_is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:`port` and it can be bound."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def register_kernel(python: str = sys.executable) -> str:
    """`ipykernel install --user` for `python`; returns what ipykernel printed (the folder)."""
    done = subprocess.run([python, "-m", "ipykernel", "install", "--user", "--name", KERNEL_NAME,
                           "--display-name", KERNEL_DISPLAY], capture_output=True, text=True, check=True)
    return (done.stdout + done.stderr).strip()


def setup(settings: Settings, env_file: Path = REPO_ROOT / ".env") -> list[str]:
    """Register the kernel for this user and write this user's ports to `env_file`; returns
    the lines to print. The lab's own running services keep their ports."""
    from labkit.ops import infra

    defaults = default_ports(settings)
    running = infra.status(settings)
    ours = frozenset({defaults.kafka, defaults.kafka + 1} if running.get("kafka", {}).get("running") else set()) | \
        frozenset({defaults.mongodb} if running.get("mongo", {}).get("running") else set())
    ports = choose_ports(defaults, port_is_free, ours)
    said = [register_kernel()]
    if ports == defaults:
        said.append(f"ports: the defaults are free ({defaults.kafka}, {defaults.mongodb}, {defaults.api}); .env unchanged")
    else:
        env_file.write_text(merged_env(env_file.read_text() if env_file.exists() else "", ports.env()))
        said.append(f"ports: Kafka {ports.kafka} (controller {ports.kafka + 1}), MongoDB {ports.mongodb}, "
                    f"API {ports.api}, written to {env_file.name} (the defaults are in use by another program)")
    said.append(f"In your hub's JupyterLab, open notebooks/ and choose the kernel '{KERNEL_DISPLAY}'. "
                "Start the services from a terminal there: make infra-up.")
    return said
