/* chat-uv.c - the benchmark's libuv chat server: every complete line a
 * client sends goes, unchanged, to every other client.  The complete lines
 * of one read are relayed with one uv_try_write per receiver; what a socket
 * refuses goes to uv_write from one reference-counted copy shared by all
 * the receivers that need it.  Exits 0 on SIGTERM/SIGINT. */
#include "peer.h"

#include <uv.h>

#define MAX_PARTIAL (1 << 20)   /* a "line" longer than this is cut off */

struct client {
	uv_tcp_t tcp;               /* first: the handle is the client */
	struct client *prev, *next; /* every client, oldest first */
	char *in;                   /* a partial line */
	size_t in_len, in_cap;
	int closing;
};

struct msg {
	int refs;
	size_t len;
	char data[];
};

struct pending {
	uv_write_t req;
	struct msg *msg;
};

static uv_loop_t *loop;
static struct client all = { .prev = &all, .next = &all };

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char block[65536];

	(void)h;
	(void)suggested;
	*buf = uv_buf_init(block, sizeof(block));
}

static void on_closed(uv_handle_t *h)
{
	struct client *c = (struct client *)h;

	free(c->in);
	free(c);
}

static void drop(struct client *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	c->prev->next = c->next;
	c->next->prev = c->prev;
	uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void msg_unref(struct msg *m)
{
	if (m && --m->refs == 0)
		free(m);
}

static void on_written(uv_write_t *req, int status)
{
	struct pending *p = (struct pending *)req;

	(void)status;
	msg_unref(p->msg);
	free(p);
}

static void relay(struct client *from, const char *data, size_t len)
{
	struct client *c, *next;
	struct msg *m = NULL;
	struct pending *p;
	uv_buf_t b;
	int n;

	for (c = all.next; c != &all; c = next) {
		next = c->next;
		if (c == from)
			continue;
		b = uv_buf_init((char *)data, (unsigned)len);
		n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
		if (n == (int)len)
			continue;
		if (n < 0 && n != UV_EAGAIN) {
			drop(c);
			continue;
		}
		if (n < 0)
			n = 0;
		if (!m) {
			m = malloc(sizeof(*m) + len);
			if (!m)
				peer_die("malloc");
			m->refs = 1;
			m->len = len;
			memcpy(m->data, data, len);
		}
		p = malloc(sizeof(*p));
		if (!p)
			peer_die("malloc");
		p->msg = m;
		m->refs++;
		b = uv_buf_init(m->data + n, (unsigned)(len - (size_t)n));
		if (uv_write(&p->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
			msg_unref(m);
			free(p);
			drop(c);
		}
	}
	msg_unref(m);
}

static void keep(struct client *c, const char *data, size_t len)
{
	if (c->in_len + len > c->in_cap) {
		while (c->in_len + len > c->in_cap)
			c->in_cap = c->in_cap ? c->in_cap * 2 : 4096;
		c->in = realloc(c->in, c->in_cap);
		if (!c->in)
			peer_die("realloc");
	}
	memcpy(c->in + c->in_len, data, len);
	c->in_len += len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct client *c = (struct client *)s;
	const char *data = buf->base, *last;
	size_t len = (size_t)nread, whole;

	if (nread < 0) {
		drop(c);
		return;
	}
	if (nread == 0)
		return;
	last = memrchr(data, '\n', len);
	if (!last) {
		keep(c, data, len);
		if (c->in_len > MAX_PARTIAL)
			drop(c);
		return;
	}
	whole = (size_t)(last - data) + 1;
	if (c->in_len > 0) {
		keep(c, data, whole);
		relay(c, c->in, c->in_len);
		c->in_len = 0;
	} else {
		relay(c, data, whole);
	}
	if (whole < len)
		keep(c, data + whole, len - whole);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct client *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		peer_die("calloc");
	uv_tcp_init(loop, &c->tcp);
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
		uv_close((uv_handle_t *)&c->tcp, on_closed);
		return;
	}
	c->prev = all.prev;
	c->next = &all;
	all.prev->next = c;
	all.prev = c;
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_signal(uv_signal_t *h, int sig)
{
	(void)h;
	(void)sig;
	exit(0);
}

int main(int argc, char **argv)
{
	unsigned port = peer_port(argc, argv);
	struct sockaddr_in sa;
	uv_signal_t term, intr;
	uv_tcp_t server;
	int rc;

	loop = uv_default_loop();
	uv_tcp_init(loop, &server);
	uv_ip4_addr("127.0.0.1", (int)port, &sa);
	rc = uv_tcp_bind(&server, (const struct sockaddr *)&sa, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&server, SOMAXCONN, on_connection);
	if (rc < 0) {
		fprintf(stderr, "chat-uv: %s\n", uv_strerror(rc));
		return 1;
	}
	if (port == 0) {
		int len = sizeof(sa);
		uv_tcp_getsockname(&server, (struct sockaddr *)&sa, &len);
		port = ntohs(sa.sin_port);
	}
	uv_signal_init(loop, &term);
	uv_signal_start(&term, on_signal, SIGTERM);
	uv_signal_init(loop, &intr);
	uv_signal_start(&intr, on_signal, SIGINT);
	peer_ready(port);
	return uv_run(loop, UV_RUN_DEFAULT);
}
