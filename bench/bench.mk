# bench/bench.mk - the benchmark suite (bench/README.md); included by the
# top-level Makefile.am (non-recursive: paths are relative to the top).
#
# `make bench` builds the library and programs first, then runs
# bench/run.sh: it installs what it needs, builds the load generator and the
# baseline servers into bench/build/, and writes bench/results.md and
# bench/results.svg.  It takes about seven minutes on two cores and is never
# part of `make check`.

EXTRA_DIST += \
	bench/README.md \
	bench/bench.mk \
	bench/run.sh \
	bench/tcpchat-bench.c \
	bench/peers/peer.h \
	bench/peers/echo-epoll.c \
	bench/peers/chat-epoll.c \
	bench/peers/echo-uv.c \
	bench/peers/chat-uv.c \
	bench/peers/echo-event.c \
	bench/peers/chat-tcpchat-plain.c

bench: all
	CC='$(CC)' $(SHELL) $(srcdir)/bench/run.sh '$(abs_top_builddir)' '$(abs_top_srcdir)'

bench-clean:
	rm -rf bench/build

.PHONY: bench bench-clean
