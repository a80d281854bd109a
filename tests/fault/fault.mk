# tests/fault/fault.mk - the end-to-end suites once more, with a fault
# injector preloaded into the programs under test (short reads and writes,
# EINTR, EAGAIN on non-blocking sockets; see tests/fault/shim.c).
# Included by the top-level Makefile.am; paths are relative to the top.
#
# The shim is a check-only libtool module: a shared object that is never
# installed (-rpath only makes libtool build it shared).  dlsym is in libc
# since glibc 2.34; FAULT_DL_LIBS = -ldl for an older C library.

if ENABLE_TESTS
FAULT_DL_LIBS =
check_LTLIBRARIES = tests/fault/libtcpchat-fault.la
tests_fault_libtcpchat_fault_la_SOURCES = tests/fault/shim.c
tests_fault_libtcpchat_fault_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere
tests_fault_libtcpchat_fault_la_LIBADD = $(FAULT_DL_LIBS)

TESTS += tests/fault/test_fault.sh
endif
EXTRA_DIST += tests/fault/test_fault.sh tests/fault/run_suite.py
