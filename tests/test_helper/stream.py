#!/usr/bin/env python3
# stream.py: a bounded stream of HTTP requests to a loopback server.
#
#   stream.py HOST PORT COUNT INTERVAL_MS [PIDFILE EVERY]
#
# Sends COUNT requests for "/", INTERVAL_MS apart, each on a new
# connection with a 5 s timeout, and prints "ok N refused N failed N".
# With PIDFILE and EVERY, it sends SIGKILL to the pid in PIDFILE before
# every EVERY-th request (the server's current run), and prints
# "killed N" too.  Only loopback addresses are accepted.
import http.client
import os
import signal
import socket
import sys
import time

host, port, count, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
pidfile, every = (sys.argv[5], int(sys.argv[6])) if len(sys.argv) > 6 else (None, 0)
if not (host.startswith("127.") or host == "::1"):
    sys.exit("stream.py: loopback only")
ok = refused = failed = killed = 0
deadline = time.monotonic() + 120
for i in range(count):
    if time.monotonic() > deadline:
        break
    if every and i > 0 and i % every == 0:
        try:
            os.kill(int(open(pidfile).read()), signal.SIGKILL)
            killed += 1
        except (OSError, ValueError):
            pass
    try:
        c = http.client.HTTPConnection(host, port, timeout=5)
        c.request("GET", "/")
        r = c.getresponse()
        r.read()
        c.close()
        if r.status == 200:
            ok += 1
        else:
            failed += 1
    except ConnectionRefusedError:
        refused += 1
    except (OSError, http.client.HTTPException):
        failed += 1
    time.sleep(interval / 1000)
print("ok %d refused %d failed %d killed %d" % (ok, refused, failed, killed))
