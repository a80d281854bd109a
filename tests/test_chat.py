"""test_chat.py - end-to-end tests of tcpchat-chat-server and
tcpchat-chat-client, driven by python sockets that this project did not
write (and the real client through pipes).

Every wait has a deadline; every load loop is bounded in count and time.
The figures of the load tests (lines per second, peak RSS) are printed.
"""

import os
import re
import socket
import subprocess
import threading
import time

from tcpchat_test import (TestCase, deadline, left, main, remaining, reset, run,
                          seconds, spawn, Reader)

SERVER = 'tcpchat-chat-server'
CLIENT = 'tcpchat-chat-client'


class Member:
    """A chat member on a python socket, reading lines with deadlines."""

    def __init__(self, srv, name=None, rcvbuf=None, timeout=10):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(seconds(timeout))
        self.sock.connect((srv.host, srv.port))
        self.buf = b''
        self.name = name
        greeting = self.line()
        assert greeting.startswith(b'* '), greeting
        if name is not None:
            self.send(name)
            joined = self.line()
            assert joined == b'* %s joined' % name.encode(), joined

    def send(self, text):
        if isinstance(text, str):
            text = text.encode()
        self.sock.sendall(text + b'\n')

    def line(self, timeout=10):
        """The next line without its end of line; raises on EOF/timeout."""
        dl = deadline(timeout)
        while b'\n' not in self.buf:
            self.sock.settimeout(remaining(dl))
            data = self.sock.recv(1 << 16)
            if not data:
                raise EOFError('connection closed; pending %r' % self.buf[:200])
            self.buf += data
        line, self.buf = self.buf.split(b'\n', 1)
        return line

    def expect(self, wanted, timeout=10):
        got = self.line(timeout)
        if isinstance(wanted, str):
            wanted = wanted.encode()
        assert got == wanted, 'expected %r, got %r' % (wanted, got)

    def silent(self, timeout=0.3):
        """True if nothing arrives within timeout (a short look)."""
        if self.buf:
            return False
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 16)
        except socket.timeout:
            return True
        self.buf += data
        return False

    def eof(self, timeout=10):
        """Read until the server closes; return what came before."""
        dl = deadline(timeout)
        rest = self.buf
        self.buf = b''
        while True:
            self.sock.settimeout(remaining(dl))
            data = self.sock.recv(1 << 16)
            if not data:
                return rest
            rest += data

    def close(self):
        self.sock.close()


def sanitized(pid):
    """True if the process runs under AddressSanitizer, whose quarantine
    keeps freed memory resident: its RSS says nothing about ours."""
    with open('/proc/%d/maps' % pid) as f:
        return 'libasan' in f.read()


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


