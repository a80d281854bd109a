#!/usr/bin/env python3
"""test_time.py - end-to-end tests of tcpchat-time-server and
tcpchat-time-client (see tcpchat_test.py for the environment)."""

import datetime
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # keep the source tree clean

from tcpchat_test import (TestCase, FakeServer, deadline, free_port, main,
                          recv_until_eof, remaining, reset, run, seconds)

SERVER = 'tcpchat-time-server'
CLIENT = 'tcpchat-time-client'

# The --delay that lets a greeting arrive before the reply goes out.
GREETING_DELAY = '%g' % seconds(0.4)

TIME_LINE = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d) '
                       r'127\.0\.0\.1:(\d+)$')


class TimeTestCase(TestCase):

    def check_time_line(self, data, port=None):
        """data is exactly one time line, for port if given; returns the
        port it names."""
        text = data.decode('utf-8', 'replace')
        self.assertTrue(text.endswith('\n'), repr(text))
        self.assertNotIn('\n', text[:-1], repr(text))
        m = TIME_LINE.match(text[:-1])
        self.assertTrue(m, 'not a time line: %r' % text)
        when = datetime.datetime.fromisoformat(m.group(1))
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - when).total_seconds()), seconds(60),
                        'time far from now: %s' % m.group(1))
        if port is not None:
            self.assertEqual(int(m.group(2)), port)
        return int(m.group(2))


