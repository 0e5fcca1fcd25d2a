"""`flotilla`: the commands a service's container runs (the package is $FLOTILLA_APP).

flotilla migrate       apply migrations and start-up tasks, then exit
flotilla worker        run the periodic jobs until stopped
flotilla run JOB       run one job once (by hand, or from a test)
"""

import argparse
import sys

from flotilla.config import ConfigError
from flotilla.logs import configure_logging
from flotilla.service import load
from flotilla.worker import run_job, run_worker, start_jobs


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the exit status."""
    parser = argparse.ArgumentParser(prog="flotilla", description=__doc__.splitlines()[0])
    parser.add_argument("--app", help="the service's package (default: $FLOTILLA_APP)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply migrations and start-up tasks")
    commands.add_parser("worker", help="run the periodic jobs until stopped")
    commands.add_parser("run", help="run one job once").add_argument("job")
    args = parser.parse_args(argv)
    try:
        service = load(args.app)
        config = service.config.from_env()
        configure_logging(service.name, config.log_level)
        if args.command == "migrate":
            service.prepare(config)
        elif args.command == "worker":
            run_worker(service, config)
        else:
            return _run_one(service, config, args.job)
    except ConfigError as error:  # also a job's own settings, read when the worker starts
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    return 0


def _run_one(service, config, name: str) -> int:
    jobs = {job.name: job for job in service.jobs}
    if name not in jobs:
        print(f"no job {name!r}; jobs: {', '.join(sorted(jobs)) or 'none'}", file=sys.stderr)
        return 2
    app = service.create_app(config)
    start_jobs(app, [jobs[name]])
    done = run_job(app, service, jobs[name])
    print(f"{name}: {'skipped (running elsewhere)' if done is None else done}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
