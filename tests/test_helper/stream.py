#!/usr/bin/env python3
# stream.py: a bounded stream of HTTP requests to a loopback server.
#
#   stream.py [OPTIONS] HOST PORT COUNT INTERVAL_MS [PIDFILE EVERY]
#
# Sends COUNT requests for "/", INTERVAL_MS apart, each on a new
# connection with a 5 s timeout, and prints "ok N refused N failed N".
# With PIDFILE and EVERY, it sends SIGKILL to the pid in PIDFILE before
# every EVERY-th request (the server's current run), and prints
# "killed N" too.  Only loopback addresses are accepted.
#
# Options, for streams that run beside something else (two streams at
# once, reloads, restarts):
#   --path PATH      request PATH instead of "/"
#   --until FILE     stop before the next request once FILE exists
#                    (COUNT still bounds the stream)
#   --seconds S      stop after S seconds (default 120)
#   --started FILE   create FILE once the first request has an answer
#   --errors FILE    one line per request lost: the seconds since the
#                    start, "refused" or "failed", and why
#   --latency        add "p50_ms N p99_ms N max_ms N" to the line
import http.client
import os
import signal
import socket
import sys
import time

opts = {"--path": "/", "--until": None, "--seconds": "120",
        "--started": None, "--errors": None}
latency = False
args = sys.argv[1:]
while args and args[0].startswith("--"):
    name = args.pop(0)
    if name == "--latency":
        latency = True
    elif name in opts and args:
        opts[name] = args.pop(0)
    else:
        sys.exit("stream.py: unknown option or missing value: " + name)
if len(args) not in (4, 6):
    sys.exit("usage: stream.py [options] HOST PORT COUNT INTERVAL_MS [PIDFILE EVERY]")
host, port, count, interval = args[0], int(args[1]), int(args[2]), int(args[3])
pidfile, every = (args[4], int(args[5])) if len(args) == 6 else (None, 0)
path, until, started = opts["--path"], opts["--until"], opts["--started"]
if not (host.startswith("127.") or host == "::1"):
    sys.exit("stream.py: loopback only")
errors = open(opts["--errors"], "a", buffering=1) if opts["--errors"] else None
ok = refused = failed = killed = 0
times = []
start = time.monotonic()
deadline = start + float(opts["--seconds"])


def lost(kind, why):
    if errors:
        errors.write("%.3f %s %s\n" % (time.monotonic() - start, kind, why))


for i in range(count):
    if time.monotonic() > deadline:
        break
    if until and os.path.exists(until):
        break
    if every and i > 0 and i % every == 0:
        try:
            os.kill(int(open(pidfile).read()), signal.SIGKILL)
            killed += 1
        except (OSError, ValueError):
            pass
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection(host, port, timeout=5)
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        c.close()
        if r.status == 200:
            ok += 1
        else:
            failed += 1
            lost("failed", "status %d" % r.status)
    except ConnectionRefusedError as e:
        refused += 1
        lost("refused", repr(e))
    except (OSError, http.client.HTTPException) as e:
        failed += 1
        lost("failed", repr(e))
    times.append(time.monotonic() - t0)
    if started and i == 0:
        open(started, "w").close()
    time.sleep(interval / 1000)
line = "ok %d refused %d failed %d killed %d" % (ok, refused, failed, killed)
if latency:
    times.sort()
    n = len(times)
    if n:
        line += " p50_ms %.1f p99_ms %.1f max_ms %.1f" % (
            1000 * times[(n - 1) // 2], 1000 * times[min(n - 1, (99 * n) // 100)],
            1000 * times[-1])
    else:
        line += " p50_ms - p99_ms - max_ms -"
print(line)