class ChatServerTest(TestCase):

    def room(self, *args):
        return self.start_server(SERVER, '-p', '0', *args)

    def test_contract(self):
        self.check_help_and_version(SERVER)
        self.assert_usage_error(SERVER, '--max-line', '0')
        self.assert_usage_error(SERVER, '--max-clients', 'many')
        self.assert_usage_error(SERVER, '-p', '70000')
        self.assert_usage_error(SERVER, 'extra')

    def test_names_and_join(self):
        srv = self.room()
        ann = Member(srv, 'ann')
        bob = Member(srv)
        for bad in ('', 'two words', 'x' * 33, 'tab\there', 'bell\x07'):
            bob.send(bad)
            self.assertTrue(bob.line().startswith(b'ERR '), bad)
        bob.send('ann')
        self.assertTrue(bob.line().startswith(b'ERR '))
        bob.send('x' * 32)           # the longest name is fine
        bob.expect('* %s joined' % ('x' * 32))
        ann.expect('* %s joined' % ('x' * 32))
        cat = Member(srv)
        cat.send('\u732b'.encode('utf-8'))    # non-ASCII names are fine
        cat.expect('* \u732b joined'.encode('utf-8'))
        srv.stop()

    def test_messages_go_to_every_other_member_unchanged(self):
        srv = self.room()
        ann, bob, cat = Member(srv, 'ann'), Member(srv, 'bob'), Member(srv, 'cat')
        ann.line(), ann.line(), bob.line()      # the joins after each own
        texts = [b'hello', b'crlf line\r', b'nul\x00inside', '\u4f60\u597d'.encode('gbk'),
                 b'\xff\xfe invalid \xc0 utf-8', b'tab\there', b'  spaced  ']
        for t in texts:
            ann.sock.sendall(t + b'\n')
        for t in texts:
            want = b'ann: ' + (t[:-1] if t.endswith(b'\r') else t)
            bob.expect(want)
            cat.expect(want)
        # No echo: the sender's next line is the answer to its own /who.
        ann.send('/who')
        self.assertEqual(ann.line(), b'* members: ann, bob, cat')
        ann.send('')                 # empty lines are ignored
        ann.send('/nick anna')
        for m in (ann, bob, cat):
            m.expect('* ann is now known as anna')
        bob.send('/nick cat')
        self.assertTrue(bob.line().startswith(b'ERR '))
        bob.send('/dance')
        self.assertTrue(bob.line().startswith(b'ERR '))
        cat.send('/who')
        cat.expect('* members: anna, bob, cat')
        srv.stop()

    def test_bye_eof_and_reset_are_announced(self):
        srv = self.room()
        ann, bob, cat, dan = (Member(srv, n) for n in ('ann', 'bob', 'cat', 'dan'))
        for m, joins in ((ann, 3), (bob, 2), (cat, 1)):
            for _ in range(joins):
                m.line()
        bob.send('bye')
        self.assertEqual(bob.eof(), b'')
        for m in (ann, cat, dan):
            m.expect('* bob left')
        cat.close()                           # EOF without bye
        for m in (ann, dan):
            m.expect('* cat left')
        reset(dan.sock)                       # a reset
        self.assertTrue(ann.line().startswith(b'* dan left ('))
        # The name of one who left is free again.
        bob2 = Member(srv, 'bob')
        ann.expect('* bob joined')
        bob2.close()
        srv.stop()

    def test_leaving_with_output_still_queued_is_announced_at_once(self):
        """A member whose input ends while output is still queued for it
        is announced as gone at once, not after the flush; its name is
        free from then on and no stale notice follows for the newcomer."""
        srv = self.room('--max-queue', str(16 << 20))
        ann = Member(srv, 'ann')
        bob = Member(srv, 'bob', rcvbuf=4096)
        ann.line()
        payload = b''.join(b'line %d %s\n' % (i, b'x' * 200) for i in range(30000))
        ann.sock.sendall(payload)              # ~6 MB, mostly queued for bob
        ann.send('/who')                       # ...and processed once all is read
        self.assertEqual(ann.line(timeout=30), b'* members: ann, bob')
        bob.sock.shutdown(socket.SHUT_WR)      # EOF with output queued
        ann.expect('* bob left')
        bob2 = Member(srv, 'bob')              # the name is free already
        ann.expect('* bob joined')
        self.assertEqual(len(bob.eof(timeout=60)), len(payload.replace(
            b'line', b'ann: line')))           # the old bob still got it all
        ann.send('/who')
        ann.expect('* members: ann, bob')     # and no stale "* bob left"
        bob2.close()
        srv.stop()

    def test_bye_variants(self):
        """bye with CR LF leaves; what follows it in the same segment is
        not delivered; "bye " and "BYE" are ordinary messages."""
        srv = self.room()
        ann = Member(srv, 'ann')
        bob = Member(srv, 'bob')
        ann.line()
        bob.sock.sendall(b'bye \nBYE\nbye\r\nafter bye\n')
        ann.expect('bob: bye ')
        ann.expect('bob: BYE')
        ann.expect('* bob left')
        self.assertEqual(bob.eof(), b'')
        ann.send('/who')
        ann.expect('* members: ann')          # "after bye" never came
        srv.stop()

    def test_connect_close_cycles_leak_no_descriptor(self):
        """2,000 connections that close at once, reset at once (often
        before they are accepted) or leave after joining: the server's
        descriptors come back to where they were."""
        srv = self.room()
        ann = Member(srv, 'ann')

        def fds():
            return len(os.listdir('/proc/%d/fd' % srv.proc.pid))

        before = fds()
        for i in range(2000):
            if i % 3 == 2:
                m = Member(srv, 'c%d' % i)
                m.send('bye')
                m.eof()
                m.close()
                ann.expect('* c%d joined' % i)
                ann.expect('* c%d left' % i)
                continue
            s = socket.create_connection((srv.host, srv.port), timeout=seconds(10))
            if i % 3 == 0:
                reset(s)
            else:
                s.close()
        dl = deadline(10)
        while fds() != before:                # closes finish in the loop
            remaining(dl)
            time.sleep(0.05)
        self.assertEqual(fds(), before)
        ann.send('/who')
        ann.expect('* members: ann')
        srv.stop()

    def test_long_lines(self):
        srv = self.room('--max-line', '100')
        ann, bob = Member(srv, 'ann'), Member(srv, 'bob')
        ann.line()
        ann.sock.sendall(b'a' * 100 + b'\n' + b'b' * 101 + b'\nafter\n')
        bob.expect('ann: ' + 'a' * 100)
        self.assertTrue(ann.line().startswith(b'ERR line too long'))
        bob.expect('ann: after')
        # 1 MiB without a newline: one ERR, memory bounded, still connected.
        before = rss_kib(srv.proc.pid)
        chunk = b'z' * 65536
        for _ in range(16):
            ann.sock.sendall(chunk)
        ann.sock.sendall(b'\nstill here\n')
        self.assertTrue(ann.line().startswith(b'ERR line too long'))
        bob.expect('ann: still here')
        # 10 MiB without a newline: the same, once.
        chunk = b'y' * (1 << 20)
        for _ in range(10):
            ann.sock.sendall(chunk)
        ann.sock.sendall(b'\nand here\n')
        self.assertTrue(ann.line(timeout=30).startswith(b'ERR line too long'))
        bob.expect('ann: and here')
        self.assertTrue(ann.silent())
        if not sanitized(srv.proc.pid):
            self.assertLess(rss_kib(srv.proc.pid) - before, 4096)
        srv.stop()

    def test_full_room(self):
        srv = self.room('--max-clients', '2')
        ann, bob = Member(srv, 'ann'), Member(srv)   # the room is full
        third = socket.create_connection((srv.host, srv.port), timeout=seconds(10))
        data = b''
        dl = deadline(10)
        while True:
            third.settimeout(remaining(dl))
            chunk = third.recv(4096)
            if not chunk:
                break
            data += chunk
        third.close()
        self.assertTrue(data.startswith(b'ERR '), data)
        bob.send('bob')
        bob.expect('* bob joined')           # the room still works
        ann.expect('* bob joined')
        srv.stop()

    def test_idle_timeout(self):
        srv = self.room('--idle-timeout', '0.5')
        ann = Member(srv, 'ann')
        bob = Member(srv, 'bob')
        ann.line()
        t0 = time.monotonic()
        dl = deadline(10)
        while True:                           # ann talks, bob is silent
            ann.send('tick')
            if not ann.silent(0.1):
                break
            remaining(dl)
        ann.expect('* bob left (Idle timeout)')
        self.assertGreaterEqual(time.monotonic() - t0, 0.5)
        self.assertIn(b'ann: tick', bob.eof())
        srv.stop()

    def test_trickler_is_cut_off_by_the_line_deadline(self):
        """A member that sends a byte every 50 ms and never ends its line is
        never idle (0.3 s); the line deadline (0.5 s) cuts it off."""
        srv = self.room('--line-timeout', '0.5', '--idle-timeout', '0.3')
        ann = Member(srv, 'ann')
        slow = Member(srv, 'slow')
        ann.line()
        t0 = time.monotonic()
        dl = deadline(10)
        while True:
            remaining(dl)
            ann.send('/who')                  # ann stays active too...
            line = ann.line()
            if line.startswith(b'* slow left'):
                break
            self.assertTrue(line.startswith(b'* members: '), line)
            try:
                slow.sock.sendall(b'x')       # ...and so does slow, in bytes
            except OSError:
                pass
            time.sleep(0.05)                  # the trickle's pace
        self.assertEqual(line, b'* slow left (Line not completed in time)')
        self.assertGreaterEqual(time.monotonic() - t0, 0.5)
        srv.stop()

    def test_fifty_members_ten_senders(self):
        """50 members, 10 of them send 100 lines each at once: every other
        member receives every line, in each sender's order, once."""
        srv = self.room()
        n_members, n_senders, n_lines = 50, 10, 100
        members = []
        for i in range(n_members):
            members.append(Member(srv, 'm%02d' % i))
        # Drain the join notices: member i sees the joins of i..49.
        for i, m in enumerate(members):
            for j in range(i + 1, n_members):
                m.expect('* m%02d joined' % j)
        got = [dict() for _ in members]
        errors = []

        def reader(i):
            m = members[i]
            expected = (n_senders - (1 if i < n_senders else 0)) * n_lines
            try:
                for _ in range(expected):
                    line = m.line(timeout=60)
                    name, text = line.split(b': ', 1)
                    got[i].setdefault(name, []).append(int(text.split()[1]))
            except Exception as e:
                errors.append('member %d: %r' % (i, e))

        def sender(i):
            m = members[i]
            payload = b''.join(b'line %d from m%02d\n' % (k, i) for k in range(n_lines))
            m.sock.sendall(payload)

        readers = [threading.Thread(target=reader, args=(i,)) for i in range(n_members)]
        for t in readers:
            t.start()
        t0 = time.monotonic()
        senders = [threading.Thread(target=sender, args=(i,)) for i in range(n_senders)]
        for t in senders:
            t.start()
        dl = deadline(120)
        for t in senders + readers:
            t.join(left(dl))
        elapsed = time.monotonic() - t0
        self.assertEqual(errors, [])
        delivered = 0
        for i in range(n_members):
            for s in range(n_senders):
                name = b'm%02d' % s
                if s == i:
                    self.assertNotIn(name, got[i])     # no echo
                    continue
                self.assertEqual(got[i].get(name), list(range(n_lines)),
                                 'member %d from %s' % (i, name))
                delivered += n_lines
        print('\n50 members, 10 senders x 100 lines: %d lines delivered in %.2f s '
              '(%.0f lines/s)' % (delivered, elapsed, delivered / elapsed))
        for m in members:
            self.assertTrue(m.silent(0.05))           # nothing doubled
        srv.stop()

    def test_slow_reader_is_cut_off_and_memory_stays_bounded(self):
        """A member that never reads while another floods 20 MB: it is cut
        off, three normal readers get everything, the RSS stays bounded."""
        srv = self.room('--max-queue', '1048576')
        slow = Member(srv, 'slow', rcvbuf=4096)      # joins, then never reads
        flood = Member(srv, 'flood')
        readers = [Member(srv, 'r%d' % i) for i in range(3)]
        # Drain the joins flood sees (slow never reads anything again).
        for _ in range(3):
            flood.line()
        for i, r in enumerate(readers):
            for j in range(i + 1, 3):
                r.expect('* r%d joined' % j)
        base = rss_kib(srv.proc.pid)
        line = b'x' * 1000
        n_lines = 20 * 1000          # 20 MB
        counts = [0, 0, 0]
        left_seen = [False, False, False]
        errors = []

        def read(i):
            r = readers[i]
            try:
                while counts[i] < n_lines:
                    got = r.line(timeout=60)
                    if got.startswith(b'* slow left'):
                        if b'Output queue limit' not in got:
                            raise AssertionError('slow left for %r' % got)
                        left_seen[i] = True
                        continue
                    name, text = got.split(b': ', 1)
                    if name != b'flood' or text != b'%d ' % counts[i] + line:
                        raise AssertionError('unexpected %r' % got[:60])
                    counts[i] += 1
            except Exception as e:
                errors.append('reader %d: %r' % (i, e))

        peak = [base]
        done = threading.Event()

        def sample():
            while not done.is_set():
                try:
                    peak[0] = max(peak[0], rss_kib(srv.proc.pid))
                except OSError:
                    return
                done.wait(0.02)

        threads = [threading.Thread(target=read, args=(i,)) for i in range(3)]
        sampler = threading.Thread(target=sample)
        for t in threads + [sampler]:
            t.start()
        t0 = time.monotonic()
        for k in range(n_lines):
            flood.sock.sendall(b'%d ' % k + line + b'\n')
        dl = deadline(120)
        for t in threads:
            t.join(left(dl))
        done.set()
        sampler.join(seconds(5))
        elapsed = time.monotonic() - t0
        self.assertEqual(errors, [])
        self.assertEqual(counts, [n_lines] * 3)
        self.assertEqual(left_seen, [True] * 3)
        slow.close()
        growth = peak[0] - base
        print('\nslow reader: 20 MB flood in %.2f s; server RSS %d KiB before, '
              'peak %d KiB (+%d KiB)' % (elapsed, base, peak[0], growth))
        # Bounded by the queue limit and buffers, not by the 20 MB sent.
        if not sanitized(srv.proc.pid):
            self.assertLess(growth, 8 * 1024)
        srv.stop()

    def test_eof_and_reset_in_the_middle_of_a_broadcast(self):
        srv = self.room()
        talker = Member(srv, 'talker')
        quitters = [Member(srv, 'q%d' % i) for i in range(6)]
        stay = Member(srv, 'stay')
        for _ in range(7):
            talker.line()
        for i, q in enumerate(quitters):
            for _ in range(6 - i):
                q.line()
        n = 2000
        payload = b''.join(b'msg %d\n' % k for k in range(n))
        t = threading.Thread(target=talker.sock.sendall, args=(payload,))
        t.start()
        for i, q in enumerate(quitters):     # leave while lines fly
            if i % 3 == 0:
                reset(q.sock)
            elif i % 3 == 1:
                q.close()
            else:
                q.send('bye')
        t.join(seconds(30))
        seen, left_names = [], set()
        while len(seen) < n or len(left_names) < 6:
            line = stay.line(timeout=30)
            if line.startswith(b'* '):
                m = re.match(rb'^\* (q\d) left', line)
                self.assertTrue(m, line)
                left_names.add(m.group(1))
            else:
                seen.append(line)
        self.assertEqual(seen, [b'talker: msg %d' % k for k in range(n)])
        self.assertTrue(srv.alive())
        srv.stop()


