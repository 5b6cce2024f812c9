"""nbgrader's Execute preprocessor with every stream from the kernel capped.

nbgrader's Execute records an error from the kernel's reply even when the student silenced the
traceback display. Here, on top of it, nothing the kernel sends can grow without bound in the
grader: every iopub message (stream, display, result, error alike) counts against the notebook's
output budget, the probes' answers against their own; beyond a budget messages are dropped and
counted; widget (comm) messages and display updates are ignored; the error appended from a
reply is shortened; and ZeroMQ itself refuses any single message above ``Limits.message``
(sandbox.py). ``hooks`` (before(index), after(index)) run around every cell: the memory tests
are measured there.
"""
from __future__ import annotations

import json

from nbgrader.preprocessors import Execute

from .kernel.probe import MIME

MAX_OUTPUT = 2 * 2**20          # bytes of output kept per notebook (the rest is dropped, noted)
MAX_ANSWERS = 16 * 2**20        # bytes of probe answers per notebook
MAX_TRACEBACK = 20_000          # characters of an error appended from a reply


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

    def preprocess_cell(self, cell, resources, index):
        self.started.add(index)
        self.hooks.before(index)
        try:
            return super().preprocess_cell(cell, resources, index)
        finally:
            self.hooks.after(index)

    def _budget(self, msg) -> str:
        data = msg["content"].get("data") if isinstance(msg.get("content"), dict) else None
        return "answers" if isinstance(data, dict) and MIME in data else "output"

    def process_message(self, msg, cell, cell_index):
        kind = msg["msg_type"]
        if kind in ("status", "execute_input"):
            return super().process_message(msg, cell, cell_index)
        if kind.startswith("comm") or kind == "update_display_data":
            return None                        # no widgets and no display updates while grading
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
