"""nbgrader's Execute preprocessor with every stream from the kernel capped.

nbgrader's Execute records an error from the kernel's reply even when the student silenced the
traceback display. Here, on top of it, nothing the kernel sends can grow without bound in the
grader: every iopub message (stream, display, result, error alike) counts against the notebook's
output budget, the probes' answers against their own; beyond a budget messages are dropped and
counted; widget (comm) messages and display updates are ignored; the error appended from a
reply is shortened; and ZeroMQ itself refuses any single message above ``Limits.message``
(sandbox.py). ZeroMQ closes a connection for good after such a message, so when a cell ended
without its output channel saying so, the channel is checked before the next cell and, if the
kernel is no longer heard, opened again (``reconnected`` counts it; what was sent in between is
lost). ``hooks`` (before(index), after(index)) run around every cell: the memory tests are
measured there.
"""

from __future__ import annotations

import asyncio
import json
import queue

from nbclient.util import run_sync
from nbgrader.preprocessors import Execute

from .kernel.probe import MIME

MAX_OUTPUT = 2 * 2**20  # bytes of output kept per notebook (the rest is dropped, noted)
MAX_ANSWERS = 16 * 2**20  # bytes of probe answers per notebook
MAX_TRACEBACK = 20_000  # characters of an error appended from a reply
HEAR_TRIES = 20  # kernel_info requests (0.5 s each) before the output is given up


class Hooks:
    """Called around each cell (index in the notebook being run)."""

    def before(self, index: int) -> None:
        pass

    def after(self, index: int) -> None:
        pass


class CappedExecute(Execute):
    """See the module docstring; ``started`` is the set of cell indices that began running."""

    def __init__(self, *args, hooks: Hooks | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.hooks = hooks or Hooks()
        self.started: set[int] = set()
        self.spent = {"output": 0, "answers": 0}
        self.dropped = 0
        self.reconnected = 0
        self.idle: set[int] = set()  # cells whose end the output channel reported
        self.last_code: int | None = None

    def preprocess_cell(self, cell, resources, index):
        self.started.add(index)
        if cell.cell_type == "code" and cell.source.strip():
            if self.last_code is not None and self.last_code not in self.idle:
                self._hear_kernel()
            self.last_code = index
        self.hooks.before(index)
        try:
            return super().preprocess_cell(cell, resources, index)
        finally:
            self.hooks.after(index)

    def _hear_kernel(self) -> None:
        """Make sure the output channel hears the kernel; open it again if it went deaf."""
        if run_sync(self._heard)():
            return
        for _ in range(HEAR_TRIES):
            self.kc.iopub_channel.close()
            self.kc._iopub_channel = None  # the client opens and subscribes a new socket
            if run_sync(self._heard)():
                self.reconnected += 1
                return

    async def _heard(self, wait: float = 0.5) -> bool:
        """Whether a kernel_info request's status comes back on the output channel in time."""
        msg_id = self.kc.kernel_info()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while (left := deadline - loop.time()) > 0:
            try:
                msg = await self.kc.iopub_channel.get_msg(timeout=left)
            except queue.Empty:
                return False
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return True
        return False

    def _budget(self, msg) -> str:
        data = msg["content"].get("data") if isinstance(msg.get("content"), dict) else None
        return "answers" if isinstance(data, dict) and MIME in data else "output"

    def process_message(self, msg, cell, cell_index):
        kind = msg["msg_type"]
        if kind == "status" and msg["content"].get("execution_state") == "idle":
            self.idle.add(cell_index)
        if kind in ("status", "execute_input"):
            return super().process_message(msg, cell, cell_index)
        if kind.startswith("comm") or kind == "update_display_data":
            return None  # no widgets and no display updates while grading
        budget = self._budget(msg)
        size = len(json.dumps(msg.get("content"), default=str))
        limit = MAX_ANSWERS if budget == "answers" else MAX_OUTPUT
        if self.spent[budget] + size > limit:
            self.dropped += size
            return None
        self.spent[budget] += size
        return super().process_message(msg, cell, cell_index)

    def on_cell_executed(self, **kwargs):
        content = kwargs["execute_reply"]["content"]
        if content.get("status") == "error":
            content["evalue"] = str(content.get("evalue", ""))[:1000]
            tb = [str(line) for line in content.get("traceback", [])]
            while tb and sum(len(line) for line in tb) > MAX_TRACEBACK:
                tb = tb[:1] + tb[2:] if len(tb) > 2 else [tb[0][:MAX_TRACEBACK]]
            content["traceback"] = tb
        return super().on_cell_executed(**kwargs)