class ChatClientTest(TestCase):

    def test_contract(self):
        self.check_help_and_version(CLIENT)
        self.assert_usage_error(CLIENT, 'only-host')
        self.assert_usage_error(CLIENT, '127.0.0.1', 'port')
        r = run(CLIENT, '-n', 'x', '127.0.0.1', str(free_closed_port()))
        self.assert_one_error_line(r, CLIENT, 1, 'refused')

    def test_scripted_client_talks_and_leaves(self):
        srv = self.start_server(SERVER, '-p', '0')
        ann = Member(srv, 'ann')
        r = run(CLIENT, '-n', 'bob', srv.host, str(srv.port),
                input=b'hello from bob\n\xff raw\n')
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.splitlines()
        self.assertTrue(out[0].startswith(b'* '), out)
        self.assertEqual(out[1], b'* bob joined')
        ann.expect('* bob joined')
        ann.expect('bob: hello from bob')
        ann.expect(b'bob: \xff raw')
        ann.expect('* bob left')
        srv.stop()

    def test_client_prints_what_others_say_and_bye_ends_it(self):
        srv = self.start_server(SERVER, '-p', '0')
        ann = Member(srv, 'ann')
        proc = spawn(CLIENT, '-n', 'bob', srv.host, srv.port,
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE)
        out = Reader(proc.stdout)
        out.wait_for(r'^\* bob joined$')
        ann.expect('* bob joined')
        ann.send('hi bob')
        out.wait_for(r'^ann: hi bob$')
        proc.stdin.write(b'hi ann\nbye\n')
        proc.stdin.flush()
        ann.expect('bob: hi ann')
        ann.expect('* bob left')
        self.assertEqual(proc.wait(timeout=seconds(10)), 0)
        srv.stop()

    def test_name_taken_with_n_exits_1(self):
        srv = self.start_server(SERVER, '-p', '0')
        ann = Member(srv, 'ann')    # kept: the name stays taken
        r = run(CLIENT, '-n', 'ann', srv.host, str(srv.port), input=b'')
        self.assertEqual(r.returncode, 1)
        self.assertIn(b'ERR ', r.stderr)
        self.assertTrue(ann.silent())   # no "* ann joined" for the impostor
        srv.stop()

    def test_server_going_away_ends_the_client(self):
        srv = self.start_server(SERVER, '-p', '0')
        proc = spawn(CLIENT, '-n', 'bob', srv.host, srv.port,
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE)
        out = Reader(proc.stdout)
        err = Reader(proc.stderr)
        out.wait_for(r'^\* bob joined$')
        srv.stop()
        err.wait_for(r'connection closed')
        self.assertEqual(proc.wait(timeout=seconds(10)), 1)


def free_closed_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


if __name__ == '__main__':
    main()
