/* internal.h - what every file of the library shares; never installed.
 *
 * Internal functions that cross files are named tcpchat__<module>_<verb>
 * (two underscores) and are hidden from the shared library's symbol table
 * by -fvisibility=hidden; only TCPCHAT_EXPORT functions are exported. */
#ifndef TCPCHAT_INTERNAL_H
#define TCPCHAT_INTERNAL_H

#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpchat.h"

#define TCPCHAT__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The struct of type `type` whose member `member` is at `ptr`. */
#define TCPCHAT__CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Room for "[" IPv6 "]:" port and a NUL: 1 + 45 + 2 + 5 + 1. */
#define TCPCHAT__ADDRSTRLEN 56

/* Read at most this much per read(2): the size of a loop's shared read
 * buffer and of a client's line buffer chunk. */
#define TCPCHAT__READ_SIZE 65536

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t tcpchat__now_ms(void);

#endif /* TCPCHAT_INTERNAL_H */
