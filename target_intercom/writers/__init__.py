"""Intercom operations: what one mapped record becomes as calls through the client."""
