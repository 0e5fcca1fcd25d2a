"""/metrics as every service serves it (flotilla.metrics): the shared checks."""

from flotilla_testing.metrics import *  # noqa: F403
