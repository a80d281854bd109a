#!/usr/bin/env python3
"""make_seeds.py - write the seed corpora fuzz/corpus/frame/ and
fuzz/corpus/room/ from the inputs of the unit and end-to-end tests
(tests/check_frame.c, tests/check_lines.c, tests/test_chat.py,
tests/test_time.py).  The files are committed; run this again after
changing it:

    python3 fuzz/make_seeds.py

Input formats: see the comments at the top of fuzz_frame.c and
fuzz_room.c.
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------- frame


def frame(max_line, *segments):
    """byte 0 the limit, then (length byte, bytes) per segment; longer
    segments are split at 255 bytes."""
    out = bytearray([max_line])
    for seg in segments:
        if isinstance(seg, str):
            seg = seg.encode('utf-8')
        while True:
            piece, seg = seg[:255], seg[255:]
            out.append(len(piece))
            out += piece
            if not seg:
                break
    return bytes(out)


def bytewise(data):
    return [data[i:i + 1] for i in range(len(data))]


CHAT_TEXTS = (b'hello\n', b'crlf line\r\n', b'nul\x00inside\n',
              '\u4f60\u597d'.encode('gbk') + b'\n', b'\xff\xfe invalid \xc0 utf-8\n',
              b'tab\there\n', b'  spaced  \n')

FRAME_SEEDS = {
    # check_lines.c lf_and_crlf: "\r" and "\n" in different reads
    'lf_and_crlf': frame(255, b'a\nb\r\nc\r\r\n\r\n\n x \r\n\rd\ne\rf\r\n', b'g\r',
                         b'\nh', b'\r', b'\n', b'i\r\r', b'\n'),
    # binary bytes, whole and one at a time
    'binary': frame(255, b'nul\0in\0middle\n\0\n\xff\xfe\xc3\x28\xed\xa0\x80\n'
                         b'\xc4\xe3\xba\xc3\r\ncaf\xe9\x80\x7f\x01\r\n'),
    'binary_bytewise': frame(255, *bytewise(b'nul\0in\0\n\xff\xfe\r\n\xc4\xe3\r\n')),
    'empty_lines': frame(255, b'\n\r\n\n', b'x\n\n\r', b'\n'),
    # test_chat.py: the texts members send
    'chat_texts': frame(100, b''.join(CHAT_TEXTS)),
    'chat_texts_split': frame(100, *[t[:3] for t in CHAT_TEXTS] + [t[3:] for t in CHAT_TEXTS]),
    # test_long_lines: max 100, lines of 100 and 101, then a long run
    'long_lines': frame(100, b'a' * 100 + b'\n' + b'b' * 101 + b'\nafter\n'),
    'long_run': frame(100, b'z' * 255, b'z' * 255, b'z' * 100, b'\nstill here\n'),
    # the limit exactly, with "\r\n", and one over, split around the "\r"
    'limit_crlf': frame(10, b'x' * 10 + b'\r', b'\n' + b'y' * 10 + b'\r\r', b'\n',
                        b'z' * 11, b'\r\n'),
    'limit_window': frame(4, b'abcd\r', b'\nabcde', b'\r\nab', b'cdef', b'\n'),
    'max_zero': frame(0, b'\n\r\n', b'a\n', b'\r', b'\n', b'\r\r\n'),
    'max_one': frame(1, b'a\nab\n\r\r\n', b'abc', b'\n'),
    # test_time.py: greetings, one too long for its 1024-byte limit
    'greetings': frame(255, 'hello \u4f60\u597d\r\n'.encode('utf-8'),
                       '\u4f60\u597d\u4e16\u754c'.encode('gbk') + b'\n', b'no newline yet'),
    'unterminated_long': frame(20, b'q' * 21, b'q' * 30),
}

# ---------------------------------------------------------------- room

DICT = ['ann', 'bob', 'cat', 'dan', 'x' * 32, 'x' * 33, 'two words', '', 'bye', 'bye\r',
        '/who', '/nick ann', '/nick bob', '/nick eve', '/nick ', '/nick a b',
        '/dance', 'hello', '\r', 'hi\r', '\xff\xfe\xc0', 'ann\r', '/nick \u732b',
        'a:b', '/who\r', '\x7f', 'tab\there']


def D(s):
    return DICT.index(s)


class Script:
    """Operations of fuzz_room.c; batch=True sets the "same batch" bit."""

    def __init__(self, max_line=64, max_queue=4096, max_clients=8):
        q = max_queue - 1
        self.b = bytearray([max_line - 1, q & 0xff, (q >> 8) & 0xff, max_clients - 1])

    def op(self, kind, slot, *args, batch=False):
        self.b.append(kind | slot << 4 | (0x80 if batch else 0))
        self.b += bytes(args)
        return self

    def connect(self, slot, slow=False, **kw):
        return self.op(0, slot, 1 if slow else 0, **kw)

    def raw(self, slot, data, **kw):
        if isinstance(data, str):
            data = data.encode('utf-8')
        while True:
            piece, data = data[:255], data[255:]
            self.op(1, slot, len(piece), **kw)
            self.b += piece
            if not data:
                return self

    def say(self, slot, word, **kw):
        return self.op(2, slot, D(word), **kw)

    def numbered(self, slot, count=16, **kw):
        return self.op(3, slot, count - 1, **kw)

    def read(self, slot, **kw):
        return self.op(4, slot, **kw)

    def shut(self, slot, **kw):
        return self.op(5, slot, **kw)

    def close(self, slot, **kw):
        return self.op(6, slot, **kw)

    def write_event(self, slot, **kw):
        return self.op(7, slot, **kw)

    def toggle_read(self, slot, **kw):
        return self.op(8, slot, **kw)

    def step(self):
        return self.op(9, 0)

    def join(self, slot, name, **kw):
        self.connect(slot, **kw)
        if name in DICT:
            return self.say(slot, name)
        return self.raw(slot, name + '\n')

    def bytes(self):
        return bytes(self.b)


def room_seeds():
    seeds = {}

    s = Script().join(0, 'ann').connect(1)
    for bad in ('', 'two words', 'x' * 33):
        s.say(1, bad)
    s.raw(1, 'tab\there\n').raw(1, 'bell\x07\n').say(1, 'ann').say(1, 'x' * 32)
    s.connect(2).raw(2, '\u732b\n')
    seeds['names_and_join'] = s.bytes()

    s = Script(max_line=100).join(0, 'ann').join(1, 'bob').join(2, 'cat')
    for t in CHAT_TEXTS:
        s.raw(0, t)
    s.say(0, '/who').say(0, '').say(0, '/nick eve').say(1, '/nick ann')
    s.raw(1, '/nick cat\n').say(1, '/dance').say(2, '/who').say(0, '/nick eve')
    seeds['messages'] = s.bytes()

    s = Script().join(0, 'ann').join(1, 'bob').join(2, 'cat').join(3, 'dan')
    s.say(1, 'bye').read(1).close(1).close(2)
    s.raw(3, 'unread data\n', batch=True).close(3)    # closes with input pending
    s.join(1, 'bob').numbered(0, 4)
    seeds['bye_eof_reset'] = s.bytes()

    s = Script(max_line=100).join(0, 'ann').join(1, 'bob')
    s.raw(0, 'a' * 100 + '\n' + 'b' * 101 + '\nafter\n')
    for _ in range(8):
        s.raw(0, 'z' * 255)
    s.raw(0, '\nstill here\n')
    seeds['long_lines'] = s.bytes()

    s = Script(max_clients=2).join(0, 'ann').connect(1).connect(2).read(2).close(2)
    s.say(1, 'bob').connect(2).read(2)
    seeds['full_room'] = s.bytes()

    s = Script(max_line=128, max_queue=2000)
    s.join(0, 'slow', slow=True).join(1, 'flood').join(2, 'ann').join(3, 'bob')
    for _ in range(40):
        s.numbered(1, 16)
    s.read(0)
    seeds['slow_reader'] = s.bytes()

    s = Script().join(0, 'talker')
    for i in range(1, 7):
        s.join(i, 'q%d' % i)
    s.join(7, 'stay')
    for i in range(1, 7):
        s.numbered(0, 16, batch=True)
        if i % 3 == 0:
            s.raw(i, 'pending\n', batch=True).close(i, batch=True)
        elif i % 3 == 1:
            s.close(i, batch=True)
        else:
            s.say(i, 'bye', batch=True)
    s.step()
    seeds['leave_mid_broadcast'] = s.bytes()

    s = Script().join(0, 'ann').join(1, 'bob').join(2, 'cat')
    s.numbered(0, 8).shut(0).numbered(1, 8).read(0).numbered(2, 8, batch=True).shut(2)
    s.write_event(1).step()
    seeds['half_close'] = s.bytes()

    s = Script().join(0, 'ann').join(1, 'bob')
    s.raw(0, 'hel', batch=True).raw(0, 'lo\r', batch=True).raw(0, '\n').raw(0, 'partial')
    s.close(0)
    seeds['partial_lines'] = s.bytes()

    s = Script(max_line=40).join(0, 'ann').join(1, 'bob').say(0, '/nick ann')
    s.say(0, '/nick bob').say(0, '/nick \u732b').raw(0, '/nick x\n').raw(0, '/nick ' + 'y' * 33 + '\n')
    s.say(1, '/who').toggle_read(1).numbered(0, 16).toggle_read(1).read(1)
    seeds['nick'] = s.bytes()

    s = Script(max_line=1, max_queue=1, max_clients=1).join(0, 'a').connect(1).read(1)
    s.numbered(0, 2).say(0, 'hello')
    seeds['tiny_limits'] = s.bytes()
    return seeds


def write(folder, seeds):
    path = os.path.join(HERE, 'corpus', folder)
    os.makedirs(path, exist_ok=True)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(path, name), 'wb') as f:
            f.write(data)
    print('%s: %d seeds' % (path, len(seeds)))


if __name__ == '__main__':
    write('frame', FRAME_SEEDS)
    write('room', room_seeds())
