/* relay.h - an interactive session over one connection, for the chat
 * client and the two-person chat: lines typed on stdin go to the peer and
 * lines from the peer go to stdout, at the same time.  Public API only.
 */
#ifndef EXAMPLES_RELAY_H
#define EXAMPLES_RELAY_H

#include <stdbool.h>

#include <tcpchat.h>

/* Relay until the session ends, and return the exit status:
 *  - a "bye" line typed, or the end of stdin (which sends "bye"): wait for
 *    the peer to close, then 0;
 *  - a "bye" line from the peer, when peer_bye_ends: 0 at once;
 *  - SIGINT or SIGTERM: 0;
 *  - the peer closing first: a line on stderr, 1.
 * stdin is read by a second thread that only sends, while this one only
 * receives, so neither waits for the other. */
int relay(struct tcpchat_client *c, bool peer_bye_ends);

/* Install SIGINT and SIGTERM handlers that end relay() and
 * relay_interrupted(); call before blocking. */
void relay_catch_signals(void);

/* True once SIGINT or SIGTERM arrived. */
bool relay_interrupted(void);

#endif /* EXAMPLES_RELAY_H */
