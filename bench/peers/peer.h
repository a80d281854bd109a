/* peer.h - what the benchmark's baseline servers share: "-p PORT" (0 = any
 * free port), a listening socket on 127.0.0.1, the "listening on" line.
 * Header-only so that each peer is one cc command. */
#ifndef PEER_H
#define PEER_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static inline void peer_die(const char *what)
{
	fprintf(stderr, "peer: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The port from "-p PORT" (default 0). */
static inline unsigned peer_port(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "-p") == 0)
		return (unsigned)strtoul(argv[2], NULL, 10);
	if (argc != 1) {
		fprintf(stderr, "usage: %s [-p PORT]\n", argv[0]);
		exit(2);
	}
	return 0;
}

/* A non-blocking listening socket on 127.0.0.1:port (fills *port in). */
static inline int peer_listen(unsigned *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		peer_die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)*port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		peer_die("bind");
	if (listen(fd, SOMAXCONN) < 0)
		peer_die("listen");
	getsockname(fd, (struct sockaddr *)&sa, &len);
	*port = ntohs(sa.sin_port);
	return fd;
}

static inline void peer_ready(unsigned port)
{
	printf("listening on 127.0.0.1:%u\n", port);
	fflush(stdout);
}

#endif
