/* echo-event.c - the benchmark's libevent echo server, in libevent's usual
 * style: an evconnlistener, a bufferevent per connection, and the input
 * buffer moved to the output buffer in the read callback.  Exits 0 on
 * SIGTERM/SIGINT. */
#include "peer.h"

#include <signal.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

static void on_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev));
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_free(bev);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *sa, int len, void *arg)
{
	struct event_base *base = arg;
	struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);

	(void)l;
	(void)sa;
	(void)len;
	if (!bev) {
		close(fd);
		return;
	}
	bufferevent_setcb(bev, on_read, NULL, on_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
	unsigned port = peer_port(argc, argv);
	int fd = peer_listen(&port);
	struct event_base *base = event_base_new();
	struct evconnlistener *l;
	struct event *term, *intr;

	if (!base)
		peer_die("event_base_new");
	/* backlog -1: the socket is listening already (SOMAXCONN). */
	l = evconnlistener_new(base, on_accept, base, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	term = evsignal_new(base, SIGTERM, on_signal, base);
	intr = evsignal_new(base, SIGINT, on_signal, base);
	if (!l || !term || !intr)
		peer_die("libevent setup");
	event_add(term, NULL);
	event_add(intr, NULL);
	peer_ready(port);
	event_base_dispatch(base);
	return 0;
}
