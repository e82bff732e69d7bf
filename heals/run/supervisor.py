"""A small process supervisor: start components, merge their output, restart the ones that die.

Each component runs as a child process with its output merged into one
stream, every line prefixed with the component's name. A component that
exits is logged with its exit code and started again after a back-off that
doubles up to a minute. SIGINT or SIGTERM stops every child: SIGTERM first,
SIGKILL after a grace period.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from heals.run.components import Component

__all__ = ["Supervisor"]

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60.0
STOP_GRACE_SECONDS = 15.0


@dataclass
class _Running:
    component: Component
    process: subprocess.Popen
    ready: threading.Event = field(default_factory=threading.Event)
    restarts: int = 0
    backoff: float = 1.0


class Supervisor:
    """Start, watch and stop a set of components."""

    def __init__(self, components: list[Component], *, out=None) -> None:
        self.components = components
        self.out = out or sys.stdout
        self.running: dict[str, _Running] = {}
        self._stopping = threading.Event()
        self._print_lock = threading.Lock()
        self._name_width = max(len(c.name) for c in components)

    # -- output -------------------------------------------------------------

    def say(self, source: str, line: str) -> None:
        """Print one line of the merged stream."""
        with self._print_lock:
            self.out.write(f"{source:>{self._name_width}} | {line.rstrip()}\n")
            self.out.flush()

    def _pump(self, running: _Running) -> None:
        pattern = re.compile(running.component.ready_pattern) if running.component.ready_pattern else None
        for raw in iter(running.process.stdout.readline, b""):
            line = raw.decode("utf-8", "replace")
            self.say(running.component.name, line)
            if pattern and not running.ready.is_set() and pattern.search(line):
                running.ready.set()

    # -- lifecycle ----------------------------------------------------------

    def _spawn(self, component: Component, previous: _Running | None = None) -> _Running:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            component.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        running = _Running(component, process)
        if previous is not None:
            running.restarts = previous.restarts + 1
            running.backoff = min(previous.backoff * 2, MAX_BACKOFF_SECONDS)
        threading.Thread(target=self._pump, args=(running,), daemon=True, name=f"pump-{component.name}").start()
        self.running[component.name] = running
        return running

    def _wait_ready(self, running: _Running, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        port = running.component.ready_port
        while time.monotonic() < deadline and not self._stopping.is_set():
            if running.process.poll() is not None:
                return False
            if port is not None and _port_open(port):
                running.ready.set()
            if running.ready.wait(0.25):
                return True
        return running.ready.is_set()

    def ports_in_use(self) -> list[str]:
        """Return a description of each component port that something already listens on."""
        return [
            f"{c.name} port {c.ready_port}" for c in self.components if c.ready_port is not None and _port_open(c.ready_port)
        ]

    def start_all(self, ready_timeout: float = 120.0) -> bool:
        """Start every component in order, waiting for each to be ready; return True when all are.

        Nothing starts when a component's port is already taken, because a
        readiness check by port would then see the other process.
        """
        busy_ports = self.ports_in_use()
        if busy_ports:
            self.say("heals", f"cannot start: {', '.join(busy_ports)} already in use by another process; "
                              "stop it (an earlier `heals up` or `heals demo --keep-running`?) or change "
                              "HEALS_HTTP_PORT / HEALS_MLLP_PORT")
            return False
        for component in self.components:
            running = self._spawn(component)
            if self._wait_ready(running, ready_timeout):
                self.say("heals", f"{component.name} ready ({component.describe_readiness()})")
            else:
                code = running.process.poll()
                state = f"exited with code {code}" if code is not None else "not ready in time"
                self.say("heals", f"{component.name} failed to start: {state}; see its lines above")
                return False
        return True

    def watch(self) -> None:
        """Restart components that die until stop() is called."""
        while not self._stopping.wait(0.5):
            for name, running in list(self.running.items()):
                code = running.process.poll()
                if code is None:
                    continue
                reason = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
                self.say("heals", f"{name} {reason}; restarting in {running.backoff:.0f}s")
                if self._stopping.wait(running.backoff):
                    return
                self._spawn(running.component, previous=running)

    def stop(self) -> None:
        """Stop every child: SIGTERM, then SIGKILL after the grace period."""
        self._stopping.set()
        for running in self.running.values():
            _signal_group(running.process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for running in self.running.values():
            try:
                running.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("heals", f"{running.component.name} did not stop in {STOP_GRACE_SECONDS:.0f}s; killing it")
                _signal_group(running.process, signal.SIGKILL)
                running.process.wait()
        self.say("heals", "all components stopped")


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
