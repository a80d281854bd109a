#!/usr/bin/env python3
"""test_echo.py - end-to-end tests of tcpchat-echo-server and
tcpchat-echo-client (see tcpchat_test.py for the environment)."""

import random
import select
import signal
import socket
import sys
import threading

sys.dont_write_bytecode = True     # keep the source tree clean

from tcpchat_test import (TestCase, FakeServer, deadline, free_port,
                          ipv6_loopback_available, left, main,
                          recv_until_eof, remaining, reset, run, seconds)

SERVER = 'tcpchat-echo-server'
CLIENT = 'tcpchat-echo-client'

# Bytes that a text-minded implementation would mangle.
AWKWARD = (b'\x00' + b'\xff\xfe\xc0' + '你好世界'.encode('gbk') + b'\r\n' +
           '你好世界'.encode('utf-8') + b'\x00\n\x80\x00')


def make_payload(size, seed):
    """size random bytes (reproducible from seed) with AWKWARD at the
    start, in the middle and at the end."""
    rnd = random.Random(seed)
    body = rnd.randbytes(size - 3 * len(AWKWARD))
    half = len(body) // 2
    data = AWKWARD + body[:half] + AWKWARD + body[half:] + AWKWARD
    assert len(data) == size
    return data


PAYLOAD = make_payload(1 << 20, 7788)


class EchoTestCase(TestCase):

    def assert_same_bytes(self, got, want, what='echo'):
        if got == want:
            return
        n = min(len(got), len(want))
        first = next((i for i in range(n) if got[i] != want[i]), n)
        self.fail('%s differs: got %d bytes, want %d, first difference at '
                  'offset %d' % (what, len(got), len(want), first))

    def echo(self, server, payload, timeout=30, family=None):
        """Send payload from one thread while reading in another; half-close
        after the last byte; return what came back before EOF."""
        dl = deadline(timeout)
        if family is None:
            sock = server.connect()
        else:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(remaining(dl))
            sock.connect((server.host, server.port))
        errors = []
        out = sock.dup()        # its own timeout, same connection

        def send():
            try:
                out.settimeout(remaining(dl))
                out.sendall(payload)
                out.shutdown(socket.SHUT_WR)
            except Exception as e:
                errors.append(e)
            finally:
                out.close()

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        try:
            got = recv_until_eof(sock, dl)
        finally:
            sender.join(left(dl))
            sock.close()
        self.assertFalse(sender.is_alive(), 'sender still running')
        self.assertEqual(errors, [])
        return got


