"""tcpchat_test.py - helpers shared by the end-to-end tests of the example
programs (python3 standard library only).

The programs are looked up in $TCPCHAT_BINDIR (set by `make check`), else in
../examples next to this file.  Every wait has a deadline; every process
started here is killed at the end of each test and at exit, whatever
happens.

Environment knobs:
  TCPCHAT_BINDIR         where the programs are
  TCPCHAT_WRAPPER        a command to run every program under, e.g.
                         "libtool --mode=execute valgrind --error-exitcode=99"
  TCPCHAT_TIMEOUT_SCALE  multiply every deadline (e.g. 5 under valgrind)
"""

import atexit
import os
import re
import select
import shlex
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BINDIR = os.environ.get('TCPCHAT_BINDIR') or os.path.join(HERE, '..', 'examples')
WRAPPER = shlex.split(os.environ.get('TCPCHAT_WRAPPER', ''))
SCALE = float(os.environ.get('TCPCHAT_TIMEOUT_SCALE', '1') or 1)

# Under a wrapper such as valgrind a program may print more on stderr than
# its own lines; tests that count stderr lines then only look at ours.
WRAPPED = bool(WRAPPER)


def seconds(s):
    """A timeout, scaled for slow runs."""
    return s * SCALE


def deadline(s):
    return time.monotonic() + seconds(s)


def remaining(dl):
    """Seconds left before deadline dl; raises if it has passed."""
    left = dl - time.monotonic()
    if left <= 0:
        raise TimeoutError('deadline passed')
    return left


def left(dl):
    """Seconds left before deadline dl, or 0 (for joins and waits)."""
    return max(dl - time.monotonic(), 0)


def command(prog, *args):
    path = os.path.join(BINDIR, prog)
    if not os.path.exists(path):
        raise unittest.SkipTest('%s not built (looked in %s)' % (prog, BINDIR))
    return WRAPPER + [path] + [str(a) for a in args]


# ---------------------------------------------------------------- processes

_procs = []     # every process spawned, so that none outlives the tests


def kill_all():
    """Kill whatever is still running (the cleanup of every test)."""
    while _procs:
        proc = _procs.pop()
        if proc.poll() is None:
            try:
                proc.kill()
            except OSError:
                pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for f in (proc.stdin, proc.stdout, proc.stderr):
            if f is not None:
                f.close()


atexit.register(kill_all)


class Reader(threading.Thread):
    """Reads a pipe to its end in the background, so that the child never
    blocks on a full pipe, and lets the test wait for a line to appear."""

    def __init__(self, f):
        super().__init__(daemon=True)
        self.f = f
        self.lines = []
        self.cond = threading.Condition()
        self.done = False
        self.start()

    def run(self):
        try:
            for line in iter(self.f.readline, b''):
                with self.cond:
                    self.lines.append(line)
                    self.cond.notify_all()
        except (OSError, ValueError):
            pass
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def text(self):
        with self.cond:
            return b''.join(self.lines).decode('utf-8', 'replace')

    def wait_for(self, pattern, timeout=10, count=1):
        """Wait until count lines match the regex pattern (str or bytes);
        return the matches.  Fails the test at the deadline."""
        if isinstance(pattern, str):
            pattern = pattern.encode()
        rx = re.compile(pattern)
        dl = deadline(timeout)
        with self.cond:
            while True:
                found = [m for m in map(rx.search, self.lines) if m]
                if len(found) >= count:
                    return found
                left = dl - time.monotonic()
                if left <= 0 or self.done:
                    raise AssertionError(
                        'expected %d line(s) matching %r, got %d; output:\n%s'
                        % (count, pattern, len(found),
                           b''.join(self.lines).decode('utf-8', 'replace')))
                self.cond.wait(min(left, 0.5))


class Server:
    """A running server program: proc, host, port, its logs."""

    def __init__(self, proc, address, stdout, stderr):
        self.proc = proc
        self.address = address
        self.stdout = stdout        # Reader of what follows the first line
        self.stderr = stderr        # Reader of the log
        m = re.match(r'^\[(.*)\]:(\d+)$', address) or \
            re.match(r'^([^:]*):(\d+)$', address)
        if not m:
            raise AssertionError('bad address in listening line: %r' % address)
        self.host = m.group(1)
        self.port = int(m.group(2))

    def connect(self, timeout=10):
        return socket.create_connection((self.host, self.port),
                                        timeout=seconds(timeout))

    def alive(self):
        return self.proc.poll() is None

    def wait_exit(self, timeout=10):
        """Wait for the program to end by itself; return its exit code."""
        try:
            return self.proc.wait(timeout=seconds(timeout))
        except subprocess.TimeoutExpired:
            raise AssertionError('%s did not exit within %ss; log:\n%s'
                                 % (self.proc.args, timeout, self.stderr.text()))

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Send sig and check that the program exits 0 within the deadline."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.wait_exit(timeout)
        self.stderr.join(seconds(timeout))
        if code != 0:
            raise AssertionError('%s exited %s after %s; log:\n%s'
                                 % (self.proc.args, code,
                                    signal.Signals(sig).name, self.stderr.text()))


def spawn(prog, *args, **popen_args):
    """Start a program in the background (subprocess.Popen arguments as
    keywords); it is killed at the end of the test if still running."""
    proc = subprocess.Popen(command(prog, *args), **popen_args)
    _procs.append(proc)
    return proc


