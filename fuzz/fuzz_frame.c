/* fuzz_frame.c - a libFuzzer harness for the line framer (lib/frame.c).
 *
 * Input: byte 0 is the line limit (0..255); the rest is a list of
 * segments, each one length byte L followed by up to L bytes (the last one
 * may be cut short by the end of the input).  The concatenated segment
 * bytes are the stream.
 *
 * The stream goes through tcpchat__frame_next four ways, and the four
 * transcripts of events (a line and its bytes, or "too long") must be
 * identical:
 *   1. the model: split on "\n", drop one "\r" before it, a line over the
 *      limit is "too long"; a last, unterminated piece of limit + 2 bytes or
 *      more is "too long" too (the framer knows by then), a shorter one is
 *      no event;
 *   2. the whole stream in one piece;
 *   3. segment by segment, as the blocking client does: append each
 *      segment to what was kept, frame until NEED, drop what was consumed;
 *   4. segment by segment, as a caller that never holds more than limit + 2
 *      bytes: it takes in only as much of a segment as fits in limit + 2,
 *      so the framer must make progress within that window.
 * Every result is also checked against the contract in lib/frame.h
 * (consumed within the input, the line inside the consumed bytes, at most
 * limit bytes, what is kept after NEED at most limit + 1 bytes).  Any
 * difference aborts.
 *
 * Built three ways (fuzz/fuzz.mk): with libFuzzer (`make fuzz`), and as a
 * check program that replays fuzz/corpus/frame and fuzz/regressions/frame
 * through fuzz/replay.c.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...) \
	do { \
		fprintf(stderr, "fuzz_frame: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} while (0)

/* A transcript: 'L' + 4-byte length + bytes per line, 'T' per long line. */
struct rec {
	char *data;
	size_t len, cap;
};

static void rec_add(struct rec *r, const void *p, size_t n)
{
	if (r->len + n > r->cap) {
		while (r->len + n > r->cap)
			r->cap = r->cap ? r->cap * 2 : 256;
		r->data = realloc(r->data, r->cap);
		if (!r->data)
			FAIL("out of memory");
	}
	if (n)
		memcpy(r->data + r->len, p, n);
	r->len += n;
}

static void rec_line(struct rec *r, const char *line, size_t len)
{
	uint32_t l = (uint32_t)len;

	rec_add(r, "L", 1);
	rec_add(r, &l, sizeof(l));
	rec_add(r, line, len);
}

static void rec_long(struct rec *r)
{
	rec_add(r, "T", 1);
}

