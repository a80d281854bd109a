#!/usr/bin/env python3
"""soak.py - a bounded soak of the real tcpchat-chat-server on the loopback
interface (`make stress`; not part of `make check`).

A mixed population talks to one server for --seconds (STRESS_SECONDS,
default 60), with explicit limits (--max-queue 262144 --max-line 1024):

  normal chatters   join, send numbered lines of varied length as fast as a
                    window allows (so that they never fall behind by more
                    than the queue limit); each must receive every line of
                    every other normal chatter, in order, unchanged, and
                    never be cut off or get an ERR;
  slow readers      SO_RCVBUF 4096, never read: must be cut off with
                    "* NAME left (Output queue limit exceeded ...)", then
                    come back under a new name, again and again;
  garbage senders   random binary with occasional newlines (their "names"
                    are garbage too), reading what comes, reconnecting now
                    and then;
  churners          connect, join, say a line, leave by "bye", by EOF (a
                    half-close, then reading until the server closes) or by
                    a reset, in turn, again and again; every join must be
                    followed by one "left" notice;
  long-line senders lines over --max-line, some written in pieces: each
                    must get one "ERR " and stay; their short lines after
                    each long one must reach the normal chatters in order.

The server's RSS (/proc/PID/status) is sampled all along and must stay
under base + peak clients x (max-queue + max-line + 2 KiB), base measured
before the first client.  At the end the server must exit 0 on SIGTERM.
Printed: the scenarios covered, lines delivered, cut-offs by reason (from
the server's log), peak RSS against the bound.  Exit 0 if every check
passed, 1 otherwise.

Every wait has a deadline, every loop is bounded by the run time, all
traffic is on 127.0.0.1.

    python3 tests/stress/soak.py [--seconds S] [--bindir DIR] [--normal N] ...

TCPCHAT_WRAPPER (as for the end-to-end tests) prefixes the server's
command, e.g. to run it under the fault-injection shim.
"""

import argparse
import collections
import os
import random
import re
import shlex
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))

MAX_QUEUE = 262144
MAX_LINE = 1024
MAX_CLIENTS = 64
WINDOW = 64            # lines a normal chatter may be ahead of its slowest reader


