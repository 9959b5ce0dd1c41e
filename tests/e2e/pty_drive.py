"""Runs a command on a pseudo-terminal and types into it, as a person
pasting at a prompt would: `pty_drive.py OUT -- CMD...` reads what to type
from stdin (chunks separated by a line holding only `@WAIT@`, sent with a
pause between them, so the command has reached its prompt), and writes
everything the terminal showed to OUT. Exits with the command's status.
With PTY_DRIVE_MARK set, its value is written into OUT at the moment each
chunk is sent, so a test can tell what the terminal showed before it."""
import fcntl, os, pty, select, subprocess, sys, termios, time

out_path = sys.argv[1]
cmd = sys.argv[sys.argv.index("--") + 1:]
chunks = sys.stdin.read().split("@WAIT@\n")
master, slave = pty.openpty()
def controlling_terminal():
    # A session of its own whose controlling terminal is the pty, so that
    # /dev/tty (where password prompts read) is it.
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)

proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                        preexec_fn=controlling_terminal)
os.close(slave)
shown = b""
mark = os.environ.get("PTY_DRIVE_MARK", "").encode()

def drain(seconds):
    global shown
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([master], [], [], 0.05)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            shown += data

for chunk in chunks:
    drain(0.7)
    shown += mark
    os.write(master, chunk.encode().replace(b"\n", b"\r"))
drain(1.0)
try:
    status = proc.wait(timeout=10)
except subprocess.TimeoutExpired:
    proc.kill()
    status = proc.wait()
drain(0.2)
with open(out_path, "wb") as f:
    f.write(shown)
sys.exit(status)
