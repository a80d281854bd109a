# examples.mk - the example programs; included by the top-level Makefile.am
# (non-recursive: paths are relative to the top of the tree).

bin_PROGRAMS += \
	examples/tcpchat-echo-server \
	examples/tcpchat-echo-client \
	examples/tcpchat-time-server \
	examples/tcpchat-time-client

examples_tcpchat_echo_server_SOURCES = examples/echo-server.c examples/common.c \
	examples/common.h
examples_tcpchat_echo_server_LDADD = lib/libtcpchat.la

examples_tcpchat_echo_client_SOURCES = examples/echo-client.c examples/common.c \
	examples/common.h
examples_tcpchat_echo_client_LDADD = lib/libtcpchat.la

examples_tcpchat_time_server_SOURCES = examples/time-server.c examples/common.c \
	examples/common.h
examples_tcpchat_time_server_LDADD = lib/libtcpchat.la

examples_tcpchat_time_client_SOURCES = examples/time-client.c examples/common.c \
	examples/common.h
examples_tcpchat_time_client_LDADD = lib/libtcpchat.la