static bool same(const struct rec *a, const struct rec *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* 1. The model. */
static void model(struct rec *r, const char *in, size_t len, size_t max)
{
	const char *nl;
	size_t n;

	while (len > 0) {
		nl = memchr(in, '\n', len);
		if (!nl) {
			if (len >= max + 2)
				rec_long(r);
			return;
		}
		n = (size_t)(nl - in);
		len -= n + 1;
		if (n > 0 && in[n - 1] == '\r')
			n--;
		if (n > max)
			rec_long(r);
		else
			rec_line(r, in, n);
		in = nl + 1;
	}
}

/* One call with the contract checked; records LINE and TOOLONG. */
static enum tcpchat__frame_result frame(struct tcpchat__framer *f, struct rec *r,
                                        const char *buf, size_t len, size_t *consumed)
{
	enum tcpchat__frame_result res;
	const char *line;
	size_t linelen;

	res = tcpchat__frame_next(f, buf, len, consumed, &line, &linelen);
	if (*consumed > len)
		FAIL("consumed %zu of %zu bytes", *consumed, len);
	switch (res) {
	case TCPCHAT__FRAME_LINE:
		if (*consumed == 0)
			FAIL("a line consumed nothing");
		if (linelen > f->max)
			FAIL("a line of %zu bytes over the limit %zu", linelen, f->max);
		if (line < buf || line + linelen + 1 > buf + *consumed)
			FAIL("the line lies outside the consumed bytes");
		if (line[linelen] != '\n' && !(line[linelen] == '\r' && line[linelen + 1] == '\n'))
			FAIL("the line does not end at its end of line");
		rec_line(r, line, linelen);
		break;
	case TCPCHAT__FRAME_TOOLONG:
		if (*consumed == 0)
			FAIL("too long, but nothing consumed");
		rec_long(r);
		break;
	case TCPCHAT__FRAME_NEED:
		if (len > *consumed && !f->discarding && memchr(buf + *consumed, '\n', len - *consumed))
			FAIL("NEED with a complete line in the input");
		if (len - *consumed > f->max + 1)
			FAIL("NEED keeps %zu bytes, over limit + 1 = %zu", len - *consumed, f->max + 1);
		break;
	default:
		FAIL("unknown result %d", (int)res);
	}
	return res;
}

/* A buffer consumed from the front. */
struct pending {
	char *data;
	size_t len, cap;
};

static void pend_add(struct pending *p, const char *data, size_t n)
{
	if (n == 0)
		return;
	if (p->len + n > p->cap) {
		p->cap = (p->len + n) * 2;
		p->data = realloc(p->data, p->cap);
		if (!p->data)
			FAIL("out of memory");
	}
	memcpy(p->data + p->len, data, n);
	p->len += n;
}

static void pend_drop(struct pending *p, size_t n)
{
	if (n == 0)
		return;
	memmove(p->data, p->data + n, p->len - n);
	p->len -= n;
}

/* Frame everything in p until NEED. */
static void drain(struct tcpchat__framer *f, struct rec *r, struct pending *p)
{
	enum tcpchat__frame_result res;
	size_t consumed, guard = 0;

	do {
		res = frame(f, r, p->data, p->len, &consumed);
		pend_drop(p, consumed);
		if (++guard > 1000000)
			FAIL("no progress");
	} while (res != TCPCHAT__FRAME_NEED);
}

/* The segments of the input, as (offset, length) pairs into the stream. */
struct seg {
	size_t off, len;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rec want = { 0 }, whole = { 0 }, segmented = { 0 }, bounded = { 0 };
	struct pending p = { 0 };
	struct tcpchat__framer f;
	struct seg *segs;
	char *stream;
	size_t max, i, n, nsegs = 0, slen = 0, take, room;

	if (size < 1)
		return 0;
	max = data[0];
	stream = malloc(size);
	segs = malloc(size * sizeof(*segs));
	if (!stream || !segs)
		FAIL("out of memory");
	for (i = 1; i < size;) {
		n = data[i++];
		if (n > size - i)
			n = size - i;
		if (n == 0)
			continue;
		memcpy(stream + slen, data + i, n);
		segs[nsegs].off = slen;
		segs[nsegs].len = n;
		nsegs++;
		slen += n;
		i += n;
	}

	/* 1. */
	model(&want, stream, slen, max);

	/* 2. */
	tcpchat__framer_init(&f, max);
	pend_add(&p, stream, slen);
	drain(&f, &whole, &p);

	/* 3. */
	tcpchat__framer_init(&f, max);
	p.len = 0;
	for (i = 0; i < nsegs; i++) {
		pend_add(&p, stream + segs[i].off, segs[i].len);
		drain(&f, &segmented, &p);
	}

	/* 4. Never more than max + 2 bytes held. */
	tcpchat__framer_init(&f, max);
	p.len = 0;
	for (i = 0; i < nsegs; i++) {
		const char *s = stream + segs[i].off;
		size_t left = segs[i].len;

		while (left > 0) {
			room = max + 2 - p.len;
			if (room == 0)
				FAIL("the framer left %zu bytes held and asked for more", p.len);
			take = left < room ? left : room;
			pend_add(&p, s, take);
			s += take;
			left -= take;
			drain(&f, &bounded, &p);
		}
	}

	if (!same(&whole, &want))
		FAIL("one piece differs from the model (limit %zu, %zu bytes)", max, slen);
	if (!same(&segmented, &want))
		FAIL("segmented differs from the model (limit %zu, %zu segments)", max, nsegs);
	if (!same(&bounded, &want))
		FAIL("bounded caller differs from the model (limit %zu)", max);

	free(want.data);
	free(whole.data);
	free(segmented.data);
	free(bounded.data);
	free(p.data);
	free(stream);
	free(segs);
	return 0;
}
