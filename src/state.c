/* state.c: --upgrade: the supervisor's state as versioned text with a checksum and an end marker, written whole and read whole or not at all. */

/*
 * The text, one "KEY VALUE" a line:
 *
 *	daemonize-state 1
 *	!sv 0 1234 ...
 *	generation 3
 *	end 8c1f0a2e5b7d4c33
 *
 * A key that starts with '!' must be understood: a reader that does not
 * know it refuses the whole state instead of half-applying it; other
 * keys it does not know it skips.  Values hold no control characters,
 * '%' or '\\': those bytes are written as %XX.  The end line carries the
 * FNV-1a hash of every byte before it, and nothing may follow it, so a
 * state cut short or damaged anywhere is refused.  The module knows
 * nothing of what the keys mean; it touches no descriptor.
 */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemonize.h"

#define HEADER		"daemonize-state 1\n"
#define KEY_MAX		64

static void	grow(struct state *, size_t);
static bool	plain(unsigned char);
static int	unescape(char *);
static bool	known_key(const char *, const char *const *);

/* FNV-1a, 64 bits: no cryptography, a check against damage. */
uint64_t
state_hash(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n-- > 0) {
		h ^= (unsigned char)*p++;
		h *= 0x100000001b3ULL;
	}
	return (h);
}

void
state_init(struct state *st)
{
	memset(st, 0, sizeof(*st));
	grow(st, sizeof(HEADER) - 1);
	if (!st->failed) {
		memcpy(st->buf, HEADER, sizeof(HEADER) - 1);
		st->len = sizeof(HEADER) - 1;
	}
}

static void
grow(struct state *st, size_t more)
{
	size_t size;
	char *p;

	if (st->failed || st->len + more + 1 <= st->size)
		return;
	size = st->size == 0 ? 4096 : st->size;
	while (size < st->len + more + 1)
		size *= 2;
	if (size > STATE_MAX || (p = realloc(st->buf, size)) == NULL) {
		st->failed = true;
		return;
	}
	st->buf = p;
	st->size = size;
}

static bool
plain(unsigned char c)
{
	return (c >= 0x20 && c != 0x7f && c != '%' && c != '\\');
}

/* "KEY VALUE\n", the value escaped where it must be. */
void
state_put(struct state *st, const char *key, const char *fmt, ...)
{
	char value[STATE_LINE_MAX];
	const unsigned char *p;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(value)) {
		st->failed = true;
		return;
	}
	grow(st, strlen(key) + 2 + 3 * (size_t)n);
	if (st->failed)
		return;
	st->len += (size_t)snprintf(st->buf + st->len, st->size - st->len,
	    "%s ", key);
	for (p = (const unsigned char *)value; *p != '\0'; p++) {
		if (plain(*p))
			st->buf[st->len++] = (char)*p;
		else
			st->len += (size_t)snprintf(st->buf + st->len,
			    st->size - st->len, "%%%02X", *p);
	}
	st->buf[st->len++] = '\n';
	st->buf[st->len] = '\0';
}

/* The end line: the state is complete.  -1 if it could not be made. */
int
state_seal(struct state *st)
{
	uint64_t h;

	if (st->failed)
		return (-1);
	h = state_hash(st->buf, st->len);
	grow(st, 32);
	if (st->failed)
		return (-1);
	st->len += (size_t)snprintf(st->buf + st->len, st->size - st->len,
	    "end %016llx\n", (unsigned long long)h);
	st->sum = h;
	return (0);
}

static int
unescape(char *s)
{
	char *w = s, hex[3] = { 0, 0, 0 };
	char *end;
	long v;

	for (; *s != '\0'; s++) {
		if (*s != '%') {
			*w++ = *s;
			continue;
		}
		if (s[1] == '\0' || s[2] == '\0')
			return (-1);
		hex[0] = s[1];
		hex[1] = s[2];
		if (strspn(hex, "0123456789ABCDEF") != 2)
			return (-1);
		v = strtol(hex, &end, 16);
		if (*end != '\0' || v == 0)
			return (-1);
		*w++ = (char)v;
		s += 2;
	}
	*w = '\0';
	return (0);
}

