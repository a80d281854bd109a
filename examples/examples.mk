# examples.mk - the example programs; included by the top-level Makefile.am
# (non-recursive: paths are relative to the top of the tree).

bin_PROGRAMS += \
	examples/tcpchat-echo-server \
	examples/tcpchat-echo-client \
	examples/tcpchat-time-server \
	examples/tcpchat-time-client \
	examples/tcpchat-chat-server \
	examples/tcpchat-chat-client \
	examples/tcpchat-talk

examples_tcpchat_echo_server_SOURCES = examples/echo-server.c examples/common.c \
	examples/common.h
examples_tcpchat_echo_server_LDADD = lib/libtcpchat.la

examples_tcpchat_echo_client_SOURCES = examples/echo-client.c examples/common.c \
	examples/common.h
# The echo client sends from a second thread while it reads the echo.
examples_tcpchat_echo_client_LDADD = lib/libtcpchat.la $(PTHREAD_LIBS)

examples_tcpchat_time_server_SOURCES = examples/time-server.c examples/common.c \
	examples/common.h
examples_tcpchat_time_server_LDADD = lib/libtcpchat.la

examples_tcpchat_time_client_SOURCES = examples/time-client.c examples/common.c \
	examples/common.h
examples_tcpchat_time_client_LDADD = lib/libtcpchat.la

examples_tcpchat_chat_server_SOURCES = examples/chat-server.c examples/common.c \
	examples/common.h
examples_tcpchat_chat_server_LDADD = lib/libtcpchat.la

# The two interactive programs type and print at once: relay.c runs a
# second thread for stdin.
examples_tcpchat_chat_client_SOURCES = examples/chat-client.c examples/relay.c \
	examples/relay.h examples/common.c examples/common.h
examples_tcpchat_chat_client_LDADD = lib/libtcpchat.la $(PTHREAD_LIBS)

examples_tcpchat_talk_SOURCES = examples/talk.c examples/relay.c \
	examples/relay.h examples/common.c examples/common.h
examples_tcpchat_talk_LDADD = lib/libtcpchat.la $(PTHREAD_LIBS)
