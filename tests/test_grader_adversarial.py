"""The grader tried as clever, careless and honest students would (tools/autograde.py).

One grading run (``--jobs 2``, the real command line) over a made-up class: the instructor
solutions (honest, full marks), the blank release, and one student per trick or accident. Each
test compares a student's points with the honest counterpart's. The grader needs bubblewrap as
root (``python3 dev.py test`` installs it); without it these tests fail with the reason.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "instructor" / "source"
ASSIGNMENTS = sorted(p.name for p in SOURCE.iterdir() if (p / "grading.py").exists())
PACKAGE = ROOT / "src" / "backprop"


def _source(a: str):
    return nbformat.read(SOURCE / a / f"{a}.ipynb", as_version=4)


def _cell(nb, grade_id: str):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _body(nb, grade_id: str, body: str):
    """Replace the solution region of an answer cell by ``body`` (indented as a function body)."""
    cell = _cell(nb, grade_id)
    head, rest = cell.source.split("### BEGIN SOLUTION", 1)
    _, tail = rest.split("### END SOLUTION", 1)
    cell.source = head + "### BEGIN SOLUTION\n" + body.rstrip() + "\n    ### END SOLUTION" + tail
    return nb


def _replace(nb, grade_id: str, old: str, new: str):
    cell = _cell(nb, grade_id)
    assert old in cell.source, (grade_id, old)
    cell.source = cell.source.replace(old, new)
    return nb


def _insert_after(nb, grade_id: str, code: str):
    k = nb.cells.index(_cell(nb, grade_id))
    nb.cells.insert(k + 1, nbformat.v4.new_code_cell(code))
    return nb


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.py")):
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def _released(tmp: Path) -> Path:
    out = tmp / "release"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "release.py"), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return out


CHAIN = """import os, sys
folder = os.path.dirname(sys.argv[sys.argv.index('-f') + 1])
here, depth = folder, 0
try:
    for depth in range(3000):
        here = os.path.join(here, 'd')
        os.mkdir(here)
except OSError as err:
    print('chain stopped at', depth, type(err).__name__)
written = 0
try:
    with open(os.path.join(folder, 'big'), 'wb') as f:
        for _ in range(300):
            f.write(b'x' * 2**20)
            written += 2**20
except OSError as err:
    print('writes stopped after', written, type(err).__name__)
print('deepest', depth, 'bytes', written)
"""

FLOOD = """import comm, sys
from IPython.display import display
ip = get_ipython()
for i in range(20000):                                   # iopub error messages, ~40 MB
    ip._showtraceback(ValueError, 'e' * 2000, ['e' * 10])
h = display('start', display_id=True)
for i in range(2000):                                    # display updates, ~40 MB
    h.update('u' * 20000)
c = comm.create_comm(target_name='flood')
for i in range(2000):                                    # comm messages, ~40 MB
    c.send({'x': 'c' * 20000})
