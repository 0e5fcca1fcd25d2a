"""Register the demo customer through user-service (run inside the stack by scripts/seed)."""

import json
import os
import sys
import urllib.error
import urllib.request

USER_SERVICE = os.environ.get("USER_SERVICE_URL", "http://user-service:8000")


def main() -> int:
    """Create the demo customer unless it exists; return the exit status."""
    if os.environ.get("FLOTILLA_ENV") == "production":
        print("seed: refusing to create a demo account in production", file=sys.stderr)
        return 1
    email = os.environ["DEMO_EMAIL"]
    body = {"email": email, "password": os.environ["DEMO_PASSWORD"], "name": "Demo Customer"}
    request = urllib.request.Request(  # noqa: S310 (a fixed http URL inside the stack)
        f"{USER_SERVICE}/api/auth/register",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            print(f"seed: created the demo customer {email}")
    except urllib.error.HTTPError as error:
        if error.code != 409:
            print(
                f"seed: registering {email} failed: {error.code} {error.read()!r}", file=sys.stderr
            )
            return 1
        print(f"seed: the demo customer {email} exists already")
    return 0


if __name__ == "__main__":
    sys.exit(main())
