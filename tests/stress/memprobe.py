#!/usr/bin/env python3
"""memprobe.py - does the chat server's memory stay within members x
--max-queue when every member is a slow reader and the lines are tiny?

    python3 tests/stress/memprobe.py [BINDIR [MEMBERS [TEXT_BYTES]]]

MEMBERS members (default 20) join with SO_RCVBUF 4096 and never read; one
member sends lines of TEXT_BYTES (default 1) until all of them are cut off
for the queue limit.  The server's peak RSS is compared with base +
(MEMBERS + 1) x (max-queue + max-line + 2 KiB), the bound tests/stress/soak.py
uses.  Exit 1 if it is over.  Run by `make stress`.  It guards the charge
of each queued message's bookkeeping (ring slot, message and allocator
headers) against the queue limit: counting payload bytes alone, tiny lines
took 20 such members to +11.9 MiB against 5 MiB of limits.  Loopback only,
bounded (a few seconds).
"""

import os
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
QUEUE = 262144
LINE = 1024


def main():
    bindir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, '..', '..', 'examples')
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    text = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    p = subprocess.Popen([os.path.join(bindir, 'tcpchat-chat-server'), '-p', '0',
                          '--max-queue', str(QUEUE), '--max-line', str(LINE)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        port = int(p.stdout.readline().split(b':')[-1])

        def rss():
            with open('/proc/%d/status' % p.pid) as f:
                for line in f:
                    if line.startswith('VmRSS:'):
                        return int(line.split()[1])
            return 0

        time.sleep(0.2)
        base = rss()
        peak = [base]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss())
                time.sleep(0.01)

        threading.Thread(target=sample, daemon=True).start()
        log = []

        def read_log():
            for l in iter(p.stderr.readline, b''):
                log.append(l)

        threading.Thread(target=read_log, daemon=True).start()
        slow = []
        for i in range(n):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(10)
            s.connect(('127.0.0.1', port))
            s.sendall(b's%d\n' % i)
            slow.append(s)
        talker = socket.create_connection(('127.0.0.1', port), timeout=10)
        talker.makefile('rb').readline()
        talker.sendall(b't\n')
        time.sleep(0.5)
        line = b'x' * text + b'\n'
        lines = 4 * QUEUE // (len(line) + 3)       # "t: " + text + "\n" each
        for _ in range(0, lines, 1000):
            talker.sendall(line * 1000)
        dl = time.monotonic() + 20                  # until every one is cut off
        while time.monotonic() < dl and \
                sum(b'Output queue limit exceeded' in l for l in log) < n:
            time.sleep(0.1)
        done.set()
    finally:
        p.terminate()
        p.wait(timeout=10)
    cut = sum(b'Output queue limit exceeded' in l for l in log)
    bound = base + (n + 1) * (QUEUE + LINE + 2048) // 1024
    # A member not cut off never had more than --max-queue bytes queued:
    # whatever the RSS grew by beyond that is per-message overhead.
    print('%d slow members, lines of %d byte(s): %d cut off for the queue limit (the others '
          'stayed under it; kernel buffers took the rest); RSS base %d KiB, peak %d KiB '
          '(+%d KiB; queue limits %d KiB); bound %d KiB: %s'
          % (n, text, cut, base, peak[0], peak[0] - base, n * QUEUE // 1024, bound,
             'OVER' if peak[0] > bound else 'within'))
    return 1 if peak[0] > bound else 0


if __name__ == '__main__':
    sys.exit(main())
