/* pause.c: a bare process that only waits, the memory floor for bench/supervise. */

#include <unistd.h>

int
main(void)
{
	for (;;)
		(void)pause();
}
