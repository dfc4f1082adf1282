"""Recordings played back: `sockbench replay` (a transcript as a mock server, or as a client
against a live server) and `sockbench diff` (two recordings compared)."""
