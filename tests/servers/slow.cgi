# slow.cgi: lighttpd's /slow (mod_cgi runs it with /bin/sh): an answer
# that takes 0.3 s, as app.py's /slow does under gunicorn.
sleep 0.3
printf 'Content-Type: text/plain\r\n\r\nok\n'
