/* drain.c: the least any pipe reader can do to move a pipe into a file, the throughput floor for bench/supervise. */

#define _GNU_SOURCE

#include <err.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK	(1024 * 1024)

static char	buf[CHUNK];

/*
 * usage: drain splice|copy FILE < pipe
 *
 * Appends standard input, a pipe, to FILE until end of file, and does
 * nothing else: no poll, no signals, no second stream.  "splice" moves
 * pages with splice(2), which needs FILE opened without O_APPEND;
 * "copy" reads and writes through a 1 MiB buffer, as the supervisor does.
 * Both grow the pipe to 1 MiB, as the supervisor does.
 */
int
main(int argc, char *argv[])
{
	bool copy;
	ssize_t n, w, off;
	int fd;

	if (argc != 3 || (strcmp(argv[1], "splice") != 0 &&
	    strcmp(argv[1], "copy") != 0))
		errx(2, "usage: drain splice|copy file < pipe");
	copy = strcmp(argv[1], "copy") == 0;
	fd = open(argv[2], O_WRONLY | O_CREAT | (copy ? O_APPEND : 0), 0644);
	if (fd == -1 || lseek(fd, 0, SEEK_END) == -1)
		err(1, "%s", argv[2]);
	(void)fcntl(STDIN_FILENO, F_SETPIPE_SZ, CHUNK);
	for (;;) {
		if (!copy) {
			n = splice(STDIN_FILENO, NULL, fd, NULL, CHUNK, 0);
			if (n == -1)
				err(1, "splice");
			if (n == 0)
				return (0);
			continue;
		}
		if ((n = read(STDIN_FILENO, buf, sizeof(buf))) == -1)
			err(1, "read");
		if (n == 0)
			return (0);
		for (off = 0; off < n; off += w)
			if ((w = write(fd, buf + off, (size_t)(n - off))) == -1)
				err(1, "write");
	}
}
