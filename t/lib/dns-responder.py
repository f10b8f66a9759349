#!/usr/bin/env python3
"""A tiny DNS server for tests: answers A queries from a file.

    dns-responder.py --port N --zone FILE [--host 127.0.0.1]

FILE holds "NAME IPV4" lines; it is read again for every query, so a test
changes an answer by rewriting it.  Names not in it get NXDOMAIN, other
query types an empty answer.  TTL 1.  Each query is logged to stderr.
"""

import argparse
import socket
import struct
import sys


def read_zone(path):
    zone = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    zone[parts[0].lower().rstrip('.')] = parts[1]
    except OSError:
        pass
    return zone


def parse_question(msg):
    labels, i = [], 12
    while True:
        n = msg[i]
        i += 1
        if n == 0:
            break
        labels.append(msg[i:i + n].decode('ascii', 'replace'))
        i += n
    qtype, qclass = struct.unpack('!HH', msg[i:i + 4])
    return '.'.join(labels).lower(), qtype, qclass, msg[12:i + 4]


def answer(msg, zone):
    qid, flags, qd = struct.unpack('!HHH', msg[:6])
    name, qtype, qclass, question = parse_question(msg)
    rd = flags & 0x0100
    ip = zone.get(name)
    if ip is None:
        return struct.pack('!HHHHHH', qid, 0x8183 | rd, 1, 0, 0, 0) \
            + question, name, qtype, None
    if qtype != 1:
        return struct.pack('!HHHHHH', qid, 0x8180 | rd, 1, 0, 0, 0) \
            + question, name, qtype, None
    rr = struct.pack('!HHHIH', 0xc00c, 1, 1, 1, 4) + socket.inet_aton(ip)
    return struct.pack('!HHHHHH', qid, 0x8180 | rd, 1, 1, 0, 0) \
        + question + rr, name, qtype, ip


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--zone', required=True)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.host, a.port))
    while True:
        msg, peer = s.recvfrom(4096)
        try:
            reply, name, qtype, ip = answer(msg, read_zone(a.zone))
        except (IndexError, struct.error):
            continue
        print('query %s type %d -> %s' % (name, qtype, ip), file=sys.stderr,
              flush=True)
        s.sendto(reply, peer)


if __name__ == '__main__':
    main()
