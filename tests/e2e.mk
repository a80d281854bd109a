# e2e.mk - end-to-end tests of the example programs; included by the
# top-level Makefile.am.  They run under automake's parallel harness with
# PY_LOG_COMPILER = python3 and find the programs through TCPCHAT_BINDIR.

TESTS += tests/test_echo.py tests/test_time.py tests/test_chat.py tests/test_talk.py
EXTRA_DIST += tests/tcpchat_test.py tests/test_echo.py tests/test_time.py \
	tests/test_chat.py tests/test_talk.py