static bool
known_key(const char *key, const char *const *known)
{
	size_t len;

	for (; *known != NULL; known++) {
		len = strlen(*known);
		/* "name." in the list takes name.0, name.1 ... */
		if ((*known)[len - 1] == '.' ? strncmp(key, *known, len) == 0 &&
		    key[len] != '\0' : strcmp(key, *known) == 0)
			return (true);
	}
	return (false);
}

/*
 * Read a whole state: its header, its lines, its end line and hash.
 * known lists the keys this reader understands.  Returns 0, or -1 with
 * *why saying what is wrong; nothing of a refused state is kept.
 */
int
state_parse(struct state *st, const char *text, size_t len,
    const char *const *known, const char **why)
{
	char *copy, *line, *next, *sp, *key, *end;
	unsigned long long sum;
	size_t n, at;
	bool ended = false;

	memset(st, 0, sizeof(*st));
	*why = NULL;
	if (len > STATE_MAX || memchr(text, '\0', len) != NULL) {
		*why = "not a state: too long or binary";
		return (-1);
	}
	if (len < sizeof(HEADER) - 1 || memcmp(text, HEADER,
	    sizeof(HEADER) - 1) != 0) {
		*why = strncmp(text, "daemonize-state ", 16) == 0 ?
		    "a state of another version" : "not a state";
		return (-1);
	}
	if ((copy = malloc(len + 1)) == NULL) {
		*why = "out of memory";
		return (-1);
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	st->buf = copy;
	n = 0;
	for (line = copy + sizeof(HEADER) - 1; *line != '\0'; line = next) {
		if (ended) {
			*why = "text after its end";
			goto bad;
		}
		if ((next = strchr(line, '\n')) == NULL) {
			*why = "cut short";
			goto bad;
		}
		*next++ = '\0';
		if ((sp = strchr(line, ' ')) == NULL || sp == line ||
		    (size_t)(sp - line) > KEY_MAX) {
			*why = "a malformed line";
			goto bad;
		}
		*sp = '\0';
		key = line[0] == '!' ? line + 1 : line;
		if (strcmp(line, "end") == 0) {
			at = (size_t)(line - copy);
			errno = 0;
			sum = strtoull(sp + 1, &end, 16);
			if (strlen(sp + 1) != 16 || strspn(sp + 1,
			    "0123456789abcdef") != 16 || errno != 0 ||
			    *end != '\0' || sum != state_hash(text, at)) {
				*why = "its checksum does not match";
				goto bad;
			}
			st->sum = sum;
			ended = true;
			continue;
		}
		if (unescape(sp + 1) == -1) {
			*why = "a malformed value";
			goto bad;
		}
		if (!known_key(key, known)) {
			if (line[0] == '!') {
				*why = "a key this version does not know";
				goto bad;
			}
			continue;
		}
		if (n == STATE_KEYS_MAX) {
			*why = "too many keys";
			goto bad;
		}
		st->keys[n] = key;
		st->values[n] = sp + 1;
		n++;
	}
	if (!ended) {
		*why = "cut short";
		goto bad;
	}
	st->n = n;
	return (0);
bad:
	state_free(st);
	return (-1);
}

/* The value of key, or NULL. */
const char *
state_get(const struct state *st, const char *key)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		if (strcmp(st->keys[i], key) == 0)
			return (st->values[i]);
	return (NULL);
}

/*
 * The whitespace-separated numbers of key's value into v[0..n-1], each
 * within [min, max]: 0, or -1 if the key is missing or any is wrong.
 */
int
state_numbers(const struct state *st, const char *key, long long *v,
    size_t n, long long min, long long max)
{
	const char *p, *errstr;
	char word[32];
	size_t i, len;

	if ((p = state_get(st, key)) == NULL)
		return (-1);
	for (i = 0; i < n; i++) {
		p += strspn(p, " ");
		len = strcspn(p, " ");
		if (len == 0 || len >= sizeof(word))
			return (-1);
		memcpy(word, p, len);
		word[len] = '\0';
		p += len;
		if (word[0] == '-' && word[1] != '\0')
			v[i] = -value_number(word + 1, 0, max, &errstr);
		else
			v[i] = value_number(word, 0, max, &errstr);
		if (errstr != NULL || v[i] < min || v[i] > max)
			return (-1);
	}
	return (*p == '\0' ? 0 : -1);
}

void
state_free(struct state *st)
{
	free(st->buf);
	st->buf = NULL;
	st->len = st->size = st->n = 0;
}
