"""A nordicd started by a test, driven over its control socket with pyzmq
(the independent client), its log kept in a file the test can read."""
import json
import os
import signal
import socket
import subprocess
import time

import zmq

from nordic_testlib import BUILD

NORDICD = os.path.join(BUILD, "daemon", "nordicd")
NORDCTL = os.path.join(BUILD, "tools", "nordctl")
DEVSIM = os.path.join(BUILD, "tools", "nordic-devsim")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout=10.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class Daemon:
    """nordicd with its own state, data and socket directories under `home`."""

    def __init__(self, home, device, args=(), env=None, data_dir=None, wait_ready=True,
                 preexec_fn=None):
        self.home = home
        os.makedirs(os.path.join(home, "run"), exist_ok=True)
        self.data_dir = data_dir or os.path.join(home, "data")
        self.ctl = "ipc://%s/run/control" % home
        self.log_path = os.path.join(home, "nordicd.log")
        self.log = open(self.log_path, "a")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [NORDICD, "--device", device, "--data-dir", self.data_dir, "--state-dir",
             os.path.join(home, "state"), "--ctl", self.ctl, "--pub",
             "ipc://%s/run/pub" % home] + list(args),
            stdout=self.log, stderr=subprocess.STDOUT, env=full_env, preexec_fn=preexec_fn)
        self.zctx = zmq.Context()
        self.req = None
        self._connect()
        if wait_ready and not wait_for(self._answers, 15):
            raise RuntimeError("nordicd did not come up; log:\n" + self.text())

    def _connect(self):
        if self.req is not None:
            self.req.close(linger=0)
        self.req = self.zctx.socket(zmq.REQ)
        self.req.setsockopt(zmq.RCVTIMEO, 30000)
        self.req.setsockopt(zmq.LINGER, 0)
        self.req.connect(self.ctl)

    def _answers(self):
        if self.proc.poll() is not None or not os.path.exists(self.ctl[6:]):
            return False
        try:
            return self.ask({"cmd": "status"})["ok"]
        except zmq.Again:
            self._connect()
            return False

    def ask(self, obj):
        return self.ask_raw(json.dumps(obj).encode())

    def ask_raw(self, data):
        self.req.send(data)
        return json.loads(self.req.recv())

    def status(self):
        return self.ask({"cmd": "status"})["status"]

    def text(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.req.close(linger=0)
        self.zctx.term()
        self.log.close()
        return rc
