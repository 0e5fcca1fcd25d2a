"""Who may forward a client address (scripts/test-prod): python - CERTIFICATE_PEM.

Runs in the gateway's container, on the edge network beside NGINX. One request goes through
NGINX with a forged X-Forwarded-For, then two straight to the gateway, each with another
forged one. All three must count against one rate-limit key, this container's address: NGINX
is believed (it reports this container, not itself), and a peer that is not one of the
gateway's TRUSTED_PROXIES (production's default: nginx,storefront) is not, although it is on
the edge network too. Standard library only: it runs in any of our images.
"""

import socket
import ssl
import sys
import time
import urllib.error
import urllib.request

NGINX = "https://nginx"  # the test certificate names it (TLS_HOSTNAMES)


def remaining(url: str, forged: str, tls: ssl.SSLContext) -> tuple[int, int]:
    """GET an unknown API path with a forged X-Forwarded-For; RateLimit-Remaining and -Reset."""
    request = urllib.request.Request(url + "/api/nothing", headers={"X-Forwarded-For": forged})
    try:
        with urllib.request.urlopen(request, timeout=10, context=tls) as response:
            headers = response.headers
    except urllib.error.HTTPError as error:
        assert error.code == 404, error.code
        headers = error.headers
    return int(headers["RateLimit-Remaining"]), int(headers["RateLimit-Reset"])


def main(certificate: str) -> None:
    """Raise AssertionError unless NGINX alone forwards a client address."""
    tls = ssl.create_default_context(cadata=certificate)
    with socket.create_connection(("nginx", 443), timeout=10) as sock:
        own_address = sock.getsockname()[0]  # this container's address on the edge network
    direct = f"http://{own_address}:8000"
    for _ in range(3):
        through_nginx, reset = remaining(NGINX, "203.0.113.7", tls)
        if reset < 3:  # the window ends before the three are counted: wait for the next
            time.sleep(reset)
            continue
        forged = [remaining(direct, address, tls)[0] for address in ("203.0.113.8", "203.0.113.9")]
        counted = [through_nginx - 1, through_nginx - 2]
        assert forged == counted, f"{own_address}: {through_nginx}, then {forged}"
        print(f"NGINX forwards {own_address}; a direct peer's X-Forwarded-For is ignored")
        return
    raise AssertionError("no rate-limit window lasted three requests")


main(sys.argv[1])
