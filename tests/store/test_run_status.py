"""status.json tells a live run from a killed one: a 'running' status names its process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from rnnrank.store.run_dir import RunDir

WRITE_AND_DIE = ("import os, sys; from rnnrank.store.run_dir import RunDir; "
                 "RunDir(sys.argv[1]).write_status('running', step=40); os._exit(0)")


def test_a_running_status_whose_process_is_gone_reads_as_killed(tmp_path):
    subprocess.run([sys.executable, "-c", WRITE_AND_DIE, str(tmp_path)], check=True)
    status = RunDir(tmp_path).read_status()
    assert status["status"] == "killed" and status["step"] == 40
    assert "is gone (last checkpoint at step 40)" in status["message"]


def test_a_live_owner_stays_running_and_another_host_is_trusted(tmp_path):
    d = RunDir(tmp_path)
    d.write_status("running", step=3)  # this very process: alive
    assert d.read_status()["status"] == "running"
    assert d.read_status()["owner"]["pid"] == os.getpid()
    import json

    status = json.loads(d.status_path.read_text())
    status["owner"] = {"host": socket.gethostname() + "-elsewhere", "pid": 1, "start": "0"}
    d.status_path.write_text(json.dumps(status))
    assert d.read_status()["status"] == "running"  # cannot check another host's processes
    status["owner"] = {"host": socket.gethostname(), "pid": os.getpid(), "start": "-1"}
    d.status_path.write_text(json.dumps(status))
    assert d.read_status()["status"] == "killed"  # the pid was reused by another process