class OneShotTest(EchoTestCase):

    def test_echoes_1mib_of_binary_then_exits(self):
        server = self.start_server(SERVER, '-p', 0)
        got = self.echo(server, PAYLOAD)
        self.assert_same_bytes(got, PAYLOAD)
        self.assertEqual(server.wait_exit(10), 0, server.stderr.text())
        server.stderr.wait_for(r'^%s: 127\.0\.0\.1:\d+ connected$' % SERVER)

    def test_refuses_a_second_client(self):
        server = self.start_server(SERVER, '-p', 0)
        first = server.connect()
        server.stderr.wait_for(r' connected$')
        with self.assertRaises(ConnectionRefusedError):
            server.connect().close()
        first.sendall(b'still here\n')
        first.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(first, deadline(10)), b'still here\n')
        first.close()
        self.assertEqual(server.wait_exit(10), 0)

    def test_exits_when_its_client_resets(self):
        server = self.start_server(SERVER, '-p', 0)
        sock = server.connect()
        sock.sendall(b'x' * 1000)
        server.stderr.wait_for(r' connected$')
        reset(sock)
        self.assertEqual(server.wait_exit(10), 0)

    def test_echo_client_stdin_1mib(self):
        server = self.start_server(SERVER, '-p', 0)
        r = run(CLIENT, server.host, server.port, input=PAYLOAD)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_same_bytes(r.stdout, PAYLOAD)
        self.assertEqual(self.stderr_lines(r), [])
        self.assertEqual(server.wait_exit(10), 0)

    def test_echo_client_stdin_16mib_does_not_stall(self):
        # More than every socket buffer on the way holds: a client that sent
        # everything before reading anything would stall against a server
        # that stops reading while its output queue is full.
        payload = make_payload(16 << 20, 16)
        server = self.start_server(SERVER, '-p', 0)
        r = run(CLIENT, '-t', '10', server.host, server.port, input=payload,
                timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_same_bytes(r.stdout, payload)
        self.assertEqual(server.wait_exit(10), 0)

    def test_echo_client_message_words(self):
        server = self.start_server(SERVER, '-p', 0)
        r = run(CLIENT, '-t', '5', server.host, server.port,
                'hello', 'world', '你好')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, 'hello world 你好\n'.encode())
        self.assertEqual(server.wait_exit(10), 0)

    def test_echo_client_empty_stdin(self):
        server = self.start_server(SERVER, '-p', 0)
        r = run(CLIENT, server.host, server.port, input=b'')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b'')
        self.assertEqual(server.wait_exit(10), 0)

    def test_sigterm_without_clients(self):
        self.start_server(SERVER, '-p', 0).stop(signal.SIGTERM)

    def test_ipv6(self):
        if not ipv6_loopback_available():
            self.skipTest('::1 is not available')
        server = self.start_server(SERVER, '-H', '::1', '-p', 0)
        self.assertRegex(server.address, r'^\[::1\]:\d+$')
        self.assertEqual(server.host, '::1')
        got = self.echo(server, AWKWARD * 100, family=socket.AF_INET6)
        self.assert_same_bytes(got, AWKWARD * 100)
        self.assertEqual(server.wait_exit(10), 0)
        server.stderr.wait_for(r'^%s: \[::1\]:\d+ connected$' % SERVER)


class KeepTest(EchoTestCase):

    def test_serves_20_clients_at_once(self):
        server = self.start_server(SERVER, '-k', '-p', 0)
        n = 20
        socks = [server.connect() for _ in range(n)]
        # All 20 are accepted and open before any of them sends a byte.
        server.stderr.wait_for(r' connected$', count=n)
        payloads = [b'client %d\n' % i + make_payload(32 << 10, i)
                    for i in range(n)]
        dl = deadline(30)
        errors = []

        def send(sock, data):
            try:
                sock.settimeout(remaining(dl))
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
            except Exception as e:
                errors.append(e)
            finally:
                sock.close()

        senders = [threading.Thread(target=send, args=(s.dup(), p), daemon=True)
                   for s, p in zip(socks, payloads)]
        for t in senders:
            t.start()
        got = {s: [] for s in socks}
        open_socks = list(socks)
        for _ in range(100000):                 # bounded; ends at EOF on all
            if not open_socks:
                break
            ready = select.select(open_socks, [], [], remaining(dl))[0]
            for s in ready:
                data = s.recv(1 << 16)
                if data:
                    got[s].append(data)
                else:
                    open_socks.remove(s)
        self.assertEqual(open_socks, [], 'clients without EOF')
        for t in senders:
            t.join(left(dl))
        self.assertEqual(errors, [])
        for i, (s, p) in enumerate(zip(socks, payloads)):
            self.assert_same_bytes(b''.join(got[s]), p, 'echo of client %d' % i)
            s.close()
        self.assertTrue(server.alive())
        server.stop()

    def test_reset_mid_transfer_does_not_hurt(self):
        server = self.start_server(SERVER, '-k', '-p', 0)
        sock = server.connect()
        port = sock.getsockname()[1]
        dl = deadline(20)
        payload = make_payload(1 << 20, 1)
        sock.settimeout(seconds(5))

        def send():
            try:
                sock.sendall(payload)
            except OSError:
                pass    # may block once we stop reading: bounded by timeout

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        received = 0
        while received < 100000:                # the echo is under way
            data = sock.recv(1 << 16)
            self.assertTrue(data, 'EOF in the middle of the echo')
            received += len(data)
            remaining(dl)
        sender.join(left(dl))
        self.assertFalse(sender.is_alive())
        reset(sock)
        # The server notices, logs it, and carries on.
        server.stderr.wait_for(r'^%s: 127\.0\.0\.1:%d (?!connected)' % (SERVER, port))
        self.assertTrue(server.alive())
        got = self.echo(server, AWKWARD * 1000)
        self.assert_same_bytes(got, AWKWARD * 1000)
        self.assertTrue(server.alive())
        server.stop()

    def test_sigterm_and_sigint_with_a_client_connected(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=sig.name):
                server = self.start_server(SERVER, '-k', '-p', 0)
                sock = server.connect()
                sock.sendall(b'hello\n')
                got = b''
                while len(got) < 6:           # TCP may split the echo
                    data = sock.recv(100)
                    self.assertTrue(data, 'closed early after %r' % got)
                    got += data
                self.assertEqual(got, b'hello\n')
                server.stop(sig)
                # Freeing the server closed the connection.
                try:
                    rest = recv_until_eof(sock, deadline(10))
                except ConnectionResetError:
                    rest = b''
                self.assertEqual(rest, b'')
                sock.close()


