"""Test-only fault injection: a process kills itself (SIGKILL, as a crash would) at a named
step, so that tests can prove that a crash at that instant leaves nothing unsettled.

Off unless FAULT_INJECTION is true, and production refuses to start with it on. A request
names its step in the X-Fault header (a service passes it on to the services it calls); a
command outside any request (`flotilla run JOB`) names it in the FAULT_AT environment variable.
"""

import logging
import os
import signal

from flask import has_request_context, request

from flotilla.config import ConfigError, Env

log = logging.getLogger(__name__)

HEADER = "X-Fault"
STEP_VARIABLE = "FAULT_AT"


def enabled(env: Env) -> bool:
    """Read FAULT_INJECTION; raise ConfigError when it is on in production."""
    on = env.flag("FAULT_INJECTION", False)
    if on and env.production:
        raise ConfigError("FAULT_INJECTION is for tests only and must be off in production")
    return on


def _named_step() -> str | None:
    if has_request_context():
        return request.headers.get(HEADER)
    return os.environ.get(STEP_VARIABLE)


def crash_point(step: str, *, enabled: bool) -> None:
    """Kill this process here when fault injection is on and the step named is this one."""
    if enabled and _named_step() == step:
        log.warning("fault injection: killing this process", extra={"step": step})
        os.kill(os.getpid(), signal.SIGKILL)


def forwarded(*, enabled: bool) -> dict[str, str]:
    """Return the fault header to pass on to another service ({} unless one is named)."""
    step = request.headers.get(HEADER) if enabled and has_request_context() else None
    return {HEADER: step} if step else {}
