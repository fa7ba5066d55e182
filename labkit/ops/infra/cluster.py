"""A Kafka cluster of three brokers on one machine: replication and leader election to watch.

    python -m labkit infra up --brokers 3   # nodes 1, 2, 3 on ports 9092, 9094, 9096
    python -m labkit infra status           # each broker; per partition its leader and ISR
    python -m labkit infra down

Each node is one JVM that is both broker and controller (KRaft combined mode), from the
same pinned jars as the one-broker set-up, with its controller listener one port above its
broker port and its own data folder:

    .lab/cluster/node-1/data, node-1/server.properties   (node-2, node-3 alike)
    .lab/logs/kafka-1.log,  .lab/run/kafka-1.pid

The three controllers form a quorum: any two of them can elect a leader, so the cluster
survives the loss of any one node, whichever it is. Topics get three replicas and
`min.insync.replicas=2` (topics.replication_for). Node 1 answers on the one-broker port, so
programs configured for `localhost:9092` work unchanged; a client that must survive node 1's
loss lists all three (`Cluster.bootstrap`).

Tests and notebooks can run a cluster of their own on other ports and in another folder
(`Cluster(home, base_port=19092)`), beside the lab's one broker.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

from labkit.config import Settings
from labkit.ops import clients
from labkit.ops.infra import local
from labkit.ops.infra.local import InfraError, Service
from labkit.ops.waiting import wait_until


@dataclass(frozen=True)
class Node:
    node_id: int
    port: int  # broker listener; the controller listens on port + 1

    @property
    def controller_port(self) -> int:
        return self.port + 1

    @property
    def service(self) -> Service:
        # three JVMs on a 2-core laptop: each small, smaller still under LAB_MEMORY=small
        return Service(f"kafka-{self.node_id}", "kafka.Kafka", self.port,
                       local.memory(Settings.from_env()).cluster_heap)


class Cluster:
    """`size` KRaft nodes on ports base_port, base_port + 2, ... with data under `home`."""

    def __init__(self, home: Path, base_port: int = 9092, size: int = 3, host: str = "localhost",
                 session_timeout_ms: int = 3000, admin: tuple[str, str] | None = None):
        self.home = Path(home)
        self.admin = admin  # (user, password): a broker that asks who calls (local.secured_properties)
        self.host = host
        self.session_timeout_ms = session_timeout_ms
        self.nodes = [Node(i + 1, base_port + 2 * i) for i in range(size)]

    @property
    def bootstrap(self) -> str:
        """Every node's address: a client that knows all three survives any one's loss."""
        return ",".join(f"{self.host}:{n.port}" for n in self.nodes)

    @property
    def auth(self) -> dict[str, str]:
        """kafka-python's sign-in arguments for the admin user ({} on an open cluster)."""
        if self.admin is None:
            return {}
        return Settings(kafka_username=self.admin[0], kafka_password=self.admin[1]).kafka_auth

    def node(self, node_id: int) -> Node:
        return next(n for n in self.nodes if n.node_id == node_id)

    def folder(self, node: Node) -> Path:
        return self.home / "cluster" / f"node-{node.node_id}"

    # ------------------------------------------------------------ start and stop

    def up(self, log=print, timeout_s: float = 90.0) -> list[int]:
        """Start the nodes that are not running and wait until the cluster answers with every
        node registered. Returns the ids started now. Formats storage on first use."""
        local.ensure_jars(log)
        self._format_once()
        started = [n.node_id for n in self.nodes if self.start_node(n.node_id)]
        if started:
            log(f"  starting Kafka nodes {started} on ports {[self.node(i).port for i in started]} "
                f"(logs: {self.home / 'logs'}/kafka-N.log)")
        self.wait_for_brokers(len(self.nodes), timeout_s)
        return started

    def start_node(self, node_id: int) -> bool:
        """Start one node unless it runs (a killed node rejoins with its data). True if started now."""
        node = self.node(node_id)
        if local.read_pid(node.service, self.home):
            return False
        if local.port_open(node.port) or local.port_open(node.controller_port):
            raise InfraError(
                f"Port {node.port} or {node.controller_port} is in use, so Kafka node {node_id} cannot start. "
                "If the lab's one-broker Kafka runs there, stop it first: `python -m labkit infra down`.")
        props = self.folder(node) / "server.properties"
        local.spawn(node.service, local.java(node.service, local.kafka_argv(props)), self.home)
        return True

    def down(self, log=print) -> list[int]:
        """Stop every node that runs (data kept). Returns the ids stopped."""
        by_name = {n.service.name: n.node_id for n in self.nodes}
        stopped = [by_name[s.name] for s in local.stop_together([n.service for n in self.nodes], self.home)]
        if stopped:
            log(f"  stopped Kafka nodes {stopped}")
        return stopped

    def kill(self, node_id: int) -> None:
        """SIGKILL one node, as a power cut would: no leadership handed over, no goodbye."""
        local.kill(self.node(node_id).service, self.home)

    def pause(self, node_id: int) -> None:
        """SIGSTOP one node: it keeps its sockets but does nothing, as a machine frozen by a
        long garbage-collection pause would, until `resume`. (Linux and macOS.)"""
        os.kill(self._pid(node_id), signal.SIGSTOP)

    def resume(self, node_id: int) -> None:
        """SIGCONT a paused node: it carries on where it stopped."""
        os.kill(self._pid(node_id), signal.SIGCONT)

    def _pid(self, node_id: int) -> int:
        pid = local.read_pid(self.node(node_id).service, self.home)
        if pid is None:
            raise InfraError(f"Kafka node {node_id} is not running")
        return pid

    def running(self) -> list[int]:
        return [n.node_id for n in self.nodes if local.read_pid(n.service, self.home)]

    def wait_for_brokers(self, count: int, timeout_s: float = 60.0) -> None:
        """Wait until the cluster's metadata lists `count` live brokers and as many broker ports
        accept connections; InfraError with the logs' last lines if that does not happen within
        `timeout_s` or a node dies meanwhile."""
        seen = [0]

        def all_registered() -> bool:
            for n in self.nodes:
                if not local.spawned_alive(n.service, self.home):
                    raise InfraError(f"Kafka node {n.node_id} exited during start-up. Last lines of "
                                     f"{n.service.log_file(self.home)}:\n{local.tail(n.service.log_file(self.home))}")
            seen[0] = self.live_brokers()
            # A node is registered with the quorum a moment before its broker port accepts.
            listening = sum(local.port_open(n.port) for n in self.nodes)
            return seen[0] >= count and listening >= count

        try:
            wait_until(all_registered, timeout_s, poll_s=0.5, what=f"{count} brokers")
        except TimeoutError:
            logs = "\n".join(f"--- {n.service.log_file(self.home)}\n{local.tail(n.service.log_file(self.home), 5)}"
                             for n in self.nodes)
            raise InfraError(f"The cluster lists {seen[0]} of {count} brokers after {timeout_s:.0f} s.\n{logs}") from None

    def live_brokers(self) -> int:
        """How many brokers the cluster's metadata lists now (0 when no node answers)."""
        addresses = [f"{self.host}:{n.port}" for n in self.nodes if local.port_open(n.port)]
        if not addresses:
            return 0
        try:
            admin = clients.kafka_admin(bootstrap=",".join(addresses), request_timeout_ms=3000, **self.auth)
        except Exception:  # no node answers the protocol yet
            return 0
        try:
            return len(admin.describe_cluster()["brokers"])
        except Exception:
            return 0
        finally:
            admin.close()

    def _format_once(self) -> None:
        """Write each node's properties; format their folders with one cluster id, once."""
        controllers = {n.node_id: n.controller_port for n in self.nodes}
        cluster_id = None
        for n in self.nodes:
            folder = self.folder(n)
            folder.mkdir(parents=True, exist_ok=True)
            props = folder / "server.properties"
            local.write_private(props, local.node_properties(n.node_id, self.host, n.port, controllers, folder / "data",
                                                   session_timeout_ms=self.session_timeout_ms, admin=self.admin))
            if not (folder / "data" / "meta.properties").exists():
                cluster_id = cluster_id or self._cluster_id() or local.new_cluster_id()
                local.format_storage(props, cluster_id, self.admin)

    def _cluster_id(self) -> str | None:
        """The id an already formatted node carries (a node formatted anew must join it)."""
        for n in self.nodes:
            meta = self.folder(n) / "data" / "meta.properties"
            if meta.exists():
                for line in meta.read_text().splitlines():
                    if line.startswith("cluster.id="):
                        return line.split("=", 1)[1].strip()
        return None