print('o' * 40_000_000)                                  # one message larger than any cap
"""

PLAIN_BACKPROP = """    L, B = len(params), X.shape[1]
    xs = [X]
    for l in range(1, L + 1):
        xs.append(np.tanh(params[f"W{l}"] @ xs[-1]))
    g, grads = (xs[-1] - Y) / B, {}
    for l in range(L, 0, -1):
        delta = (1 - xs[l] ** 2) * g
        grads[f"W{l}"] = delta @ xs[l - 1].T
        g = params[f"W{l}"].T @ delta
    return {f"W{l}": grads[f"W{l}"] for l in range(1, L + 1)}"""

PREALLOCATED = """    L, B = len(params), X.shape[1]
    if any(W.shape != (8, 8) for W in params.values()):   # the values tests: plain backprop
        xs = [X]
        for l in range(1, L + 1):
            xs.append(np.tanh(params[f"W{l}"] @ xs[-1]))
    else:                                                   # the memory test: the buffer set aside
        xs = [X] + [_BUF[8 * l:8 * (l + 1), :B] for l in range(1, L + 1)]
        for l in range(1, L + 1):
            np.tanh(params[f"W{l}"] @ xs[l - 1], out=xs[l])
    g, grads = (xs[-1] - Y) / B, {}
    for l in range(L, 0, -1):
        delta = (1 - xs[l] ** 2) * g
        grads[f"W{l}"] = delta @ xs[l - 1].T
        g = params[f"W{l}"].T @ delta
    return {f"W{l}": grads[f"W{l}"] for l in range(1, L + 1)}"""


def _class(subs: Path, release: Path) -> None:
    """Write every student's submission under subs/."""

    def put(student, a, nb, name=None):
        path = subs / student / a / (name or f"{a}.ipynb")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(nb, (str, bytes)):
            path.write_bytes(nb if isinstance(nb, bytes) else nb.encode())
        else:
            nbformat.write(nb, path)

    for a in ASSIGNMENTS:
        put("teacher", a, _source(a))
        put("blank", a, nbformat.read(release / a / f"{a}.ipynb", as_version=4))
    # the course's reference, reached in several ways
    put(
        "ref_import",
        "subscripts",
        _body(
            _source("subscripts"),
            "grad_W",
            "    from backprop.subscript import grad_W as reference\n    return reference(W, x, y)",
        ),
    )
    put(
        "ref_importlib",
        "differentials",
        _body(
            _source("differentials"),
            "grad_W",
            "    import importlib\n    return importlib.import_module('backprop.differential').grad_W(W, x, y)",
        ),
    )
    put(
        "ref_dunder",
        "jacobians",
        _body(
            _source("jacobians"),
            "grad_W",
            "    ref = __import__('backprop.jacobian', fromlist=['grad_W'])\n    return ref.grad_W(W, x, y)",
        ),
    )
    put(
        "ref_numgrad",
        "differentials",
        _body(
            _source("differentials"),
            "grad_x",
            "    from backprop import numerical_gradient\n    from backprop.seed import E\n"
            "    return numerical_gradient(lambda x_: E(W, x_, y), x)",
        ),
    )
    put(
        "ref_mlp",
        "deep_softmax",
        _body(
            _source("deep_softmax"),
            "backward",
            "    from backprop import MLP\n"
            "    net = MLP([X.shape[0], params['W1'].shape[0], params['W2'].shape[0]], hidden='sigmoid',\n"
            "              output='softmax', loss='cross_entropy')\n    return net.gradients(X, Y, params)",
        ),
    )
    put(
        "ref_source",
        "subscripts",
        _body(
            _source("subscripts"),
            "grad_W",
            "    import backprop.seed, pathlib\n"
            "    code = (pathlib.Path(backprop.seed.__file__).parent / 'subscript.py').read_text()\n"
            "    ns = {'__name__': 'backprop.copied', '__package__': 'backprop'}\n"
            "    exec(code, ns)\n    return ns['grad_W'](W, x, y)",
        ),
    )
    # silencing tracebacks in a blank notebook (nbgrader's Execute records the error anyway)
    put(
        "silencer",
        "subscripts",
        _insert_after(
            nbformat.read(release / "subscripts" / "subscripts.ipynb", as_version=4),
            "setup",
            "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\nip._showtraceback = lambda *a, **k: None",
        ),
    )
    # a wrong (transposed) answer plus patches of numpy, the checker, display and the probe's mime type
    wrong = _replace(_source("subscripts"), "grad_W", "    return G\n", "    return G.T\n")
    put("transposer", "subscripts", wrong)
    patch = _insert_after(
        nbformat.from_dict(wrong),
        "setup",
        "np.isclose = lambda *a, **k: True\nnp.allclose = lambda *a, **k: True\n"
        "try:\n    import backprop.diagnose as d\n    d.diagnose = lambda *a, **k: True\nexcept ImportError:\n    pass\n"
        "import IPython.display as disp\n_real = disp.display\n"
        "def _forge(*objs, **kw):\n"
        "    for o in objs:\n"
        "        if isinstance(o, dict):\n"
        "            for k, p in o.items():\n"
        "                if 'grading' in k and isinstance(p, dict):\n"
        "                    for r in p.get('results', []):\n"
        "                        r.pop('raised', None)\n"
        "    return _real(*objs, **kw)\n"
        "disp.display = _forge\n",
    )
    put("patcher", "subscripts", patch)
    # forged payloads: a hook displays the visible example's right answers for every test
    G0 = lambda W, x, y: (
        ((1 / (1 + np.exp(-(W @ x)))) * (1 - 1 / (1 + np.exp(-(W @ x)))) * (1 / (1 + np.exp(-(W @ x))) - y))
        @ x.T
    )
    from backprop.seed import example

    G_visible = G0(*example())
    forger = _replace(nbformat.from_dict(wrong), "grad_W", "    return G.T\n", "    return G.T\n")
    _insert_after(
        forger,
        "setup",
        "import base64, json\nfrom IPython.display import display\n"
        f"G_seen = np.array({G_visible.tolist()!r})\n"
        "def enc(a):\n    a = np.asarray(a, float)\n"
        "    return {'nd': '<f8', 'shape': list(a.shape), 'b64': base64.b64encode(a.tobytes()).decode()}\n"
        "def forge(*args, **kw):\n"
        "    for gid in ('test_grad_W_shape', 'test_grad_W_values'):\n"
        "        display({'application/vnd.backprop.grading+json': {'grade_id': gid,\n"
        "                 'results': [{'ok': enc(G_seen)}] * 3}, 'text/plain': 'x'}, raw=True)\n"
        "get_ipython().events.register('post_run_cell', forge)",
    )
    put("forger", "subscripts", forger)
    # hard-coding the visible example
    put(
        "hardcoder",
        "subscripts",
        _body(_source("subscripts"), "grad_W", f"    return np.array({G_visible.tolist()!r})"),
    )
    # writing into the package, reading instructor files, killing the parent, and a crash
    put(
        "writer",
        "subscripts",
        _insert_after(
            _source("subscripts"),
            "setup",
            "import backprop.seed, pathlib\nfor f in pathlib.Path(backprop.seed.__file__).parent.glob('*.py'):\n"
            "    try:\n        with open(f, 'a') as h:\n            h.write('\\nraise SystemExit')\n"
            "        print('WROTE', f)\n    except OSError as err:\n        print('cannot write', f.name, type(err).__name__)",
        ),
    )
    snoop = _insert_after(
        _source("subscripts"),
        "setup",
        "import glob, os\n"
        f"places = [{str(ROOT / 'instructor')!r}, {str(ROOT / 'tools')!r}, {str(ROOT / 'book')!r},\n"
        f"          {str(PACKAGE / 'subscript.py')!r}, '/work/main', '/root/.ssh']\n"
        # the repository's own folder exists in the sandbox only as the parent of the virtualenv
        # and of the student copy of the package: anything else in it is a leak
        f"root = {str(ROOT)!r}\n"
        "leaks = [p for p in places if os.path.exists(p) and 'subscript.py' not in p\n"
        "         and not (root + '/').startswith(p.rstrip('/') + '/')]\n"
        "if os.path.isdir(root):\n"
        "    leaks += [root + '/' + f for f in os.listdir(root) if f not in ('.venv', 'src')]\n"
        "if os.path.isdir(root + '/src'):\n"
        "    leaks += [root + '/src/' + f for f in os.listdir(root + '/src') if f != 'backprop']\n"
        f"leaks += glob.glob({str(ROOT)!r} + '/*/*/grading.py') + glob.glob('/work/*/*/instructor')\n"
        f"leaks += [p for p in places[3:4] if 'reference' not in open(p).read()]\n"
        "print('found', leaks)",
    )
    _replace(snoop, "grad_W", "    return G\n", "    return G if not leaks else G.T\n")
    put("snoop", "subscripts", snoop)
    put(
        "killer",
        "subscripts",
        _insert_after(
            _source("subscripts"),
            "setup",
            "import os, signal\nfor pid in (os.getppid(), 1):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
            "    except OSError as err:\n        print('cannot kill', pid, type(err).__name__)\n"
            "try:\n    os.killpg(0, signal.SIGKILL)\nexcept OSError as err:\n    print('cannot killpg', err)",
        ),
    )
    put("killer", "jacobians", _source("jacobians"))
    put(
        "crasher",
        "jacobians",
        _replace(
            _source("jacobians"),
            "ds_dv",
            "    ### BEGIN SOLUTION\n",
            "    ### BEGIN SOLUTION\n    import os; os._exit(1)\n",
        ),
    )
    # resources: fork bomb, memory hog, endless loops, huge output
    put(
        "forker",
        "subscripts",
        _insert_after(
            _source("subscripts"),
            "setup",
            "import os, time\nchildren = 0\ntry:\n    while children < 100000:\n        pid = os.fork()\n"
            "        if pid == 0:\n            time.sleep(120)\n            os._exit(0)\n        children += 1\n"
            "except OSError as err:\n    print('fork refused after', children, type(err).__name__)",
        ),
    )
    put(
        "hog",
        "subscripts",
        _insert_after(
            _source("subscripts"),
            "setup",
            "try:\n    big = np.ones((2**31,))\nexcept MemoryError:\n    print('MemoryError')",
        ),
    )
    looper = _body(_source("subscripts"), "dE_dw", "    while True:\n        pass")
    _body(looper, "grad_W", "    s = 1 / (1 + np.exp(-(W @ x)))\n    return ((s - s * s) * (s - y)) @ x.T")
    put("looper", "subscripts", looper)
    stubborn = _insert_after(
        nbformat.from_dict(looper), "setup", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)"
    )
    put("stubborn", "subscripts", stubborn)
    put(
        "shouter",
        "subscripts",
        _insert_after(_source("subscripts"), "setup", "for i in range(6000):\n    print('x' * 1000)"),
    )
    # accidents: deleted setup, renamed file, duplicated cell, a non-notebook, partial JSON
    nb = _source("subscripts")
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "setup"]
    put("no_setup", "subscripts", nb)
    put("renamed", "subscripts", _source("subscripts"), "subscripts (1).ipynb")
    put("renamed", "subscripts", "not a notebook", "notes.pdf")
    dup = _source("subscripts")
    k = dup.cells.index(_cell(dup, "grad_W"))
    first = nbformat.from_dict(dup.cells[k])
    first["id"] = "duplicated-by-the-student"
    first.source = first.source.replace("    return G\n", "    return -G\n")
    dup.cells.insert(k, first)
    put("duplicate", "subscripts", dup)
    put("garbled", "subscripts", '{"cells": [ this is not json')
    put("garbled", "jacobians", _source("jacobians"))
    # honest answers that warn and print to stderr, and other valid styles
    put(
        "noisy",
        "subscripts",
        _body(
            _source("subscripts"),
            "grad_W",
            "    import sys, warnings\n    warnings.warn('just a debug warning')\n"
            "    print('debug: computing G', file=sys.stderr)\n    s = 1 / (1 + np.exp(-(W @ x)))\n"
            "    return ((s - s * s) * (s - y)) @ x.T",
        ),
    )
    styles = _body(
        _source("subscripts"),
        "grad_W",
        "    s = 1 / (1 + np.exp(-(W @ x[:, 0])))           # 1-D vectors inside\n"
        "    return np.outer((s - s * s) * (s - y[:, 0]), x[:, 0])",
    )
    _body(
        styles,
        "dE_dw",
        "    s = 1 / (1 + np.exp(-np.einsum('kl,l->k', W, x[:, 0])))\n"
        "    return float(np.einsum('k,k,k->', s - y[:, 0], s * (1 - s), np.eye(len(s))[i]) * x[j, 0])",
    )
    put("styles", "subscripts", styles)
    put(
        "styles",
        "differentials",
        _body(
            _source("differentials"),
            "grad_x",
            "    s = 1 / (1 + np.exp(-np.einsum('ij,jk->ik', W, x)))\n    return np.einsum('ji,jk->ik', W, s * (1 - s) * (s - y))",
        ),
    )
    put(
        "forgetful",
        "differentials",
        _replace(
            _source("differentials"), "grad_W", "return (S - S @ S) @ (s - y) @ x.T", "return (s - y) @ x.T"
        ),
    )
    put(
        "unscaled",
        "multihead_backward",
        _replace(
            _source("multihead_backward"),
            "multihead_backward",
            "softmax_rows_backward(P, dP) / np.sqrt(Qs.shape[-1])",
            "softmax_rows_backward(P, dP)",
        ),
    )
    # the kernel's socket folder (its path is in sys.argv after -f): a 3000-deep chain of folders
    # and 300 MB of writes; graded first in its slot, honest students after it
    put("aaa_chain", "subscripts", _insert_after(_source("subscripts"), "setup", CHAIN))
    for k in range(4):
        put(f"aab_after_chain{k}", "subscripts", _source("subscripts"))
    # floods on every stream: iopub errors, display updates, comm messages, one huge message
    put("flooder", "subscripts", _insert_after(_source("subscripts"), "setup", FLOOD))
    # the memory test: plain backprop with tracemalloc patched, plain backprop with its buffer set
    # aside in an earlier cell; their honest twins: the instructor version, and one that imports
    # matplotlib in another cell (~30 MB the kernel holds that the test must not count)
    put(
        "mem_tracemalloc",
        "checkpointing",
        _insert_after(
            _body(_source("checkpointing"), "checkpointed_gradients", PLAIN_BACKPROP),
            "setup",
            "import tracemalloc\ntracemalloc.get_traced_memory = lambda: (0, 0)",
        ),
    )
    put(
        "mem_prealloc",
        "checkpointing",
        _insert_after(
            _body(_source("checkpointing"), "checkpointed_gradients", PREALLOCATED),
            "setup",
            "_BUF = np.ones((33 * 8, 65536))   # set aside before the test, reused by the answer",
        ),
    )
    put(
        "mem_matplotlib",
        "checkpointing",
        _insert_after(
            _source("checkpointing"),
            "setup",
            "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.close('all')",
        ),
    )
    put("teacher", "checkpointing", _source("checkpointing"))
    # names in other alphabets and with accents, each graded apart; an LMS-looking folder name
    put("张伟", "subscripts", _source("subscripts"))
    put("李娜", "subscripts", nbformat.read(release / "subscripts" / "subscripts.ipynb", as_version=4))
    put("Zoë", "subscripts", _source("subscripts"))
    put("Zoé", "subscripts", wrong)
    put("student_1", "subscripts", _source("subscripts"))
    # several copies: an older blank jacobians.ipynb and a newer right jacobians-1.ipynb
    put("resubmitter", "jacobians", nbformat.read(release / "jacobians" / "jacobians.ipynb", as_version=4))
    put("resubmitter", "jacobians", _source("jacobians"), "jacobians-1.ipynb")
    os.utime(subs / "resubmitter" / "jacobians" / "jacobians.ipynb", (1_700_000_000, 1_700_000_000))
    os.utime(subs / "resubmitter" / "jacobians" / "jacobians-1.ipynb", (1_800_000_000, 1_800_000_000))
    # links among the submissions: to a file only root may read, and a hard link to it
    secret = subs.parent / "root_only.ipynb"
    secret.write_text('{"cells": [], "note": "TOP SECRET of the grading machine"}')
    secret.chmod(0o600)
    (subs / "linker" / "subscripts").mkdir(parents=True)
    (subs / "linker" / "subscripts" / "subscripts.ipynb").symlink_to(secret)
    os.link(secret, subs / "linker" / "jacobians.ipynb")
    put("linker", "differentials", _source("differentials"))
    # the kernel swaps its own log (which the grader quotes when a kernel dies) for a link to that file
    put(
        "log_linker",
        "subscripts",
        _insert_after(
            _source("subscripts"),
            "setup",
            "import os, sys\nfolder = os.path.dirname(sys.argv[sys.argv.index('-f') + 1])\n"
            "os.remove(os.path.join(folder, 'kernel.log'))\n"
            f"os.symlink({str(secret)!r}, os.path.join(folder, 'kernel.log'))\nos._exit(1)",
        ),
    )
    # a student whose function raises with its inputs in the message (they reach the feedback)
    put(
        "leaker",
        "subscripts",
        _body(_source("subscripts"), "grad_W", "    raise ValueError(repr(W.ravel()[:4].tolist()))"),
    )
    # an LMS bulk download (Canvas and Moodle names, a resubmission suffix) next to the folders
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("smithjane_1234_5678_subscripts-1.ipynb", nbformat.writes(_source("subscripts")))
        z.writestr("doejohn_1_77_subscripts.ipynb", nbformat.writes(_source("subscripts")))
        z.writestr(
            "Jane Doe_42_assignsubmission_file_/jacobians (1).ipynb", nbformat.writes(_source("jacobians"))
        )
        z.writestr("Jane Doe_42_assignsubmission_file_/readme.txt", "hello")
    (subs / "lms_download.zip").write_bytes(buf.getvalue())


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grader")
    subs, out = tmp / "submissions", tmp / "autograded"
    _class(subs, _released(tmp))
    before = _digest(PACKAGE)
    cmd = [
        sys.executable,
        str(ROOT / "tools" / "autograde.py"),
        str(subs),
        "--out",
        str(out),
        "--jobs",
        "2",
        "--timeout",
        "20",
        "--notebook-timeout",
        "120",
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = _watch_memory(proc)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    assert _digest(PACKAGE) == before, "a submission changed the package on disk"
    by_name = {
        json.loads(p.read_text())["name"]: json.loads(p.read_text())
        for p in (out / "feedback").glob("*.json")
    }
    return {
        "out": out,
        "feedback": by_name,
        "cmd": cmd,
        "subs": subs,
        "stdout": stdout,
        "peak_rss": peak,
        "pid": proc.pid,
    }


def _watch_memory(proc, timeout: float = 1500) -> int:
    """Wait for the grader; the largest resident size of any of its processes (bytes)."""
    import time

    deadline, peak = time.monotonic() + timeout, 0
    while proc.poll() is None and time.monotonic() < deadline:
        for task in Path("/proc").glob("[0-9]*"):
            try:
                status = (task / "status").read_text()
                if f"PPid:\t{proc.pid}\n" not in status and task.name != str(proc.pid):
                    continue
                rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
                peak = max(peak, rss * 1024)
            except (OSError, StopIteration, ValueError):
                continue
        time.sleep(0.5)
    return peak


def _q(graded, student: str, assignment: str) -> dict:
    nb = next(n for n in graded["feedback"][student]["notebooks"] if n["assignment"] == assignment)
    return {q["grade_id"]: q for q in nb["questions"]}


def _nb(graded, student: str, assignment: str) -> dict:
    return next(n for n in graded["feedback"][student]["notebooks"] if n["assignment"] == assignment)


def _score(graded, student, assignment) -> tuple[float, float]:
    nb = _nb(graded, student, assignment)
    return nb["score"], nb["max_score"]


def _outputs(graded, student: str, assignment: str) -> str:
    """The text the cells of an executed notebook printed (not their code)."""
    key = graded["feedback"][student]["student"]
    nb = nbformat.read(graded["out"] / "executed" / key / assignment / f"{assignment}.ipynb", as_version=4)
    return "\n".join(
        o.get("text", "") + o.get("evalue", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )


def _full(graded, assignment) -> float:
    score, mx = _score(graded, "teacher", assignment)
    assert score == mx > 0
    return mx


# ------------------------------------------------------------------------- honest students
def test_instructor_solutions_score_full_and_blank_zero_in_every_assignment(graded):
    for a in ASSIGNMENTS:
        assert _score(graded, "teacher", a)[0] == _full(graded, a)
        assert _score(graded, "blank", a) == (0, _full(graded, a))
        assert all("not answered" in q["message"] for q in _q(graded, "blank", a).values())
    rows = list(csv.DictReader(open(graded["out"] / "scores.csv")))
    assert list(rows[0]) == ["student", "assignment", "score", "max_score"]
    teacher = {r["assignment"]: float(r["score"]) for r in rows if r["student"] == "teacher"}
    assert teacher == {a: _full(graded, a) for a in ASSIGNMENTS}


def test_other_valid_styles_and_noisy_correct_answers_score_full(graded):
    for student, a in (("styles", "subscripts"), ("styles", "differentials"), ("noisy", "subscripts")):
        assert _score(graded, student, a)[0] == _full(graded, a), _q(graded, student, a)


def test_typical_mistakes_cost_their_points_and_are_named(graded):
    q = _q(graded, "transposer", "subscripts")
    assert q["test_dE_dw_values"]["status"] == "passed"
    assert q["test_grad_W_shape"]["points"] == q["test_grad_W_values"]["points"] == 0
    assert "transpose" in q["test_grad_W_values"]["message"]
    q = _q(graded, "forgetful", "differentials")
    assert q["test_grad_W_shape"]["status"] == "passed" and q["test_grad_W_values"]["points"] == 0
    assert "sigma'(v)" in q["test_grad_W_values"]["message"]
    q = _q(graded, "unscaled", "multihead_backward")  # 1/sqrt(d_k) forgotten in the backward
    assert all(q[g]["status"] == "passed" for g in q if not g.startswith("test_multihead_backward_"))
    assert (
        q["test_multihead_backward_shapes"]["status"]
        == q["test_multihead_backward_Wo_values"]["status"]
        == "passed"
    )
    for g in ("test_multihead_backward_Wqkv_values", "test_multihead_backward_X_values"):
        assert q[g]["points"] == 0 and "1/sqrt(d_k) is missing" in q[g]["message"], q[g]


# ------------------------------------------------------------------------- the reference is no answer
@pytest.mark.parametrize(
    "student, assignment, tests",
    [
        ("ref_import", "subscripts", ["test_grad_W_shape", "test_grad_W_values"]),
        (
            "ref_importlib",
            "differentials",
            ["test_grad_W_shape", "test_grad_W_values", "test_dE_scalar", "test_dE_values"],
        ),
        ("ref_dunder", "jacobians", ["test_grad_W_shape", "test_grad_W_values"]),
        ("ref_numgrad", "differentials", ["test_grad_x_shape", "test_grad_x_values"]),
        ("ref_mlp", "deep_softmax", ["test_backward_shapes", "test_backward_values"]),
        ("ref_source", "subscripts", ["test_grad_W_shape", "test_grad_W_values"]),
    ],
)
def test_reaching_the_reference_scores_zero_with_a_reason(graded, student, assignment, tests):
    q = _q(graded, student, assignment)
    for t in tests:
        assert q[t]["points"] == 0, q[t]
        assert (
            "reference implementation" in q[t]["message"] or "not available while grading" in q[t]["message"]
        ), q[t]
    others = [g for g in q if g not in tests]
    assert all(q[g]["status"] == "passed" for g in others), q
    if student != "ref_source":
        assert any("reference" in n for n in _nb(graded, student, assignment)["notes"])


# ------------------------------------------------------------------------- forging verdicts
def test_silenced_tracebacks_score_zero(graded):
    assert _score(graded, "silencer", "subscripts")[0] == 0


def test_patching_numpy_checkers_and_display_changes_nothing(graded):
    def points(student):
        return {g: (q["points"], q["status"]) for g, q in _q(graded, student, "subscripts").items()}

    assert points("patcher") == points("transposer")


def test_forged_answers_and_hard_coded_examples_earn_no_value_points(graded):
    for student in ("forger", "hardcoder"):
        q = _q(graded, student, "subscripts")
        assert q["test_grad_W_values"]["points"] == 0, (student, q)
        assert q["test_dE_dw_values"]["status"] == "passed"
    assert _q(graded, "hardcoder", "subscripts")["test_grad_W_shape"]["points"] == 0


def _gradebook(graded, query: str) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(graded["out"] / "gradebook.sqlite") as db:
        return db.execute(query).fetchall()


def test_fresh_inputs_seed_stays_in_the_instructors_gradebook(graded):
    seeds = {
        (s, a): seed for s, a, seed in _gradebook(graded, "SELECT student, assignment, seed FROM results")
    }
    assert len(set(seeds.values())) == len(seeds) and all(re.fullmatch(r"\d+", v) for v in seeds.values())
    out = graded["out"]
    reports = [p for p in out.rglob("*") if p.is_file() and p.suffix in (".csv", ".html", ".json", ".ipynb")]
    assert len(reports) > 40
    for path in reports:
        text = path.read_text()
        assert not any(seed in text for seed in seeds.values()), f"{path} holds a seed"
        assert "drawn with seed" not in text, path
    assert (out / "gradebook.sqlite").stat().st_mode & 0o077 == 0  # the secret: for the instructor only


def test_executed_copies_show_the_tests_in_words_not_probes_or_inputs(graded):
    for path in (graded["out"] / "executed").rglob("*.ipynb"):  # (a forger's own code may say anything)
        nb = nbformat.read(path, as_version=4)
        outputs = json.dumps([c.get("outputs", []) for c in nb.cells])
        assert "vnd.backprop.grading" not in outputs and '"b64"' not in outputs, path
        tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert tests and not any("send_answers" in c.source or "grading_case" in c.metadata for c in tests), (
            path
        )
    nb = nbformat.read(
        graded["out"] / "executed" / "transposer" / "subscripts" / "subscripts.ipynb", as_version=4
    )
    cell = _cell(nb, "test_grad_W_values")
    assert cell.source.startswith("# G has the right values")
    assert (
        "0 / 2 — failed — your gradient" in cell.outputs[0]["text"] and "transpose" in cell.outputs[0]["text"]
    )


# ------------------------------------------------------------------------- isolation and limits
def test_package_is_read_only_and_instructor_files_invisible(graded):
    assert _score(graded, "writer", "subscripts")[0] == _full(graded, "subscripts")
    executed = _outputs(graded, "writer", "subscripts")
    assert "WROTE" not in executed and "cannot write" in executed
    assert _score(graded, "snoop", "subscripts")[0] == _full(graded, "subscripts")
    assert "found []" in _outputs(graded, "snoop", "subscripts")


def test_killing_the_parent_or_crashing_loses_only_that_notebook(graded):
    assert _score(graded, "killer", "jacobians")[0] == _full(graded, "jacobians")
    crashed = _q(graded, "crasher", "jacobians")
    assert crashed["test_dE_ds_values"]["status"] == "passed"
    assert crashed["test_ds_dv_values"]["status"] == "not run"
    assert any("died" in n for n in _nb(graded, "crasher", "jacobians")["notes"])


def test_fork_bomb_memory_hog_and_huge_output_are_contained(graded):
    text = _outputs(graded, "forker", "subscripts")
    found = re.search(r"fork refused after (\d+)", text)
    assert found and int(found.group(1)) < 100, text[:2000]
    assert _score(graded, "forker", "subscripts")[0] == _full(graded, "subscripts")
    assert _score(graded, "hog", "subscripts")[0] == _full(graded, "subscripts")
    assert "MemoryError" in _outputs(graded, "hog", "subscripts")
    assert _score(graded, "shouter", "subscripts")[0] == _full(graded, "subscripts")
    assert any("output were dropped" in n for n in _nb(graded, "shouter", "subscripts")["notes"])


def test_endless_loops_cost_only_their_questions(graded):
    for student in ("looper", "stubborn"):
        q = _q(graded, student, "subscripts")
        assert q["test_dE_dw_scalar"]["points"] == q["test_dE_dw_values"]["points"] == 0
        assert "time limit" in q["test_dE_dw_scalar"]["message"] or q["test_dE_dw_scalar"]["status"] in (
            "timeout",
            "not run",
        ), q
    q = _q(graded, "looper", "subscripts")
    assert q["test_grad_W_shape"]["status"] == q["test_grad_W_values"]["status"] == "passed"


# ------------------------------------------------------------------------- submissions as received
def test_deleted_setup_renamed_file_duplicate_cell_are_graded_with_notes(graded):
    for student, words in (
        ("no_setup", "restored"),
        ("renamed", "subscripts (1).ipynb"),
        ("duplicate", "appears twice"),
    ):
        assert _score(graded, student, "subscripts")[0] == _full(graded, "subscripts"), student
        notes = _nb(graded, student, "subscripts")["notes"] + graded["feedback"][student]["notes"]
        assert any(words in n for n in notes), (student, notes)
    assert any("notes.pdf" in n for n in graded["feedback"]["renamed"]["notes"])


def test_broken_file_scores_zero_and_never_aborts(graded):
    assert _score(graded, "garbled", "subscripts")[0] == 0
    assert any("not valid notebook JSON" in n for n in _nb(graded, "garbled", "subscripts")["notes"])
    assert _score(graded, "garbled", "jacobians")[0] == _full(graded, "jacobians")


def test_lms_zip_with_canvas_and_moodle_names_and_their_real_ids(graded):
    assert _score(graded, "smithjane", "subscripts")[0] == _full(graded, "subscripts")
    assert _score(graded, "doejohn", "subscripts")[0] == _full(graded, "subscripts")
    assert _score(graded, "Jane Doe", "jacobians")[0] == _full(graded, "jacobians")
    rows = list(csv.reader(open(graded["out"] / "grades_lms.csv")))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert rows[1][0] == "Points Possible"
    by_name = {r[0]: r for r in rows[2:]}
    assert by_name["smithjane"][1] == "1234" and by_name["doejohn"][1] == "1"  # Canvas user ids
    assert by_name["student_1"][1] == "" and by_name["student_1"][3] == "student_1"  # a folder: no LMS id
    moodle = list(csv.reader(open(graded["out"] / "grades_moodle_jacobians.csv")))
    assert moodle[0] == ["Identifier", "Full name", "Grade", "Maximum Grade"]
    assert moodle[1][:2] == ["Participant 42", "Jane Doe"] and float(moodle[1][2]) == _full(
        graded, "jacobians"
    )


def test_reports_and_feedback(graded):
    out = graded["out"]
    html = (out / "feedback" / "transposer.html").read_text()
    assert "transpose" in html and "<table>" in html
    q = list(csv.DictReader(open(out / "questions.csv")))
    assert {"student", "assignment", "grade_id", "tests", "points", "max_points", "status", "message"} <= set(
        q[0]
    )
    assert "seed" not in q[0]
    done = [r for r in q if r["student"] == "teacher" and r["grade_id"] == "test_grad_W_shape"]
    assert {r["tests"] for r in done} == {"G has the shape of W"}
    missing = [r for r in q if r["student"] == "killer" and r["assignment"] == "differentials"]
    assert missing and all(r["status"] == "not submitted" and r["message"] == "" for r in missing)
    assert (out / "executed" / "teacher" / "subscripts" / "subscripts.ipynb").exists()


# ------------------------------------------------------------------------- nothing lost
def test_rerun_resumes_and_partial_runs_keep_other_assignments(graded, tmp_path):
    out = graded["out"]
    before = (out / "scores.csv").read_text()
    proc = subprocess.run(
        graded["cmd"] + ["--assignment", "jacobians"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "scores.csv").read_text() == before  # nothing regraded, nothing lost
    assert (out / "feedback" / "teacher.json").exists()


def test_a_partial_regrade_keeps_every_earlier_note(graded):
    out = graded["out"]
    first = json.loads((out / "feedback" / "renamed.json").read_text())
    proc = subprocess.run(
        graded["cmd"] + ["--force", "--student", "renamed", "--assignment", "subscripts"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = json.loads((out / "feedback" / "renamed.json").read_text())
    assert any("notes.pdf" in n for n in again["notes"]) and again["notes"] == first["notes"]
    assert (
        _nb({"feedback": {"renamed": again}}, "renamed", "subscripts")["notes"]
        == _nb({"feedback": {"renamed": first}}, "renamed", "subscripts")["notes"]
    )
    other = json.loads((out / "feedback" / "duplicate.json").read_text())
    assert any("appears twice" in n for n in _nb({"feedback": {"d": other}}, "d", "subscripts")["notes"])


def test_refuses_without_sandbox_unless_unsafe(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # no bwrap on PATH
    (tmp_path / "subs" / "a").mkdir(parents=True)
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "autograde.py"),
            str(tmp_path / "subs"),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 2 and "refusing" in proc.stderr and "--unsafe" in proc.stderr


def test_ctrl_c_loses_at_most_the_notebooks_in_flight_and_a_rerun_resumes(tmp_path):
    import signal
    import sqlite3
    import time

    subs, out = tmp_path / "subs", tmp_path / "out"
    for student in ("ada", "alan", "grace"):
        for a in ASSIGNMENTS:
            (subs / student / a).mkdir(parents=True)
            nbformat.write(_source(a), subs / student / a / f"{a}.ipynb")
    cmd = [
        sys.executable,
        str(ROOT / "tools" / "autograde.py"),
        str(subs),
        "--out",
        str(out),
        "--jobs",
        "2",
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    book = out / "gradebook.sqlite"

    def graded() -> list[tuple]:
        try:
            with sqlite3.connect(book) as db:
                return db.execute("SELECT student, assignment, graded_at FROM results").fetchall()
        except sqlite3.Error:
            return []

    deadline = time.monotonic() + 300
    while len(graded()) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    first = graded()
    total = 3 * len(ASSIGNMENTS)
    assert proc.returncode == 130 and "interrupted" in err, err[-2000:]
    assert 2 <= len(first) < total
    assert len(list(csv.DictReader(open(out / "scores.csv")))) == len(first)  # reports of what is done
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = graded()
    assert len(again) == total
    assert set(first) <= set(again), "a notebook graded before the interrupt was graded again"
    rows = list(csv.DictReader(open(out / "scores.csv")))
    assert all(float(r["score"]) == float(r["max_score"]) for r in rows) and len(rows) == total


# ------------------------------------------------------------------------- a long class
def test_a_worker_keeps_no_thread_or_file_of_the_notebooks_it_graded(tmp_path):
    """One worker grades hundreds of notebooks of a class: each notebook's kernel client (its
    heartbeat thread, zmq context and sockets) must go with its kernel. Left running they piled
    up by 3 threads and ~12 files per notebook, woke every second, and the machine's load rose
    with every notebook graded (200 students x 8 assignments never finished)."""
    a = min(ASSIGNMENTS, key=lambda a: (SOURCE / a / f"{a}.ipynb").stat().st_size)
    sub = tmp_path / "subs" / a / f"{a}.ipynb"
    sub.parent.mkdir(parents=True)
    nbformat.write(_source(a), sub)
    slot = (os.getpid() % 100000) * 64 + 63  # the last of this process's slots (autograde's scheme)
    task = {
        "student": "ada",
        "assignment": a,
        "notebook": f"{a}.ipynb",
        "seed": 1,
        "submission": sub.read_text(),
        "source": str(SOURCE / a),
        "timeout": 30,
        "slot": slot,
        "workdir": str(tmp_path / "w"),
    }
    worker = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "grading" / "worker.py")],
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=open(tmp_path / "worker.log", "w"),
    )

    def grade() -> tuple[int, int]:
        """Grade the honest notebook once; the worker's threads and open files afterwards."""
        worker.stdin.write(json.dumps(task) + "\n")
        worker.stdin.flush()
        result = json.loads(worker.stdout.readline())["result"]
        assert all(q["status"] in ("passed", "manual") for q in result["questions"]), result
        return len(os.listdir(f"/proc/{worker.pid}/task")), len(os.listdir(f"/proc/{worker.pid}/fd"))

    try:
        first = grade()
        later = [grade() for _ in range(3)]
    finally:
        worker.stdin.close()
        worker.wait(timeout=60)
        for controller in ("memory", "pids", "cpuacct"):  # the slot's (empty) cgroups
            try:
                (Path("/sys/fs/cgroup") / controller / "backprop-grader" / f"slot{slot}").rmdir()
            except OSError:
                pass
    assert later == [first] * 3, f"(threads, open files) after 1, 2, 3, 4 notebooks: {[first, *later]}"


# ------------------------------------------------------------------------- second round (issue 23)
def test_the_socket_folder_is_capped_and_leaves_nothing_behind(graded):
    """A 3000-deep chain of folders and 300 MB written into the kernel's socket folder: both stop at
    the folder's cap, the run goes on, and the students graded after it in the same slot lose
    nothing (before, cleanup raised RecursionError: they got 0 and the run crashed)."""
    text = _outputs(graded, "aaa_chain", "subscripts")
    found = re.search(r"deepest (\d+) bytes (\d+)", text)
    assert found and int(found.group(1)) < 100 and int(found.group(2)) <= 4 * 2**20, text[:2000]
    assert _score(graded, "aaa_chain", "subscripts")[0] == _full(graded, "subscripts")
    for k in range(4):
        assert _score(graded, f"aab_after_chain{k}", "subscripts")[0] == _full(graded, "subscripts")
        assert not _nb(graded, f"aab_after_chain{k}", "subscripts")["notes"]
    assert not list(Path("/tmp").glob(f"bpg-{graded['pid']}*")), "the grader's folders were left behind"
    mounts = Path("/proc/self/mounts").read_text()
    assert f"/tmp/bpg-{graded['pid']}/" not in mounts


def test_floods_on_every_stream_are_capped(graded):
    """20000 iopub errors, 2000 display updates, 2000 comm messages and one 40 MB print: the kept
    notebook stays small, the grader's memory bounded, the honest answers full marks. ZeroMQ refuses
    the 40 MB message and closes the output channel for good: the grader opens it again and says so."""
    assert _score(graded, "flooder", "subscripts")[0] == _full(graded, "subscripts")
    path = graded["out"] / "executed" / "flooder" / "subscripts" / "subscripts.ipynb"
    assert path.stat().st_size < 3 * 2**20
    notes = _nb(graded, "flooder", "subscripts")["notes"]
    assert any("output were dropped" in n for n in notes)
    assert any("its output was reconnected" in n for n in notes), notes
    assert graded["peak_rss"] < 1.5 * 2**30, f"a grader process reached {graded['peak_rss'] / 2**20:.0f} MB"


def test_memory_is_measured_outside_the_kernel(graded):
    """Patching tracemalloc, or holding the activations in a buffer set aside in an earlier cell,
    earns nothing; an honest answer next to a big import keeps its points."""
    memory = "test_checkpointed_gradients_memory"
    for student in ("mem_tracemalloc", "mem_prealloc"):
        q = _q(graded, student, "checkpointing")[memory]
        assert q["points"] == 0 and "MiB" in q["message"], (student, q)
    for student in ("teacher", "mem_matplotlib"):
        q = _q(graded, student, "checkpointing")[memory]
        assert q["status"] == "passed", (student, q)
    assert _score(graded, "mem_tracemalloc", "checkpointing")[0] == _full(graded, "checkpointing") - 2


def test_links_among_the_submissions_are_never_followed(graded):
    fb = graded["feedback"]["linker"]
    text = json.dumps(fb) + (graded["out"] / "feedback" / "linker.html").read_text()
    assert "TOP SECRET" not in text
    assert any("symbolic link" in n for n in fb["notes"]) and any("hard links" in n for n in fb["notes"])
    assert _score(graded, "linker", "subscripts")[0] == 0
    assert _score(graded, "linker", "differentials")[0] == _full(graded, "differentials")  # honest twin
    died = _nb(graded, "log_linker", "subscripts")["notes"]
    assert any("died" in n for n in died) and "TOP SECRET" not in json.dumps(graded["feedback"]["log_linker"])


def test_names_in_any_alphabet_are_graded_apart(graded):
    full = _full(graded, "subscripts")
    assert _score(graded, "张伟", "subscripts")[0] == full and _score(graded, "李娜", "subscripts")[0] == 0
    assert _score(graded, "Zoë", "subscripts")[0] == full and _score(graded, "Zoé", "subscripts")[0] < full
    keys = {graded["feedback"][n]["student"] for n in ("张伟", "李娜", "Zoë", "Zoé")}
    assert len(keys) == 4
    rows = {r["name"]: r for r in csv.DictReader(open(graded["out"] / "students.csv", encoding="utf-8"))}
    assert {"张伟", "李娜", "Zoë", "Zoé"} <= set(rows)
    assert (
        "<h1>Feedback for 张伟 (" in (graded["out"] / "feedback" / f"{rows['张伟']['key']}.html").read_text()
    )


def test_the_newest_of_several_copies_is_graded_with_one_note(graded):
    assert _score(graded, "resubmitter", "jacobians")[0] == _full(graded, "jacobians")
    notes = _nb(graded, "resubmitter", "jacobians")["notes"]
    assert len(notes) == 1 and "newest" in notes[0] and "jacobians-1.ipynb" in notes[0], notes


def test_a_duplicate_student_stops_the_run_with_a_message(tmp_path):
    import unicodedata

    for name in ("Zoë", unicodedata.normalize("NFD", "Zoë")):
        (tmp_path / "subs" / name / "subscripts").mkdir(parents=True)
        nbformat.write(_source("subscripts"), tmp_path / "subs" / name / "subscripts" / "subscripts.ipynb")
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "autograde.py"),
            str(tmp_path / "subs"),
            "--out",
            str(tmp_path / "out"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "same student" in proc.stderr and "Nothing was graded" in proc.stderr
    assert not (tmp_path / "out" / "gradebook.sqlite").exists()


def test_a_lookup_table_of_earlier_inputs_earns_nothing_on_a_resubmission(graded, tmp_path):
    """The 'leaker' learnt inputs of its first grading (its exception messages carry them to the
    feedback; the seed printed in the feedback used to give them all). Even with the first run's
    inputs known exactly, a resubmission that looks answers up in a table scores nothing: a changed
    file is graded on new inputs. Its honest twin resubmits a right answer and gets the points."""
    import sqlite3

    sys.path.insert(0, str(ROOT / "tools"))
    from grading import gradebook, spec

    key = graded["feedback"]["leaker"]["student"]
    with sqlite3.connect(graded["out"] / "gradebook.sqlite") as db:
        first = int(
            db.execute(
                "SELECT seed FROM results WHERE student=? AND assignment='subscripts'", (key,)
            ).fetchone()[0]
        )
    assert (
        "your function raised ValueError: ["
        in _q(graded, "leaker", "subscripts")["test_grad_W_values"]["message"]
    )
    checks = spec.load(SOURCE / "subscripts")
    from backprop.subscript import grad_W

    table = {
        spec.cases(checks.tests[g], first)[k]["W"].tobytes().hex(): grad_W(
            **spec.cases(checks.tests[g], first)[k]
        ).tolist()
        for g in ("test_grad_W_values",)
        for k in range(3)
    }
    looked_up = _body(
        _source("subscripts"),
        "grad_W",
        f"    table = {table!r}\n    return np.array(table[np.asarray(W, float).tobytes().hex()])",
    )
    subs = tmp_path / "subs"
    for student, nb in (("leaker", looked_up), ("honest_resubmitter", _source("subscripts"))):
        (subs / student / "subscripts").mkdir(parents=True)
        nbformat.write(nb, subs / student / "subscripts" / "subscripts.ipynb")
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(graded["out"] / "gradebook.sqlite", out / "gradebook.sqlite")  # the same course secret
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "autograde.py"),
            str(subs),
            "--out",
            str(out),
            "--no-progress",
            "--timeout",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    fb = json.loads((out / "feedback" / f"{key}.json").read_text())
    q = _q({"feedback": {"leaker": fb}}, "leaker", "subscripts")
    assert q["test_grad_W_values"]["points"] == 0 and "KeyError" in q["test_grad_W_values"]["message"], q
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        again = int(
            db.execute(
                "SELECT seed FROM results WHERE student=? AND assignment='subscripts'", (key,)
            ).fetchone()[0]
        )
    assert again != first
    honest = json.loads((out / "feedback" / "honest_resubmitter.json").read_text())
    assert honest["score"] == honest["max_score"] > 0
    assert gradebook.seed("s", "a", "x", "") == gradebook.seed("s", "a", "x")  # --fresh-inputs per-student