def start_server(prog, *args, timeout=10):
    """Start a server program and wait for its "listening on ADDR" line."""
    proc = spawn(prog, *args, stdin=subprocess.DEVNULL,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stderr = Reader(proc.stderr)
    # The first line, read byte by byte under a deadline; the rest of stdout
    # is drained in the background.
    fd = proc.stdout.fileno()
    line = b''
    dl = deadline(timeout)
    while not line.endswith(b'\n'):
        left = dl - time.monotonic()
        ready = select.select([fd], [], [], max(left, 0))[0] if left > 0 else []
        if not ready:
            raise AssertionError('%s printed no listening line within %ss; log:\n%s'
                                 % (prog, timeout, stderr.text()))
        byte = os.read(fd, 1)
        if not byte:
            proc.wait(timeout=seconds(10))
            stderr.join(seconds(10))
            raise AssertionError('%s exited (%s) before listening; log:\n%s'
                                 % (prog, proc.returncode, stderr.text()))
        line += byte
        if len(line) > 4096:
            raise AssertionError('listening line too long: %r' % line[:100])
    m = re.match(r'^listening on (\S+)\n$', line.decode('utf-8', 'replace'))
    if not m:
        raise AssertionError('%s: unexpected first line %r' % (prog, line))
    return Server(proc, m.group(1), Reader(proc.stdout), stderr)


def run(prog, *args, input=None, timeout=30):
    """Run a program to its end; returns CompletedProcess with bytes."""
    try:
        return subprocess.run(command(prog, *args), input=input,
                              stdin=None if input is not None else subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=seconds(timeout))
    except subprocess.TimeoutExpired as e:
        raise AssertionError('%s %s did not finish within %ss'
                             % (prog, ' '.join(map(str, args)), timeout)) from e


# ---------------------------------------------------------------- sockets

def recv_until_eof(sock, dl, limit=64 << 20):
    """Everything sock receives until the peer closes, before deadline dl
    (a time.monotonic() value).  At most limit bytes."""
    chunks = []
    total = 0
    while True:
        sock.settimeout(remaining(dl))
        try:
            data = sock.recv(1 << 16)
        except socket.timeout:
            raise TimeoutError('no EOF before the deadline (%d bytes so far)'
                               % total)
        if not data:
            return b''.join(chunks)
        chunks.append(data)
        total += len(data)
        if total > limit:
            raise AssertionError('more than %d bytes received' % limit)


def reset(sock):
    """Close sock with an RST instead of a FIN (SO_LINGER with timeout 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    sock.close()


def free_port():
    """A port that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def ipv6_loopback_available():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(('::1', 0))
        return True
    except OSError:
        return False


class FakeServer(threading.Thread):
    """A one-connection python server for testing the clients: handler(conn)
    runs on the accepted socket, which is closed afterwards."""

    def __init__(self, handler, timeout=10):
        super().__init__(daemon=True)
        self.handler = handler
        self.timeout = seconds(timeout)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(1)
        self.sock.settimeout(self.timeout)
        self.port = self.sock.getsockname()[1]
        self.error = None
        self.start()

    def run(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(self.timeout)
                self.handler(conn)
        except Exception as e:          # reported by finish()
            self.error = e
        finally:
            self.sock.close()

    def finish(self):
        self.join(self.timeout + 1)
        if self.is_alive():
            raise AssertionError('fake server still running')
        if self.error is not None:
            raise self.error


# ---------------------------------------------------------------- tests

def header_version():
    """The version the public header declares, or None if not found."""
    for top in (os.environ.get('top_srcdir'), os.path.join(HERE, '..')):
        try:
            with open(os.path.join(top or '', 'include', 'tcpchat.h')) as f:
                text = f.read()
        except OSError:
            continue
        parts = [re.search(r'#define TCPCHAT_VERSION_%s\s+(\d+)' % p, text)
                 for p in ('MAJOR', 'MINOR', 'PATCH')]
        if all(parts):
            return '.'.join(m.group(1) for m in parts)
    return None


class TestCase(unittest.TestCase):
    """Kills leftover processes after every test; checks for the common
    program contract."""

    def setUp(self):
        self.addCleanup(kill_all)

    def start_server(self, prog, *args, **kw):
        return start_server(prog, *args, **kw)

    def stderr_lines(self, result):
        """The program's own stderr lines (not a wrapper's)."""
        lines = result.stderr.decode('utf-8', 'replace').splitlines()
        if WRAPPED:
            lines = [l for l in lines if not re.match(r'^==\d+==', l)]
        return lines

    def assert_one_error_line(self, result, prog, code, *fragments):
        """result exited code with exactly one stderr line "prog: ...",
        containing every fragment."""
        lines = self.stderr_lines(result)
        self.assertEqual(result.returncode, code,
                         'exit code; stderr: %r' % result.stderr)
        self.assertEqual(len(lines), 1, 'one stderr line: %r' % result.stderr)
        self.assertTrue(lines[0].startswith(prog + ': '), lines[0])
        for frag in fragments:
            self.assertIn(frag, lines[0])
        return lines[0]

    def assert_usage_error(self, prog, *args):
        r = run(prog, *args)
        line = self.assert_one_error_line(r, prog, 2)
        self.assertTrue(line.endswith(' (try --help)'), line)
        self.assertEqual(r.stdout, b'')

    def check_help_and_version(self, prog):
        for opt in ('-h', '--help'):
            r = run(prog, opt)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.startswith(b'Usage: ' + prog.encode()),
                            r.stdout)
            self.assertEqual(self.stderr_lines(r), [])
        version = header_version()
        version = re.escape(version) if version else r'\d+\.\d+\.\d+'
        for opt in ('-V', '--version'):
            r = run(prog, opt)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout.decode(), r'^%s \(libtcpchat\) %s\n$'
                             % (re.escape(prog), version))
            self.assertEqual(self.stderr_lines(r), [])


def main():
    unittest.main(verbosity=2)
