"""TLS for stream endpoints: contexts from an endpoint's options, sockbench's own local CA,
certificates read into the protocol's `Certificate`, verification in words, and the STARTTLS
negotiations (sans-IO). No sockets and no event loop here: the engine drives the handshakes."""

# How long a TLS handshake may take before the connection is given up.
HANDSHAKE_SECONDS = 10.0


class TlsSetupError(Exception):
    """A TLS option that cannot be used (a file missing, a key that does not match)."""
