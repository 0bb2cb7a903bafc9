"""A first trial with real phones: serve on this machine's address on the local network,
and put that address in QR codes, posters and join links (`make run-lan`)."""

import socket
import sys


def lan_address() -> str:
    """This machine's address on its local network: the one it would send from. No packet
    leaves (a UDP "connection" only picks a route); without a network, loopback."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere
        address = probe.getsockname()[0]
    except OSError:
        address = "127.0.0.1"
    finally:
        probe.close()
    return address


def lan_env(port: int, address: str | None = None) -> dict[str, str]:
    """The settings that make a development server reachable from phones on the network."""
    address = address or lan_address()
    base = f"http://{address}:{port}"
    # No "[::1]": make passes these words to env unquoted, where brackets would glob.
    return {
        "ALLOWED_HOSTS": f"{address},localhost,127.0.0.1",
        "HUILIAO_PUBLIC_URL": base,
        "CSRF_TRUSTED_ORIGINS": base,
    }


if __name__ == "__main__":
    # `python -m huiliao_site.lan 8000`: the settings as shell assignments, for make.
    for key, value in lan_env(int(sys.argv[1])).items():
        print(f"{key}={value}")
