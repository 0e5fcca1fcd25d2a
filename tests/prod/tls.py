"""NGINX's TLS, from inside the stack (scripts/test-prod): python - HTTPS_PORT CERTIFICATE_PEM.

Checks the certificate against the one in secrets (an argument), TLS 1.2+ only, HTTP/2 offered,
HSTS on every answer over TLS, and plain HTTP redirecting to HTTPS with method and path.
"""

import http.client
import socket
import ssl
import sys

HOST = "nginx"  # the test certificate names it (TLS_HOSTNAMES)


def context(certificate: str, *protocols: str) -> ssl.SSLContext:
    """A client that trusts only the stack's certificate, offering these ALPN protocols."""
    trusting = ssl.create_default_context(cadata=certificate)
    if protocols:
        trusting.set_alpn_protocols(list(protocols))
    return trusting


def check(certificate: str, https_port: str) -> None:
    """Raise AssertionError on the first thing that is not as production needs it."""
    with context(certificate, "h2", "http/1.1").wrap_socket(
        socket.create_connection((HOST, 443), timeout=10), server_hostname=HOST
    ) as sock:
        assert sock.version() in {"TLSv1.2", "TLSv1.3"}, sock.version()
        assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()

    for path, expected in [("/health", 200), ("/api/no-such-thing", 404)]:
        connection = http.client.HTTPSConnection(HOST, 443, context=context(certificate))
        connection.request("GET", path)
        response = connection.getresponse()
        hsts = response.getheader("Strict-Transport-Security", "")
        assert response.status == expected, (path, response.status)
        assert hsts.startswith("max-age=63072000"), (path, hsts)

    # A client that offers only TLS 1.1 (and would take weak ciphers) is refused.
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    old.set_ciphers("ALL:@SECLEVEL=0")
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        old.wrap_socket(socket.create_connection((HOST, 443), timeout=10))
    except ssl.SSLError:
        pass
    else:
        raise AssertionError("NGINX accepted TLS 1.1")

    plain = http.client.HTTPConnection(HOST, 80, timeout=10)
    plain.request("POST", "/api/orders?x=1", body=b"{}")
    response = plain.getresponse()
    location = response.getheader("Location")
    assert response.status == 308, response.status
    assert location == f"https://{HOST}:{https_port}/api/orders?x=1", location
    assert not response.getheader("Strict-Transport-Security"), "HSTS over plain HTTP"
    print("TLS: 1.2+ only, h2, HSTS on every answer; HTTP redirects to HTTPS (308)")


if __name__ == "__main__":
    check(sys.argv[2], sys.argv[1])
