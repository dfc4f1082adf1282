"""Run a command the way a login shell runs a job, and record how it ended.

    python exit_wrapper.py PID_FILE STATUS_FILE COMMAND...

Writes the command's pid to PID_FILE once it started, and its exit status to STATUS_FILE
once it ended, as Popen reports it: 0-255 for an exit, -N when signal N killed it (a shell's
`$?` says 128+N for both, which hides whether the program handled the signal).

Run as a tmux pane's command this process is the session leader: when the terminal goes away
the kernel sends SIGHUP to it alone, and, like bash, it passes the SIGHUP on to its job. It
ignores SIGTERM and SIGINT itself (a test sends them to the job's pid).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def write_atomically(path: str, text: str) -> None:
    with open(path + ".tmp", "w") as file:
        file.write(text)
    os.replace(path + ".tmp", path)


def main() -> None:
    pid_file, status_file, *command = sys.argv[1:]
    child = subprocess.Popen(command)
    signal.signal(signal.SIGHUP, lambda *_: child.send_signal(signal.SIGHUP))
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    write_atomically(pid_file, f"{child.pid}\n")
    write_atomically(status_file, f"{child.wait()}\n")


if __name__ == "__main__":
    main()
