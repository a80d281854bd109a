/* echo-uv.c - the benchmark's libuv echo server, in libuv's usual style:
 * uv_listen, uv_read_start, and every read written back with uv_try_write,
 * the part the socket refuses copied and handed to uv_write.  The read
 * buffer is one static 64 KiB block (one thread: each read is consumed
 * before the next).  Exits 0 on SIGTERM/SIGINT. */
#include "peer.h"

#include <uv.h>

struct pending {
	uv_write_t req;
	char data[];
};

static uv_loop_t *loop;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char block[65536];

	(void)h;
	(void)suggested;
	*buf = uv_buf_init(block, sizeof(block));
}

static void on_closed(uv_handle_t *h)
{
	free(h);
}

static void on_written(uv_write_t *req, int status)
{
	(void)status;
	free(req); /* struct pending starts with its req */
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct pending *p;
	uv_buf_t b;
	int n;

	if (nread < 0) {
		uv_close((uv_handle_t *)s, on_closed);
		return;
	}
	if (nread == 0)
		return;
	b = uv_buf_init(buf->base, (unsigned)nread);
	n = uv_try_write(s, &b, 1);
	if (n == nread)
		return;
	if (n < 0 && n != UV_EAGAIN) {
		uv_close((uv_handle_t *)s, on_closed);
		return;
	}
	if (n < 0)
		n = 0;
	p = malloc(sizeof(*p) + (size_t)(nread - n));
	if (!p)
		peer_die("malloc");
	memcpy(p->data, buf->base + n, (size_t)(nread - n));
	b = uv_buf_init(p->data, (unsigned)(nread - n));
	if (uv_write(&p->req, s, &b, 1, on_written) < 0) {
		free(p);
		uv_close((uv_handle_t *)s, on_closed);
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	uv_tcp_t *c;

	if (status < 0)
		return;
	c = malloc(sizeof(*c));
	if (!c)
		peer_die("malloc");
	uv_tcp_init(loop, c);
	if (uv_accept(server, (uv_stream_t *)c) == 0)
		uv_read_start((uv_stream_t *)c, on_alloc, on_read);
	else
		uv_close((uv_handle_t *)c, on_closed);
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
		fprintf(stderr, "echo-uv: %s\n", uv_strerror(rc));
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
