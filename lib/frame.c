/* frame.c - line framing with a maximum length. */
#include "internal.h"

#include <string.h>

#include "frame.h"

void tcpchat__framer_init(struct tcpchat__framer *f, size_t max)
{
	f->max = max;
	f->discarding = false;
}

enum tcpchat__frame_result tcpchat__frame_next(struct tcpchat__framer *f,
                                               const char *data, size_t len,
                                               size_t *consumed, const char **line,
                                               size_t *linelen)
{
	const char *nl;
	size_t window, skipped = 0, n;
	bool bounded = f->max <= SIZE_MAX - 2;

	*line = data;
	*linelen = 0;
	*consumed = 0;
	if (len == 0)
		return TCPCHAT__FRAME_NEED;
	if (f->discarding) {
		nl = memchr(data, '\n', len);
		if (!nl) {
			*consumed = len;
			return TCPCHAT__FRAME_NEED;
		}
		f->discarding = false;
		skipped = (size_t)(nl - data) + 1;
		data += skipped;
		len -= skipped;
	}

	/* A line of max bytes needs at most max + 2 bytes with its "\r\n":
	 * a "\n" not within that window means the line is too long. */
	window = bounded && f->max + 2 < len ? f->max + 2 : len;
	nl = memchr(data, '\n', window);
	if (nl) {
		n = (size_t)(nl - data);
		*consumed = skipped + n + 1;
		if (n > 0 && data[n - 1] == '\r')
			n--;
		if (n > f->max)
			return TCPCHAT__FRAME_TOOLONG;
		*line = data;
		*linelen = n;
		return TCPCHAT__FRAME_LINE;
	}
	if (bounded && len >= f->max + 2) {
		/* Too long: drop it up to its "\n" if that has arrived, else
		 * drop everything and go on dropping until it comes. */
		nl = memchr(data + window, '\n', len - window);
		if (nl) {
			*consumed = skipped + (size_t)(nl - data) + 1;
			return TCPCHAT__FRAME_TOOLONG;
		}
		f->discarding = true;
		*consumed = skipped + len;
		return TCPCHAT__FRAME_TOOLONG;
	}
	*consumed = skipped;
	return TCPCHAT__FRAME_NEED;
}
