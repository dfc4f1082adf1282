"""`sockbench tls ca`: where sockbench's local CA is and its fingerprint, so that clients
can be told to trust it (made now if it does not exist yet)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from workbench.tls.local_ca import local_ca


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="sockbench tls",
        description="sockbench's own certificate authority, which signs the certificate of "
        "each TLS listener given no cert=",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "ca", help="print the CA certificate's path and SHA-256 fingerprint (made if needed)"
    )
    parser.parse_args(argv)
    try:
        ca = local_ca()
    except OSError as exc:
        print(f"sockbench: cannot make the local CA: {exc}", file=sys.stderr)
        return 1
    print(f"certificate: {ca.cert_path}")
    print(f"SHA-256:     {ca.sha256}")
    print(f"trust it:    curl --cacert {ca.cert_path} ...")
    print(f"             openssl s_client -CAfile {ca.cert_path} ...")
    return 0
