# broken.py: a WSGI module that fails at import, the bad deploy of
# tests/reload-servers.bats.  gunicorn's master says READY=1 before its
# workers import the application; they fail, and the master exits 3
# ("Worker failed to boot") a moment later.
raise RuntimeError("a bad deploy: this module fails at import")