class TimeServerTest(TimeTestCase):

    def test_silent_client_gets_the_time_at_once(self):
        server = self.start_server(SERVER, '-p', 0)
        sock = server.connect()
        port = sock.getsockname()[1]
        start = time.monotonic()
        data = recv_until_eof(sock, deadline(2))
        self.assertLess(time.monotonic() - start, seconds(2))
        sock.close()
        self.check_time_line(data, port)
        server.stderr.wait_for(r'^%s: 127\.0\.0\.1:%d connected$' % (SERVER, port))
        server.stop()

    def test_greeting_is_logged_with_the_client_address(self):
        # A short delay: with none the reply may go before the greeting
        # arrives.
        server = self.start_server(SERVER, '--delay', GREETING_DELAY, '-p', 0)
        greetings = ['hello 你好'.encode('utf-8') + b'\r\n',
                     '你好世界'.encode('gbk') + b'\n']
        for greeting in greetings:
            with self.subTest(greeting=greeting):
                sock = server.connect()
                port = sock.getsockname()[1]
                sock.sendall(greeting)
                self.check_time_line(recv_until_eof(sock, deadline(5)), port)
                sock.close()
                text = greeting.rstrip(b'\r\n')
                server.stderr.wait_for(b'^%s: 127\\.0\\.0\\.1:%d says: %s\n$'
                                       % (SERVER.encode(), port, re.escape(text)))
        server.stop()

    def test_partial_and_long_greetings(self):
        server = self.start_server(SERVER, '--delay', GREETING_DELAY, '-p', 0)
        sock = server.connect()
        port = sock.getsockname()[1]
        sock.sendall(b'no newline yet')
        self.check_time_line(recv_until_eof(sock, deadline(5)), port)
        sock.close()
        server.stderr.wait_for(r'^%s: 127\.0\.0\.1:%d says: no newline yet$'
                               % (SERVER, port))
        sock = server.connect()
        port = sock.getsockname()[1]
        sock.sendall(b'a' * 2000 + b'\n')
        self.check_time_line(recv_until_eof(sock, deadline(5)), port)
        sock.close()
        server.stderr.wait_for(r'^%s: 127\.0\.0\.1:%d says: a{1024}$'
                               % (SERVER, port))
        server.stop()

    def test_six_clients_are_served_concurrently(self):
        server = self.start_server(SERVER, '--delay', '2', '-p', 0)
        socks, started, ports = [], {}, {}
        for i in range(6):
            sock = server.connect()
            started[sock] = time.monotonic()
            ports[sock] = sock.getsockname()[1]
            sock.sendall(b'client %d\n' % i)
            socks.append(sock)
        dl = deadline(10)
        data = {s: b'' for s in socks}
        answered = {}
        pending = list(socks)
        for _ in range(1000):                   # bounded; ends at EOF on all
            if not pending:
                break
            for s in select.select(pending, [], [], remaining(dl))[0]:
                chunk = s.recv(4096)
                if b'\n' in chunk and s not in answered:
                    answered[s] = time.monotonic()
                data[s] += chunk
                if not chunk:
                    pending.remove(s)
        self.assertEqual(pending, [])
        for s in socks:
            self.check_time_line(data[s], ports[s])
            waited = answered[s] - started[s]
            self.assertGreaterEqual(waited, 1.8, 'answered too early')
            self.assertLessEqual(waited, 4.0, 'answered too late')
            s.close()
        spread = max(answered.values()) - min(answered.values())
        self.assertLess(spread, 1.5, 'clients served one after another?')
        server.stderr.wait_for(r' says: client \d$', count=6)
        server.stop()

    def test_delay_counts_from_accept_even_after_idle(self):
        # The delay runs from the accept, not from whenever the server's
        # loop last woke up.  To have the server sit idle for a second
        # without a fixed sleep, a second server with --delay 1 sets the
        # pace: we connect only once its reply has come.
        server = self.start_server(SERVER, '--delay', '2', '-p', 0)
        pacer = self.start_server(SERVER, '--delay', '1', '-p', 0)
        sock = pacer.connect()
        self.check_time_line(recv_until_eof(sock, deadline(5)))
        sock.close()
        sock = server.connect()
        port = sock.getsockname()[1]
        start = time.monotonic()
        data = recv_until_eof(sock, deadline(6))
        waited = time.monotonic() - start
        sock.close()
        self.check_time_line(data, port)
        self.assertGreaterEqual(waited, 1.8, 'answered too early')
        self.assertLessEqual(waited, 4.0, 'answered too late')
        pacer.stop()
        server.stop()

    def test_half_closed_client_still_gets_the_reply(self):
        server = self.start_server(SERVER, '--delay', '0.5', '-p', 0)
        sock = server.connect()
        port = sock.getsockname()[1]
        sock.sendall(b'bye for now\n')
        sock.shutdown(socket.SHUT_WR)
        self.check_time_line(recv_until_eof(sock, deadline(5)), port)
        sock.close()
        server.stop()

    def test_vanishing_clients_do_not_hurt(self):
        server = self.start_server(SERVER, '--delay', '1', '-p', 0)
        # One resets before its reply is due, one closes normally.
        for vanish in (reset, socket.socket.close):
            sock = server.connect()
            port = sock.getsockname()[1]
            sock.sendall(b'going away\n')
            server.stderr.wait_for(r':%d says: going away$' % port)
            vanish(sock)
            server.stderr.wait_for(r'^%s: 127\.0\.0\.1:%d (?!connected|says)'
                                   % (SERVER, port), timeout=5)
            self.assertTrue(server.alive())
        sock = server.connect()
        port = sock.getsockname()[1]
        self.check_time_line(recv_until_eof(sock, deadline(5)), port)
        sock.close()
        self.assertTrue(server.alive())
        server.stop()

    def test_sigterm_with_a_client_waiting(self):
        server = self.start_server(SERVER, '--delay', '30', '-p', 0)
        sock = server.connect()
        server.stderr.wait_for(r' connected$')
        server.stop(signal.SIGTERM)
        try:
            rest = recv_until_eof(sock, deadline(5))
        except ConnectionResetError:
            rest = b''
        self.assertEqual(rest, b'', 'no reply once the server is gone')
        sock.close()

    def test_sigint(self):
        self.start_server(SERVER, '-p', 0).stop(signal.SIGINT)

    def test_nc(self):
        nc = shutil.which('nc')
        if nc is None:
            self.skipTest('nc is not installed')
        server = self.start_server(SERVER, '-p', 0)
        try:
            r = subprocess.run([nc, '-N', server.host, str(server.port)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=seconds(10))
        except subprocess.TimeoutExpired:
            self.fail('nc did not finish')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_time_line(r.stdout)
        server.stop()


class TimeClientTest(TimeTestCase):

    def test_prints_the_reply(self):
        server = self.start_server(SERVER, '--delay', GREETING_DELAY, '-p', 0)
        r = run(CLIENT, server.host, server.port)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.stderr_lines(r), [])
        port = self.check_time_line(r.stdout)
        server.stderr.wait_for(r'^%s: 127\.0\.0\.1:%d connected$' % (SERVER, port))
        server.stderr.wait_for(
            r'^%s: 127\.0\.0\.1:%d says: hello from %s at '
            r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$' % (SERVER, port, CLIENT))
        r = run(CLIENT, '-t', '5', server.host, server.port, 'good morning')
        self.assertEqual(r.returncode, 0, r.stderr)
        port = self.check_time_line(r.stdout)
        server.stderr.wait_for(r':%d says: good morning$' % port)
        server.stop()

    def test_local_port(self):
        server = self.start_server(SERVER, '-p', 0)
        for _ in range(5):          # the free port may be taken meanwhile
            port = free_port()
            r = run(CLIENT, '--local-port', port, server.host, server.port)
            if r.returncode == 0 or b'in use' not in r.stderr:
                break
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_time_line(r.stdout, port)
        server.stderr.wait_for(r'^%s: 127\.0\.0\.1:%d connected$' % (SERVER, port))
        server.stop()

    def test_connection_refused(self):
        port = free_port()
        r = run(CLIENT, '127.0.0.1', port)
        line = self.assert_one_error_line(r, CLIENT, 1, '127.0.0.1:%d' % port)
        self.assertIn('refused', line.lower())
        self.assertEqual(r.stdout, b'')

    def test_eof_before_a_reply(self):
        def hang_up(conn):
            conn.recv(1024)
        fake = FakeServer(hang_up)
        r = run(CLIENT, '127.0.0.1', fake.port)
        fake.finish()
        self.assert_one_error_line(r, CLIENT, 1)
        self.assertEqual(r.stdout, b'')

    def test_timeout(self):
        def say_nothing(conn):
            recv_until_eof(conn, deadline(10))
        fake = FakeServer(say_nothing)
        start = time.monotonic()
        r = run(CLIENT, '-t', '0.5', '127.0.0.1', fake.port)
        elapsed = time.monotonic() - start
        fake.finish()
        self.assert_one_error_line(r, CLIENT, 1)
        self.assertLess(elapsed, seconds(5))


class CommandLineTest(TestCase):

    def test_help_and_version(self):
        for prog in (SERVER, CLIENT):
            with self.subTest(prog=prog):
                self.check_help_and_version(prog)

    def test_bad_usage(self):
        cases = [
            (SERVER, '-x'), (SERVER, '--delay'), (SERVER, '--delay', '-1'),
            (SERVER, '--delay', 'abc'), (SERVER, '--delay', '1e3'),
            (SERVER, '--delay', ''), (SERVER, '--delay', '.'),
            (SERVER, '-p', '70000'), (SERVER, '-p', 'x1'), (SERVER, 'extra'),
            (CLIENT,), (CLIENT, '127.0.0.1'), (CLIENT, '127.0.0.1', '8O88'),
            (CLIENT, '--local-port', 'abc', '127.0.0.1', '1'),
            (CLIENT, '--local-port', '70000', '127.0.0.1', '1'),
            (CLIENT, '-t', 'soon', '127.0.0.1', '1'),
            (CLIENT, '127.0.0.1', '1', 'one', 'two'), (CLIENT, '--bogus'),
        ]
        for prog, *args in cases:
            with self.subTest(prog=prog, args=args):
                self.assert_usage_error(prog, *args)

    def test_port_in_use(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
            busy.bind(('127.0.0.1', 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            r = run(SERVER, '-p', port)
            self.assert_one_error_line(r, SERVER, 1, str(port), 'in use')


if __name__ == '__main__':
    main()
