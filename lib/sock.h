/* sock.h - thin, careful wrappers around the BSD socket calls.
 *
 * Every descriptor made here is non-blocking and close-on-exec.  Every
 * function returns >= 0 or a negative error code; none of them raises
 * SIGPIPE or fails with EINTR. */
#ifndef TCPCHAT_SOCK_H
#define TCPCHAT_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

struct addrinfo;

/* Resolve host (NULL = the loopback address for a client, "127.0.0.1" for
 * a server) and port into a list to free with freeaddrinfo(); passive asks
 * for addresses to bind.  Returns 0 or TCPCHAT_EAI_* / -errno. */
int tcpchat__sock_resolve(const char *host, unsigned port, bool passive,
                          struct addrinfo **res);

/* Map a getaddrinfo() error to TCPCHAT_EAI_* (EAI_SYSTEM to -errno). */
int tcpchat__sock_eai_error(int eai);

/* A listening-ready socket bound to host:port (SO_REUSEADDR set; "::" dual
 * stack, other IPv6 addresses IPv6 only), in *fdp. */
int tcpchat__sock_bind(const char *host, unsigned port, int *fdp);

/* Accept one pending connection into *fdp and write the peer's address as
 * text into peer (TCPCHAT__ADDRSTRLEN bytes).  -EAGAIN when none is
 * pending. */
int tcpchat__sock_accept(int lfd, int *fdp, char *peer);

/* Connect to host:port, optionally from local_host:local_port, trying each
 * resolved address for at most timeout_ms; the connected socket in *fdp. */
int tcpchat__sock_connect(const char *host, unsigned port,
                          const char *local_host, unsigned local_port,
                          int timeout_ms, int *fdp);

/* Wait until fd is ready for events (POLLIN/POLLOUT), at most timeout_ms.
 * Returns 0 or -ETIMEDOUT. */
int tcpchat__sock_wait(int fd, short events, int timeout_ms);

/* "IP:PORT" or "[IPv6]:PORT" of sa into buf (TCPCHAT__ADDRSTRLEN bytes);
 * an IPv4-mapped IPv6 address is written as plain IPv4.  Returns the port,
 * or -EAFNOSUPPORT (buf is then ""). */
int tcpchat__sock_format(const struct sockaddr *sa, char *buf);

/* The local or remote address of fd as text, as above; returns the port. */
int tcpchat__sock_name(int fd, bool peer, char *buf);

/* send/sendmsg/recv without SIGPIPE or EINTR: bytes moved, -EAGAIN when
 * the socket is not ready, TCPCHAT_EOF (recv only), or -errno. */
ssize_t tcpchat__sock_send(int fd, const void *data, size_t len);
ssize_t tcpchat__sock_writev(int fd, const struct iovec *iov, int iovcnt);
ssize_t tcpchat__sock_recv(int fd, void *buf, size_t size);

/* Milliseconds left until deadline (a tcpchat__now_ms() value), or -1 for
 * "no limit" when deadline is UINT64_MAX. */
int tcpchat__sock_remaining(uint64_t deadline);

/* The deadline timeout_ms from now; UINT64_MAX when timeout_ms < 0. */
uint64_t tcpchat__sock_deadline(int timeout_ms);

#endif /* TCPCHAT_SOCK_H */
