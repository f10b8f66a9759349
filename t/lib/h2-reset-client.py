#!/usr/bin/env python3
"""HTTP/2 client for t/600-http2.t: resets a stream mid-body, then reuses
the connection.

    h2-reset-client.py HOST PORT BIG_PATH SMALL_PATH COOKIE

Opens one TLS connection (ALPN h2), asks for BIG_PATH, and as soon as the
first DATA frame of it arrives sends RST_STREAM (CANCEL) for that stream.
Then, on the same connection, asks for SMALL_PATH and reads it whole.
Prints "reset after N bytes", "status S" and "body ..." (the small body).
Needs python3-h2.
"""

import socket
import ssl
import sys

import h2.config
import h2.connection
import h2.events


def main():
    host, port, big, small, cookie = sys.argv[1:6]

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])

    raw = socket.create_connection((host, int(port)), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    if s.selected_alpn_protocol() != "h2":
        print("no h2 from ALPN: %r" % s.selected_alpn_protocol())
        return 1

    c = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    c.initiate_connection()
    s.sendall(c.data_to_send())

    def headers(path):
        return [(":method", "GET"), (":path", path), (":scheme", "https"),
                (":authority", "localhost"), ("cookie", cookie)]

    sid = c.get_next_available_stream_id()
    c.send_headers(sid, headers(big), end_stream=True)
    s.sendall(c.data_to_send())

    got = 0
    reset = False
    while not reset:
        data = s.recv(65536)
        if not data:
            print("connection closed before the first DATA frame")
            return 1
        for ev in c.receive_data(data):
            if isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                got += len(ev.data)
                c.acknowledge_received_data(ev.flow_controlled_length, sid)
                if not reset:
                    c.reset_stream(sid, error_code=0x8)      # CANCEL
                    reset = True
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                print("stream ended before it could be reset")
                return 1
        s.sendall(c.data_to_send())

    print("reset after %d bytes" % got)

    sid2 = c.get_next_available_stream_id()
    c.send_headers(sid2, headers(small), end_stream=True)
    s.sendall(c.data_to_send())

    status = None
    body = b""
    done = False
    while not done:
        data = s.recv(65536)
        if not data:
            print("connection closed before the second response ended")
            return 1
        for ev in c.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived) \
               and ev.stream_id == sid2:
                status = dict(ev.headers).get(":status")
            elif isinstance(ev, h2.events.DataReceived):
                # frames of the reset stream still in flight count against
                # the connection window: give it back
                c.acknowledge_received_data(ev.flow_controlled_length,
                                            ev.stream_id)
                if ev.stream_id == sid2:
                    body += ev.data
            elif isinstance(ev, h2.events.StreamEnded) \
                 and ev.stream_id == sid2:
                done = True
        s.sendall(c.data_to_send())

    c.close_connection()
    s.sendall(c.data_to_send())
    s.close()

    print("status %s" % status)
    sys.stdout.write("body " + body.decode("utf-8", "replace"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
