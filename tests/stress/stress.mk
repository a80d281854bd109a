# tests/stress/stress.mk - `make stress`: a bounded soak of the real chat
# server (tests/stress/soak.py); not part of `make check`.  Included by the
# top-level Makefile.am (paths relative to the top of the tree).
#
#   make stress                      60 s
#   make stress STRESS_SECONDS=600   longer
#   make stress STRESS_ARGS='--normal 10 --slow 4'
#
# Loopback only; every wait is bounded; exits non-zero on any failed check.
# Then tests/stress/memprobe.py checks that slow members sent tiny lines
# cost no more memory than their queue limits (each queued message is
# charged its bookkeeping too).

STRESS_SECONDS = 60
STRESS_ARGS =
EXTRA_DIST += tests/stress/soak.py tests/stress/memprobe.py

stress: examples/tcpchat-chat-server
	@py='$(PYTHON3)'; $${py:-python3} $(top_srcdir)/tests/stress/soak.py \
		--seconds $(STRESS_SECONDS) --bindir '$(abs_top_builddir)/examples' $(STRESS_ARGS) && \
	$${py:-python3} $(top_srcdir)/tests/stress/memprobe.py '$(abs_top_builddir)/examples'

.PHONY: stress
