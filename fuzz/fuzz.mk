# fuzz/fuzz.mk - fuzzing the line framer and the chat room; included by the
# top-level Makefile.am (paths relative to the top of the tree).
#
# Two harnesses (fuzz/fuzz_frame.c, fuzz/fuzz_room.c), each built two ways:
#
#  - `make check` builds them with the ordinary compiler and no libFuzzer,
#    linked to fuzz/replay.c, a main() that feeds every file of
#    fuzz/corpus/NAME/ and fuzz/regressions/NAME/ through the harness once:
#    the seed corpus and every crash ever found are replayed by every test
#    run (under ASan/UBSan too when the build is sanitized).
#
#  - `make fuzz` builds them with clang and libFuzzer, AddressSanitizer and
#    UndefinedBehaviorSanitizer, straight from the library's sources, and
#    runs each for FUZZ_SECONDS (default 60; `make -j2 fuzz` runs both at
#    once).  New inputs go to fuzz/work/NAME/ in the build tree; a crash is
#    copied to fuzz/regressions/NAME/ in the source tree, where `make check`
#    replays it from then on: fix the bug, then commit the file.
#    Needs clang and its runtime (Debian: apt-get install clang
#    libclang-rt-14-dev); FUZZ_CC picks another clang.
#
# `make fuzz-clean` removes the binaries, the work corpora and artifacts.

FUZZ_NAMES = frame room
EXTRA_DIST += fuzz/corpus fuzz/regressions fuzz/make_seeds.py fuzz/run_fuzzer.sh

# ---------------------------------------------------------------- replay
if ENABLE_TESTS
FUZZ_REPLAYS = fuzz/replay_frame fuzz/replay_room
check_PROGRAMS += $(FUZZ_REPLAYS)
TESTS += $(FUZZ_REPLAYS)

fuzz_replay_frame_SOURCES = fuzz/fuzz_frame.c fuzz/replay.c
fuzz_replay_frame_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"frame"'
fuzz_replay_frame_LDADD = lib/libtcpchat_core.la

# The room harness includes examples/chat-server.c, which needs common.c.
fuzz_replay_room_SOURCES = fuzz/fuzz_room.c fuzz/replay.c \
	examples/common.c examples/common.h
fuzz_replay_room_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"room"'
fuzz_replay_room_LDADD = lib/libtcpchat_core.la
endif

# ---------------------------------------------------------------- libFuzzer
FUZZ_CC = clang
FUZZ_SECONDS = 60
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
# Extra libFuzzer options, e.g. FUZZ_OPTS='-jobs=2 -workers=2'.
FUZZ_OPTS =
FUZZ_CPPFLAGS = -I$(top_builddir) -I$(top_srcdir)/include -I$(top_srcdir)/lib
FUZZ_LIB = $(top_srcdir)/lib/buf.c $(top_srcdir)/lib/queue.c \
	$(top_srcdir)/lib/frame.c $(top_srcdir)/lib/sock.c $(top_srcdir)/lib/loop.c \
	$(top_srcdir)/lib/timer.c $(top_srcdir)/lib/server.c $(top_srcdir)/lib/conn.c \
	$(top_srcdir)/lib/client.c $(top_srcdir)/lib/error.c
if BACKEND_EPOLL
FUZZ_LIB += $(top_srcdir)/lib/loop_epoll.c
else
FUZZ_LIB += $(top_srcdir)/lib/loop_poll.c
endif
FUZZ_LIB_DEPS = $(FUZZ_LIB) $(top_srcdir)/include/tcpchat.h \
	$(top_srcdir)/lib/internal.h $(top_srcdir)/lib/list.h $(top_srcdir)/lib/buf.h \
	$(top_srcdir)/lib/queue.h $(top_srcdir)/lib/frame.h $(top_srcdir)/lib/sock.h \
	$(top_srcdir)/lib/loop.h $(top_srcdir)/lib/server.h config.h
FUZZ_ROOM_EXTRA = $(top_srcdir)/examples/common.c
FUZZ_ROOM_DEPS = $(top_srcdir)/examples/chat-server.c $(top_srcdir)/examples/common.c \
	$(top_srcdir)/examples/common.h

fuzz/libfuzzer-frame: $(top_srcdir)/fuzz/fuzz_frame.c $(FUZZ_LIB_DEPS)
	@$(MKDIR_P) fuzz
	$(AM_V_CCLD)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_CPPFLAGS) -o $@ \
		$(top_srcdir)/fuzz/fuzz_frame.c $(FUZZ_LIB) -lpthread

fuzz/libfuzzer-room: $(top_srcdir)/fuzz/fuzz_room.c $(FUZZ_LIB_DEPS) $(FUZZ_ROOM_DEPS)
	@$(MKDIR_P) fuzz
	$(AM_V_CCLD)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_CPPFLAGS) -o $@ \
		$(top_srcdir)/fuzz/fuzz_room.c $(FUZZ_ROOM_EXTRA) $(FUZZ_LIB) -lpthread

# One target per harness, so that `make -j2 fuzz` runs them side by side.
FUZZ_RUN = $(SHELL) $(top_srcdir)/fuzz/run_fuzzer.sh
fuzz-frame: fuzz/libfuzzer-frame
	@$(FUZZ_RUN) frame $(FUZZ_SECONDS) $(top_srcdir) $(FUZZ_OPTS)
fuzz-room: fuzz/libfuzzer-room
	@$(FUZZ_RUN) room $(FUZZ_SECONDS) $(top_srcdir) $(FUZZ_OPTS)

fuzz: fuzz-frame fuzz-room

fuzz-clean:
	rm -rf fuzz/libfuzzer-frame fuzz/libfuzzer-room fuzz/work fuzz/artifacts \
		fuzz/fuzz-frame.log fuzz/fuzz-room.log

.PHONY: fuzz fuzz-frame fuzz-room fuzz-clean
CLEANFILES += fuzz/libfuzzer-frame fuzz/libfuzzer-room
