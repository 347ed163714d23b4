"""`target-intercom-smoke`: checks the Intercom rules this project could only read about,
against a real workspace a token holder names, and runs the target there on a small load.

A command run on purpose, never in CI: it writes to a live workspace, so it refuses any
workspace but the one it is told, records everything it makes before its next call, and
cleans it up (README: Smoke test against a real workspace).
"""