class Soak:

    def __init__(self, args):
        self.args = args
        self.failures = []
        self.lock = threading.Lock()
        self.stop = threading.Event()        # the run time is over: stop starting things
        self.t_end = None
        self.open_socks = 0
        self.peak_socks = 0
        self.left = {}                       # name -> the "* NAME left..." line (first seen)
        self.joined_seen = set()
        self.stats = collections.Counter()
        self.normals = ['n%d' % i for i in range(args.normal)]
        self.longs = ['l%d' % i for i in range(args.long)]
        # received[j][i]: lines of normal i received by normal j
        self.received = [[0] * args.normal for _ in range(args.normal)]
        self.sent = [0] * args.normal
        self.long_sent_after = [0] * args.long
        self.long_after_seen = [[0] * args.long for _ in range(args.normal)]
        self.progress = threading.Condition(self.lock)
        lo, _, hi = args.payload.partition('-')
        self.payload_range = (int(lo), int(hi or lo))
        if not 1 <= self.payload_range[0] <= self.payload_range[1] <= MAX_LINE - 64:
            sys.exit('soak: --payload wants MIN-MAX within 1..%d' % (MAX_LINE - 64))

    # ------------------------------------------------------------ helpers

    def fail(self, msg):
        with self.lock:
            if len(self.failures) < 50:
                self.failures.append(msg)
        print('FAIL: ' + msg, flush=True)

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] += n

    def connect(self, rcvbuf=None, timeout=10):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        s.connect(('127.0.0.1', self.port))
        with self.lock:
            self.open_socks += 1
            self.peak_socks = max(self.peak_socks, self.open_socks)
        return s

    def close(self, s, reset=False):
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        s.close()
        with self.lock:
            self.open_socks -= 1

    def time_left(self):
        return self.t_end - time.monotonic()

    @staticmethod
    def read_line(f):
        """The next line without "\\n", or None at EOF/reset/timeout."""
        try:
            line = f.readline()
        except (OSError, ValueError):
            return None
        if not line.endswith(b'\n'):
            return None
        return line[:-1]

    def wait_left(self, name, timeout):
        dl = time.monotonic() + timeout
        with self.progress:
            while name not in self.left:
                t = dl - time.monotonic()
                if t <= 0:
                    return None
                self.progress.wait(min(t, 0.5))
            return self.left[name]

    def note_notice(self, line):
        m = re.match(rb'^\* (\S+) (joined|left)(.*)$', line)
        if not m:
            return
        name = m.group(1).decode('utf-8', 'replace')
        with self.progress:
            if m.group(2) == b'joined':
                self.joined_seen.add(name)
            elif name not in self.left:
                self.left[name] = line.decode('utf-8', 'replace')
                self.progress.notify_all()

    # ------------------------------------------------------------ server

    def start_server(self):
        path = os.path.join(self.args.bindir, 'tcpchat-chat-server')
        if not os.path.exists(path):
            sys.exit('soak: %s not built' % path)
        wrapper = shlex.split(os.environ.get('TCPCHAT_WRAPPER', ''))
        cmd = wrapper + [path, '-p', '0', '--max-queue', str(MAX_QUEUE),
                         '--max-line', str(MAX_LINE), '--max-clients', str(MAX_CLIENTS)]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.log = []
        line = self.proc.stdout.readline()
        m = re.match(rb'^listening on 127\.0\.0\.1:(\d+)\n$', line)
        if not m:
            self.proc.kill()
            sys.exit('soak: the server said %r' % line)
        self.port = int(m.group(1))
        threading.Thread(target=self.read_log, daemon=True).start()
        time.sleep(0.2)
        self.base_rss = self.rss()
        self.peak_rss = self.base_rss

    def read_log(self):
        for line in iter(self.proc.stderr.readline, b''):
            self.log.append(line.decode('utf-8', 'replace').rstrip('\n'))

    def rss(self):
        try:
            with open('/proc/%d/status' % self.proc.pid) as f:
                for line in f:
                    if line.startswith('VmRSS:'):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def sampler(self):
        while not self.done.is_set():
            r = self.rss()
            with self.lock:
                self.peak_rss = max(self.peak_rss, r)
            # An exit after done is set is the SIGTERM at the end, not a
            # failure: look at done again after the exit is seen.
            if self.proc.poll() is not None and not self.done.is_set():
                self.fail('the server exited with %s during the run' % self.proc.returncode)
                self.stop.set()
                return
            self.done.wait(0.05)

    # ------------------------------------------------------------ roles

    def join(self, s, f, name):
        """Read the greeting, send the name, wait for our own "joined"."""
        greeting = self.read_line(f)
        if greeting is None or not greeting.startswith(b'* '):
            raise OSError('no greeting: %r' % greeting)
        s.sendall(name.encode() + b'\n')
        while True:
            line = self.read_line(f)
            if line is None:
                raise OSError('no "joined" for %s' % name)
            if line == b'* %s joined' % name.encode():
                return
            if line.startswith(b'ERR '):
                raise OSError('%s refused: %r' % (name, line))

    def payload(self, i, k):
        lo, hi = self.payload_range
        n = lo + (k * 7919 + i * 31) % (hi - lo + 1)
        return bytes([97 + (k + i) % 26]) * n

    def normal(self, i, ready, go):
        name = self.normals[i]
        try:
            s = self.connect(timeout=30)
            f = s.makefile('rb')
            self.join(s, f, name)
        except OSError as e:
            self.fail('%s could not join: %s' % (name, e))
            ready.release()
            return
        reader = threading.Thread(target=self.normal_reader, args=(i, f), daemon=True)
        reader.start()
        ready.release()
        go.wait()
        others = [j for j in range(self.args.normal) if j != i]
        k = 0
        buf = []
        while not self.stop.is_set():
            with self.progress:
                # the window: no more than WINDOW lines ahead of the slowest reader
                stalled = time.monotonic() + 30
                while others and min(self.received[j][i] for j in others) < k - WINDOW:
                    if self.stop.is_set() or time.monotonic() > stalled:
                        break
                    self.progress.wait(0.2)
            if self.stop.is_set():
                break
            if others and min(self.received[j][i] for j in others) < k - WINDOW:
                self.fail('%s: its readers stalled 30 s behind' % name)
                break
            buf.append(b'seq %d ' % k + self.payload(i, k) + b'\n')
            k += 1
            if len(buf) >= 8:
                try:
                    s.sendall(b''.join(buf))
                except OSError as e:
                    self.fail('%s: send failed: %s' % (name, e))
                    break
                buf = []
                with self.lock:
                    self.sent[i] = k
        if buf:
            try:
                s.sendall(b''.join(buf))
            except OSError as e:
                self.fail('%s: send failed: %s' % (name, e))
        with self.progress:
            self.sent[i] = k
            self.progress.notify_all()
        # The end: wait until the others got all of ours and we all of theirs.
        self.all_sent.wait(60)
        dl = time.monotonic() + 60
        with self.progress:
            while not self.all_received() and time.monotonic() < dl and not self.fatal.is_set():
                self.progress.wait(0.5)
        self.finished.wait(60)
        try:
            s.sendall(b'bye\n')
            s.settimeout(10)
            while s.recv(65536):
                pass
        except OSError as e:
            self.fail('%s: no clean end after bye: %s' % (name, e))
        reader.join(10)
        self.close(s)

    def all_received(self):
        n = self.args.normal
        for j in range(n):
            for i in range(n):
                if i != j and self.received[j][i] < self.sent[i]:
                    return False
            for li in range(self.args.long):
                if self.long_after_seen[j][li] < self.long_sent_after[li]:
                    return False
        return True

    def normal_reader(self, j, f):
        me = self.normals[j]
        index = {n.encode(): i for i, n in enumerate(self.normals)}
        lindex = {n.encode(): i for i, n in enumerate(self.longs)}
        while True:
            line = self.read_line(f)
            if line is None:
                if not self.finished.is_set():
                    self.fail('%s was disconnected during the run (%s)'
                              % (me, self.left.get(me, 'no notice')))
                    self.fatal.set()
                return
            if line.startswith(b'* '):
                self.note_notice(line)
                m = re.match(rb'^\* (n\d+) left', line)
                if m and not self.finished.is_set():
                    self.fail('%s saw a normal chatter leave: %r' % (me, line))
                continue
            if line.startswith(b'ERR '):
                self.fail('%s got %r' % (me, line))
                continue
            name, sep, text = line.partition(b': ')
            if name in index:
                i = index[name]
                m = re.match(rb'^seq (\d+) (.*)$', text, re.S)
                k = int(m.group(1)) if m else -1
                want = self.received[j][i]
                if k != want or m.group(2) != self.payload(i, k):
                    self.fail('%s got from %s %r..., expected seq %d'
                              % (me, name.decode(), text[:40], want))
                    self.fatal.set()
                    return
                with self.progress:
                    self.received[j][i] = k + 1
                    if k % 16 == 0:
                        self.progress.notify_all()
                self.count('normal lines delivered')
            elif name in lindex:
                li = lindex[name]
                m = re.match(rb'^after (\d+)$', text)
                want = self.long_after_seen[j][li]
                if not m or int(m.group(1)) != want:
                    self.fail('%s got from %s %r, expected "after %d"'
                              % (me, name.decode(), text[:60], want))
                    continue
                with self.progress:
                    self.long_after_seen[j][li] = want + 1
                    self.progress.notify_all()
                self.count('long-line senders\' follow-up lines delivered')
            else:
                self.count('other lines delivered (garbage, churners)')

    def slow(self, i):
        gen = 0
        while not self.stop.is_set():
            name = 's%dx%d' % (i, gen)
            gen += 1
            try:
                s = self.connect(rcvbuf=4096)
                s.sendall(name.encode() + b'\n')     # and never read
            except OSError as e:
                self.fail('slow reader %s could not connect: %s' % (name, e))
                return
            self.count('slow readers connected')
            notice = self.wait_left(name, max(self.time_left(), 0) + 5)
            if notice is None:
                # not enough traffic before the end: not a failure by itself
                self.count('slow readers never cut off (run over)')
                self.close(s)
                return
            if 'Output queue limit exceeded' not in notice:
                self.fail('slow reader %s left for another reason: %s' % (name, notice))
            else:
                self.count('slow readers cut off for the queue limit')
            # The server closed it: what it still sends ends with EOF.
            try:
                s.settimeout(15)
                while s.recv(65536):
                    pass
                self.count('slow readers saw EOF')
            except OSError:
                self.count('slow readers saw a reset')
            self.close(s)

    def drain(self, s, stop):
        try:
            while not stop.is_set():
                if not s.recv(65536):
                    return
        except OSError:
            return

    def garbage(self, i):
        rnd = random.Random(1000 + i)
        while not self.stop.is_set():
            try:
                s = self.connect()
            except OSError as e:
                self.fail('garbage sender %d could not connect: %s' % (i, e))
                return
            self.count('garbage connections')
            done = threading.Event()
            t = threading.Thread(target=self.drain, args=(s, done), daemon=True)
            t.start()
            for _ in range(rnd.randint(5, 50)):
                if self.stop.is_set():
                    break
                n = rnd.randint(1, 4096)
                data = bytearray(rnd.randbytes(n))
                for _ in range(rnd.randint(0, 8)):
                    data[rnd.randrange(n)] = 10
                try:
                    s.sendall(bytes(data))
                except OSError:
                    break                     # it said "bye" by chance, or a limit
                self.count('garbage bytes sent', n)
                time.sleep(rnd.random() * 0.02)
            done.set()
            self.close(s, reset=rnd.random() < 0.3)
            t.join(5)

    def churner(self, i):
        ways = ('bye', 'eof', 'reset')
        cycle = 0
        while not self.stop.is_set() and cycle < 100000:
            name = 'c%dx%d' % (i, cycle)
            way = ways[cycle % 3]
            cycle += 1
            try:
                s = self.connect()
                f = s.makefile('rb')
                self.join(s, f, name)
                s.sendall(b'hello from ' + name.encode() + b'\n')
            except OSError as e:
                self.fail('churner %s: %s' % (name, e))
                time.sleep(0.1)
                continue
            with self.lock:
                self.churned.append(name)
            if way == 'bye':
                try:
                    s.sendall(b'bye\n')
                    s.settimeout(10)
                    while s.recv(65536):
                        pass
                except OSError as e:
                    self.fail('churner %s: no EOF after bye: %s' % (name, e))
                self.close(s)
            elif way == 'eof':
                # A true EOF: closing with unread input would send a reset.
                try:
                    s.shutdown(socket.SHUT_WR)
                    s.settimeout(10)
                    while s.recv(65536):
                        pass
                except OSError as e:
                    self.fail('churner %s: no EOF after its own: %s' % (name, e))
                self.close(s)
            else:
                self.close(s, reset=True)
            self.count('churn cycles: ' + way)
            time.sleep(0.005)

    def long_sender(self, i):
        name = self.longs[i]
        rnd = random.Random(2000 + i)
        try:
            s = self.connect(timeout=30)
            f = s.makefile('rb')
            self.join(s, f, name)
        except OSError as e:
            self.fail('%s could not join: %s' % (name, e))
            return
        errs = [0]
        gone = threading.Event()

        def read():
            while True:
                line = self.read_line(f)
                if line is None:
                    gone.set()
                    return
                if line.startswith(b'ERR line too long'):
                    with self.progress:
                        errs[0] += 1
                        self.progress.notify_all()
                elif line.startswith(b'ERR '):
                    self.fail('%s got %r' % (name, line))
                elif line.startswith(b'* '):
                    self.note_notice(line)

        t = threading.Thread(target=read, daemon=True)
        t.start()
        sent = 0
        while not self.stop.is_set() and not gone.is_set():
            n = rnd.randint(MAX_LINE + 1, 20 * MAX_LINE)
            data = bytes([65 + sent % 26]) * n + b'\n'
            try:
                if rnd.random() < 0.3:            # in pieces, with pauses
                    for k in range(0, len(data), 1000):
                        s.sendall(data[k:k + 1000])
                        time.sleep(0.001)
                else:
                    s.sendall(data)
                sent += 1
                s.sendall(b'after %d\n' % (sent - 1))
            except OSError as e:
                self.fail('%s: send failed: %s' % (name, e))
                break
            with self.progress:
                self.long_sent_after[i] = sent
            self.count('long lines sent')
            time.sleep(rnd.random() * 0.05)
        dl = time.monotonic() + 30
        with self.progress:
            while errs[0] < sent and time.monotonic() < dl and not gone.is_set():
                self.progress.wait(0.5)
        if gone.is_set() and not self.finished.is_set():
            self.fail('%s was disconnected (%s)' % (name, self.left.get(name, 'no notice')))
        if errs[0] != sent:
            self.fail('%s sent %d long lines, got %d ERR' % (name, sent, errs[0]))
        self.count('long-line ERR received', errs[0])
        self.finished.wait(90)
        try:
            s.sendall(b'bye\n')
        except OSError:
            pass
        t.join(10)
        self.close(s)

    # ------------------------------------------------------------ the run

    def run(self):
        a = self.args
        self.start_server()
        self.done = threading.Event()
        self.all_sent = threading.Event()
        self.finished = threading.Event()
        self.fatal = threading.Event()
        self.churned = []
        threading.Thread(target=self.sampler, daemon=True).start()

        # The normal chatters and long-line senders join first, so that
        # every normal chatter is there for every line.
        ready = threading.Semaphore(0)
        go = threading.Event()
        normals = [threading.Thread(target=self.normal, args=(i, ready, go), daemon=True)
                   for i in range(a.normal)]
        for t in normals:
            t.start()
        for _ in normals:
            ready.acquire(timeout=30)
        # Each normal chatter sees the joins of those after it; wait for all.
        time.sleep(0.2)
        longs = [threading.Thread(target=self.long_sender, args=(i,), daemon=True)
                 for i in range(a.long)]
        others = ([threading.Thread(target=self.slow, args=(i,), daemon=True) for i in range(a.slow)] +
                  [threading.Thread(target=self.garbage, args=(i,), daemon=True) for i in range(a.garbage)] +
                  [threading.Thread(target=self.churner, args=(i,), daemon=True) for i in range(a.churn)])
        t0 = time.monotonic()
        self.t_end = t0 + a.seconds
        go.set()
        for t in longs + others:
            t.start()
        while time.monotonic() < self.t_end and not self.fatal.is_set() and not self.stop.is_set():
            time.sleep(0.1)
        self.stop.set()
        elapsed = time.monotonic() - t0
        for t in others:
            t.join(30)
            if t.is_alive():
                self.fail('a slow, garbage or churn client did not finish')
        with self.progress:
            self.progress.notify_all()
        self.all_sent.set()
        dl = time.monotonic() + 60
        with self.progress:
            while not self.all_received() and time.monotonic() < dl and not self.fatal.is_set():
                self.progress.wait(0.5)
        if not self.all_received():
            self.fail('not every line reached every normal chatter within 60 s of the end')
        self.finished.set()
        for t in normals + longs:
            t.join(90)
            if t.is_alive():
                self.fail('a normal chatter or long-line sender did not finish')
        # Every churner that joined was announced as gone.
        missing = [n for n in self.churned if self.wait_left(n, 0.01) is None]
        if missing:
            self.fail('%d churners never announced as left, e.g. %s' % (len(missing), missing[:5]))
        self.done.set()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = 'killed (no exit 15 s after SIGTERM)'
        if code != 0:
            self.fail('the server exited %s after SIGTERM' % code)
        time.sleep(0.2)
        if any(re.match(r'^==\d+==', l) or 'runtime error' in l for l in self.log):
            self.fail('sanitizer reports in the server log')
        self.report(elapsed)
        return 0 if not self.failures else 1

    def report(self, elapsed):
        a = self.args
        s = self.stats
        reasons = collections.Counter()
        for line in self.log:
            # on_close logs "PEER closed", "PEER closed by peer" or "PEER
            # <strerror text>"; other lines are joins, leaves and renames.
            m = re.match(r'^tcpchat-chat-server: 127\.0\.0\.1:\d+ (.*)$', line)
            if m and (m.group(1) in ('closed', 'closed by peer') or m.group(1)[:1].isupper()):
                reasons[m.group(1)] += 1
        bound = self.base_rss + self.peak_socks * (MAX_QUEUE + MAX_LINE + 2048) // 1024
        print()
        print('soak: %.0f s against tcpchat-chat-server %s'
              % (elapsed, ' '.join(self.cmd[-8:])))
        print('scenarios:')
        print('  normal chatters   %d, each sent %s lines of %d-%d bytes of text'
              % ((a.normal, '/'.join(map(str, self.sent))) + self.payload_range))
        print('  slow readers      %d: %d connections, %d cut off for the queue limit, %d left at the end'
              % (a.slow, s['slow readers connected'], s['slow readers cut off for the queue limit'],
                 s['slow readers never cut off (run over)']))
        print('  garbage senders   %d: %d connections, %d KiB of random bytes'
              % (a.garbage, s['garbage connections'], s['garbage bytes sent'] // 1024))
        print('  churners          %d: %d cycles (bye %d, EOF %d, reset %d)'
              % (a.churn, len(self.churned), s['churn cycles: bye'], s['churn cycles: eof'],
                 s['churn cycles: reset']))
        print('  long-line senders %d: %d long lines, %d ERR'
              % (a.long, s['long lines sent'], s['long-line ERR received']))
        print('lines delivered:')
        for key in ('normal lines delivered', "long-line senders' follow-up lines delivered",
                    'other lines delivered (garbage, churners)'):
            print('  %-45s %d' % (key, s[key]))
        print('  normal lines per second: %.0f' % (s['normal lines delivered'] / max(elapsed, 1)))
        print('cut-offs by reason (server log):')
        for r, n in reasons.most_common():
            print('  %-45s %d' % (r, n))
        print('RSS: base %d KiB, peak %d KiB, bound %d KiB (%d clients at most x (%d + %d + 2048) bytes)'
              % (self.base_rss, self.peak_rss, bound, self.peak_socks, MAX_QUEUE, MAX_LINE))
        if self.peak_rss > bound:
            self.fail('peak RSS %d KiB over the bound %d KiB' % (self.peak_rss, bound))
        if s['slow readers cut off for the queue limit'] == 0 and a.slow:
            self.fail('no slow reader was cut off')
        if a.churn and len(self.churned) == 0:
            self.fail('no churn cycle')
        if self.failures:
            print('\n%d failure(s):' % len(self.failures))
            for f in self.failures:
                print('  ' + f)
            print('FAIL')
        else:
            print('PASS')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--seconds', type=float, default=float(os.environ.get('STRESS_SECONDS', 60)))
    p.add_argument('--bindir', default=os.environ.get('TCPCHAT_BINDIR') or
                   os.path.join(HERE, '..', '..', 'examples'))
    p.add_argument('--normal', type=int, default=6)
    p.add_argument('--slow', type=int, default=2)
    p.add_argument('--garbage', type=int, default=2)
    p.add_argument('--churn', type=int, default=3)
    p.add_argument('--long', type=int, default=2)
    p.add_argument('--payload', default='10-300',
                   help="bytes of text in a normal chatter's line, MIN-MAX (default 10-300)")
    args = p.parse_args()
    soak = Soak(args)
    try:
        sys.exit(soak.run())
    finally:
        if getattr(soak, 'proc', None) and soak.proc.poll() is None:
            soak.proc.kill()


if __name__ == '__main__':
    main()
