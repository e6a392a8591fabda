#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A small QMP client for the guest tests.

    qmp.py SOCKET COMMAND [JSON-ARGUMENTS]   run one command, print its
                                             "return" as JSON (exit 1 on
                                             an error reply)
    qmp.py SOCKET wait-migration TIMEOUT     poll query-migrate until the
                                             migration ends; print the last
                                             reply; exit 0 if completed
    qmp.py SOCKET wait-status STATUS TIMEOUT poll until query-migrate says
                                             STATUS (e.g. "device")
"""
import json
import socket
import sys
import time


class QMP:
    def __init__(self, path, timeout=30):
        deadline = time.time() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        self.file = self.sock.makefile('rw')
        self._read()                       # the greeting
        self.cmd('qmp_capabilities')

    def _read(self):
        while True:
            line = self.file.readline()
            if not line:
                raise EOFError('QMP connection closed')
            msg = json.loads(line)
            if 'event' not in msg:
                return msg

    def cmd(self, name, args=None):
        req = {'execute': name}
        if args:
            req['arguments'] = args
        self.file.write(json.dumps(req) + '\n')
        self.file.flush()
        return self._read()


def main(argv):
    q = QMP(argv[1])
    if argv[2] == 'wait-migration':
        deadline = time.time() + float(argv[3])
        while True:
            r = q.cmd('query-migrate')['return']
            if r.get('status') in ('completed', 'failed', 'cancelled'):
                print(json.dumps(r))
                return 0 if r['status'] == 'completed' else 1
            if time.time() > deadline:
                print(json.dumps(r))
                return 2
            time.sleep(0.1)
    if argv[2] == 'wait-status':
        deadline = time.time() + float(argv[4])
        while True:
            r = q.cmd('query-migrate')['return']
            if r.get('status') == argv[3]:
                print(json.dumps(r))
                return 0
            if r.get('status') in ('completed', 'failed', 'cancelled') or \
               time.time() > deadline:
                print(json.dumps(r))
                return 1
            time.sleep(0.02)
    args = json.loads(argv[3]) if len(argv) > 3 else None
    r = q.cmd(argv[2], args)
    print(json.dumps(r.get('return', r)))
    return 0 if 'return' in r else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
