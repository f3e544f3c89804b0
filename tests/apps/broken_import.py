"""Fails at import: the server must print the traceback and exit non-zero."""
raise RuntimeError("boom at import time (expected by test_startup)")
