"""Alert engine: rules, evaluation, lifecycle, routing, grouping, silences, outbox, channels.

Entry points are imported lazily so that importing the service wiring does not load scipy.
"""

from __future__ import annotations


def start_engine(services):
    """``core.services.WORKER_STARTERS`` entry (see :mod:`alerts.engine`)."""
    from alerts.engine import start_engine as _start

    return _start(services)


def demo_hook(services, args) -> None:
    """``core.commands.demo.DEMO_HOOKS`` entry (see :mod:`alerts.demo`)."""
    from alerts.demo import demo_alerts

    demo_alerts(services, args)
