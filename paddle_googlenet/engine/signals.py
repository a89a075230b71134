"""Stopping on SIGINT or SIGTERM between two training steps."""

import contextlib
import os
import signal
import threading
import time

import paddle

from .runtime import world_size

__all__ = ["StopSignal"]

# paddle.distributed.launch stops its workers with SIGTERM sent up to three times,
# 0.2 s apart: signals this soon after the first are that one request repeated.
REPEAT_WINDOW = 1.0


class StopSignal:
    """While ``installed()``, SIGINT (Ctrl-C) and SIGTERM ask training to stop after
    the current step (a callback saves a checkpoint and stops); a second one, sent
    ``REPEAT_WINDOW`` seconds or more after the first, stops at once without saving.
    ``signum`` is the signal received, if any."""

    def __init__(self):
        self.signum = None
        self.first_at = None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "a signal to another process"

    def requested(self) -> bool:
        """Whether a signal asked to stop; under a multi-process launch, whether any
        process got one, so that all of them stop at the same step (every process
        must call this at the same points)."""
        wanted = self.signum is not None
        if world_size() > 1:
            flag = paddle.to_tensor([int(wanted)], dtype="int32")
            paddle.distributed.all_reduce(flag, op=paddle.distributed.ReduceOp.MAX)
            wanted = bool(flag.item())
        return wanted

    @contextlib.contextmanager
    def installed(self):
        """Install the handlers in the main thread of this process only (DataLoader
        workers forked with them ignore them) and restore the previous ones after."""
        self.signum = None
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        pid = os.getpid()

        def request_stop(signum, frame):
            if os.getpid() != pid:  # a loader worker: the main process decides
                return
            if self.signum is not None:
                if time.monotonic() - self.first_at < REPEAT_WINDOW:
                    return  # the same request, repeated (the launcher's way)
                raise KeyboardInterrupt
            self.signum, self.first_at = signum, time.monotonic()
            # os.write, not logging or print: safe whatever the main thread was writing.
            os.write(2, f"\n{signal.Signals(signum).name}: stopping after the current step "
                        f"to save a checkpoint (send it again a second later to stop at once "
                        f"without saving)\n".encode())

        previous = {signum: signal.signal(signum, request_stop)
                    for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                # None: a handler set outside Python (Paddle's crash reporter); the
                # signal module cannot put it back, so the default takes its place.
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
