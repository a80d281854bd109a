/* frame.h - line framing with a maximum length.
 *
 * A line is the bytes before a "\n", minus one "\r" just before it; any
 * other byte (NUL, invalid UTF-8) is part of the line.  A line longer than
 * max bytes is reported once as too long and then skipped up to and
 * including its "\n", however much more arrives, so whoever buffers the
 * input never needs to hold more than max + 2 bytes of one line. */
#ifndef TCPCHAT_FRAME_H
#define TCPCHAT_FRAME_H

#include <stdbool.h>
#include <stddef.h>

struct tcpchat__framer {
	size_t max;      /* longest line accepted, in bytes */
	bool discarding; /* skipping the rest of a too-long line */
};

enum tcpchat__frame_result {
	TCPCHAT__FRAME_NEED,    /* no complete line yet: buffer more input */
	TCPCHAT__FRAME_LINE,    /* a line of *linelen bytes is at *line */
	TCPCHAT__FRAME_TOOLONG  /* a line over max bytes was dropped */
};

void tcpchat__framer_init(struct tcpchat__framer *f, size_t max);

/* Look for the next line in data[0, len).  *consumed is set to the number
 * of bytes the caller must drop from the front of its input once done with
 * the result: for FRAME_LINE the line, its terminator and whatever was
 * skipped before it (so *line may lie past data); for FRAME_TOOLONG and
 * FRAME_NEED whatever was skipped.  After FRAME_NEED the caller keeps the
 * remaining bytes and calls again with more; it then never holds more than
 * max + 2 bytes.  Call again after FRAME_LINE or FRAME_TOOLONG: more lines
 * may follow in the same input. */
enum tcpchat__frame_result tcpchat__frame_next(struct tcpchat__framer *f,
                                               const char *data, size_t len,
                                               size_t *consumed, const char **line,
                                               size_t *linelen);

#endif /* TCPCHAT_FRAME_H */
