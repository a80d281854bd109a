"""test_talk.py - end-to-end tests of tcpchat-talk: two programs talking
both ways at once and ending on "bye" or end of input, and one talking to
an independent python peer."""

import socket
import subprocess

from tcpchat_test import (TestCase, Reader, deadline, main, remaining, seconds,
                          spawn)

TALK = 'tcpchat-talk'


class Talker:
    """A running tcpchat-talk with its stdin, stdout and stderr."""

    def __init__(self, *args):
        self.proc = spawn(TALK, *args, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.err = Reader(self.proc.stderr)

    def type(self, text):
        self.proc.stdin.write(text.encode() + b'\n')
        self.proc.stdin.flush()

    def end_input(self):
        self.proc.stdin.close()

    def exit_code(self, timeout=10):
        return self.proc.wait(timeout=seconds(timeout))


def listen():
    """A listening tcpchat-talk -l, its address, and a Reader of its output."""
    t = Talker('-l', '-p', '0')
    line = t.proc.stdout.readline()
    assert line.startswith(b'listening on 127.0.0.1:'), line
    t.out = Reader(t.proc.stdout)
    return t, int(line.split(b':')[-1])


class TalkTest(TestCase):

    def test_contract(self):
        self.check_help_and_version(TALK)
        self.assert_usage_error(TALK)
        self.assert_usage_error(TALK, '-l', 'extra')
        self.assert_usage_error(TALK, '127.0.0.1', 'notaport')

    def test_two_talks_both_ways_then_bye(self):
        a, port = listen()
        b = Talker('127.0.0.1', port)
        b.out = Reader(b.proc.stdout)
        a.err.wait_for(r'connected')
        # Not turn-taking: each side sends twice in a row.
        a.type('hello from a')
        a.type('a again')
        b.type('hello from b')
        b.type('\u4f60\u597d')
        b.out.wait_for(r'^hello from a$')
        b.out.wait_for(r'^a again$')
        a.out.wait_for(r'^hello from b$')
        a.out.wait_for('^\u4f60\u597d$')
        b.type('bye')
        a.out.wait_for(r'^bye$')
        self.assertEqual(a.exit_code(), 0)
        self.assertEqual(b.exit_code(), 0)

    def test_end_of_input_ends_both(self):
        a, port = listen()
        b = Talker('127.0.0.1', port)
        b.out = Reader(b.proc.stdout)
        a.err.wait_for(r'connected')
        a.type('last words')
        a.end_input()
        b.out.wait_for(r'^last words$')
        self.assertEqual(a.exit_code(), 0)
        self.assertEqual(b.exit_code(), 0)

    def test_with_an_independent_peer(self):
        a, port = listen()
        s = socket.create_connection(('127.0.0.1', port), timeout=seconds(10))
        s.sendall(b'hi from python\r\n')
        a.out.wait_for(r'^hi from python$')
        a.type('hi from talk')
        buf = b''
        dl = deadline(10)
        while b'hi from talk\n' not in buf:
            s.settimeout(remaining(dl))
            buf += s.recv(4096)
        s.sendall(b'bye\n')
        self.assertEqual(a.exit_code(), 0)
        s.close()


if __name__ == '__main__':
    main()
