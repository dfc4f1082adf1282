"""TLS: contexts, the local CA, certificates and STARTTLS."""
