# app.py: the smallest WSGI application, for gunicorn in the tests.
import time


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/slow":
        time.sleep(0.3)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]