class CommandLineTest(TestCase):

    def test_help_and_version(self):
        for prog in (SERVER, CLIENT):
            with self.subTest(prog=prog):
                self.check_help_and_version(prog)

    def test_bad_usage(self):
        cases = [
            (SERVER, '-x'), (SERVER, '--bogus'), (SERVER, '-p'),
            (SERVER, '-p', '70000'), (SERVER, '-p', 'abc'),
            (SERVER, '-p', '-1'), (SERVER, '-p', ''), (SERVER, 'extra'),
            (SERVER, '--keep=yes'),
            (CLIENT,), (CLIENT, '127.0.0.1'), (CLIENT, '127.0.0.1', 'abc'),
            (CLIENT, '127.0.0.1', '0'), (CLIENT, '127.0.0.1', '70000'),
            (CLIENT, '-t', 'abc', '127.0.0.1', '1'),
            (CLIENT, '-t', '-1', '127.0.0.1', '1'), (CLIENT, '-t'),
            (CLIENT, '-x', '127.0.0.1', '1'),
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
            self.assertEqual(r.stdout, b'')

    def test_echo_client_connection_refused(self):
        port = free_port()
        r = run(CLIENT, '127.0.0.1', port, 'hello')
        line = self.assert_one_error_line(r, CLIENT, 1, '127.0.0.1:%d' % port)
        self.assertIn('refused', line.lower())
        self.assertEqual(r.stdout, b'')

    def test_echo_client_unknown_host(self):
        r = run(CLIENT, 'no-such-host.invalid', 7, 'hello')
        self.assert_one_error_line(r, CLIENT, 1, 'no-such-host.invalid')
        self.assertEqual(r.stdout, b'')

    def test_echo_client_detects_a_lost_byte(self):
        def drop_last_byte(conn):
            data = recv_until_eof(conn, deadline(10))
            conn.sendall(data[:-1])
        fake = FakeServer(drop_last_byte)
        r = run(CLIENT, '127.0.0.1', fake.port, 'hello')
        fake.finish()
        self.assertEqual(r.stdout, b'hello')
        self.assert_one_error_line(r, CLIENT, 1,
                                   'echo mismatch: sent 6 bytes, received 5')

    def test_echo_client_detects_a_changed_byte(self):
        def change_a_byte(conn):
            data = recv_until_eof(conn, deadline(10))
            conn.sendall(data.replace(b'\xc0', b'\xc1'))
        fake = FakeServer(change_a_byte)
        r = run(CLIENT, '127.0.0.1', fake.port, input=AWKWARD)
        fake.finish()
        self.assert_one_error_line(r, CLIENT, 1, 'echo mismatch')


if __name__ == '__main__':
    main()
