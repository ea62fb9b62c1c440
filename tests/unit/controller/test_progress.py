"""Progress output: plain lines through a pipe, a bar on a terminal; messages cut at their end."""

import fcntl
import os
import select
import struct
import termios

from a3t_controller.progress import ProgressPrinter, short
from a3t_controller.rounds import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_pipe_gets_plain_lines_at_most_one_per_interval(tmp_path):
    read_fd, write_fd = os.pipe()
    clock = Clock()
    with open(write_fd, "w") as pipe:
        printer = ProgressPrinter(pipe, interval=5.0, clock=clock)
        printer.update(Progress("e", 0, "attempt", 0, 4, "round 0: attempt"))
        for done in range(1, 5):  # 1 s apart: only the one at 105 s is printed
            clock.now += 1.0 if done < 4 else 2.0
            printer.update(Progress("e", 0, "attempt", done, 4, f"task t{done}: won"))
        clock.now += 1.0
        printer.update(Progress("e", 0, "train", 1, 10, "train: epoch 1, step 1/10, loss 12.3456"))
        printer.close()
    with open(read_fd) as out:
        lines = out.read().splitlines()
    assert lines == [
        "round 0 attempt: start round 0: attempt",
        "round 0 attempt: 4/4 task t4: won",
        "round 0 attempt: end 4/4 task t4: won",
        "round 0 train: start train: epoch 1, step 1/10, loss 12.3456",
        "round 0 train: end 1/10 train: epoch 1, step 1/10, loss 12.3456",
    ]
    assert not any("\r" in line or "\x1b" in line for line in lines)


def test_the_bar_keeps_the_start_of_a_long_training_message():
    message = (
        "train: epoch 10, step 1234/5678, loss 12.3456 (positive 10.0000, negative 2.3456), "
        "1234 tok/s, ETA 3600s"
    )
    shown = short(message)
    assert shown == "train: epoch 10, step 1234/5678, loss 12.3456 (positive 10.…"
    assert len(shown) == 60
    assert short("loss 1.0") == "loss 1.0"


def test_a_terminal_gets_a_bar_that_shows_the_whole_loss():
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 150, 0, 0))  # 150 columns
    with open(slave, "w") as tty:
        printer = ProgressPrinter(tty)
        printer.update(
            Progress(
                "e",
                1,
                "train",
                7,
                1234,
                "train: epoch 2, step 7/1234, loss 12.3456 (positive 10.0000, negative 2.3456), "
                "90 tok/s, ETA 600s",
            )
        )
        printer.close()
    # A pty read returns what one write put there: read until nothing more is waiting.
    chunks = []
    while select.select([master], [], [], 0.5)[0]:
        try:
            chunks.append(os.read(master, 65536))
        except OSError:  # EIO: the terminal's other end is closed and everything was read
            break
    shown = b"".join(chunks).decode()
    os.close(master)
    assert "round 1 train" in shown and "7/1234" in shown
    assert "train: epoch 2, step 7/1234, loss 12.3456 (positive" in shown
