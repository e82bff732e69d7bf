"""The process supervisor behind `heals up`: readiness, restart after a crash, clean stop."""

from __future__ import annotations

import io
import sys
import threading
import time

from heals.run.components import Component
from heals.run.supervisor import Supervisor

SLEEPER = "import time; print('worker ready', flush=True); time.sleep(120)"
CRASHER = "import sys; print('relay started', flush=True); sys.exit(3)"


def _component(name: str, code: str, pattern: str) -> Component:
    return Component(name, (sys.executable, "-c", code), ready_pattern=pattern)


def _wait_for(predicate, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_components_become_ready_and_stop():
    out = io.StringIO()
    supervisor = Supervisor([_component("worker", SLEEPER, "worker ready")], out=out)

    assert supervisor.start_all(ready_timeout=30)
    process = supervisor.running["worker"].process
    supervisor.stop()

    assert process.poll() is not None
    assert "worker | worker ready" in out.getvalue()
    assert "worker ready (a log line matching" in out.getvalue()
    assert "all components stopped" in out.getvalue()


def test_dead_component_is_restarted_with_reason():
    out = io.StringIO()
    supervisor = Supervisor([_component("relay", CRASHER, "relay started")], out=out)
    assert supervisor.start_all(ready_timeout=30)

    watcher = threading.Thread(target=supervisor.watch, daemon=True)
    watcher.start()
    restarted = _wait_for(lambda: supervisor.running["relay"].restarts >= 1)
    supervisor.stop()

    assert restarted
    assert "relay exited with code 3; restarting" in out.getvalue()


def test_component_that_never_becomes_ready_fails_start():
    out = io.StringIO()
    supervisor = Supervisor([_component("api", "import sys; sys.exit(1)", "never printed")], out=out)

    assert not supervisor.start_all(ready_timeout=10)
    supervisor.stop()
    assert "api failed to start: exited with code 1" in out.getvalue()


def test_taken_port_stops_start():
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        out = io.StringIO()
        component = Component("api", (sys.executable, "-c", SLEEPER), ready_port=port)
        supervisor = Supervisor([component], out=out)

        started = supervisor.start_all(ready_timeout=10)

    assert not started
    assert supervisor.running == {}
    assert f"api port {port} already in use" in out.getvalue()
