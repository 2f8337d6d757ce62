"""A real two-node Slurm cluster on this machine, for testing the sbatch launcher.

Debian's slurm-wlm daemons, started in a private folder: munged on its own socket and key, slurmctld,
and two slurmd (node1, node2) on their own ports, both reached at 127.0.0.1 (Slurm runs several slurmd
on one host when each is started with -N NAME). Jobs go through the real sbatch/srun/scontrol, so the
launcher meets Slurm's own environment (SLURM_NODEID, SLURM_JOB_NODELIST, ...), not a stand-in.
Needs root (slurmd starts job steps as the submitting user) and the packages slurm-wlm and munge.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .serving import free_ports

DAEMON_DIRS = ("/usr/sbin", "/usr/bin", "/sbin")


def tool(name: str) -> str | None:
    """A Slurm/munge program: on PATH, or in the sbin folders a non-login PATH may lack."""
    return shutil.which(name) or next((str(Path(d) / name) for d in DAEMON_DIRS if (Path(d) / name).exists()), None)


def missing() -> str | None:
    """Why a cluster cannot be started here (None: it can)."""
    absent = [n for n in ("munged", "slurmctld", "slurmd", "sbatch", "srun", "scontrol", "sinfo") if not tool(n)]
    if absent:
        return f"Slurm is not installed ({', '.join(absent)} missing; Debian: apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "slurmd must run as root to start job steps"
    return None


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """A Slurm client command against this cluster (env: the environment to run it in, SLURM_CONF added)."""
        env = {**(env or os.environ), "SLURM_CONF": str(self.conf)}
        return subprocess.run([tool(args[0]) or args[0], *args[1:]], env=env, capture_output=True, text=True,
                              timeout=timeout)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.root.glob("*.log")))


def _write_config(root: Path, socket_path: Path) -> None:
    host = socket.gethostname().split(".")[0]
    ctld, node1, node2 = free_ports(3)
    cpus = os.cpu_count() or 1
    (root / "state").mkdir()
    (root / "spool").mkdir()
    (root / "slurm.conf").write_text(f"""\
ClusterName=globmed-test
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmctldPort={ctld}
AuthType=auth/munge
AuthInfo=socket={socket_path}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool/%n
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd-%n.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=5
MpiDefault=none
NodeName=node1 NodeHostname={host} NodeAddr=127.0.0.1 Port={node1} CPUs={cpus} RealMemory=2000
NodeName=node2 NodeHostname={host} NodeAddr=127.0.0.1 Port={node2} CPUs={cpus} RealMemory=2000
PartitionName=test Nodes=node[1-2] Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
""")


def _stop(pid_files: list[Path]) -> None:
    """SIGTERM to every daemon at once, then SIGKILL to those still there after 10 s."""
    pids = []
    for pid_file in pid_files:
        try:
            pids.append(int(pid_file.read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            pass
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while pids and time.monotonic() < deadline:
            pids = [pid for pid in pids if _alive(pid)]
            time.sleep(0.1)
        if not pids:
            return


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def slurm_cluster() -> Iterator[Cluster]:
    # a short path: the munge socket's path must fit a Unix socket address (108 bytes)
    root = Path(tempfile.mkdtemp(prefix="gm-slurm-"))
    root.chmod(0o700)
    cluster = Cluster(root)
    key, sock = root / "munge.key", root / "munge.sock"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    try:
        subprocess.run([tool("munged"), "--force", f"--socket={sock}", f"--key-file={key}", f"--pid-file={root}/munged.pid",
                        f"--log-file={root}/munged.log", f"--seed-file={root}/munged.seed"],
                       check=True, capture_output=True, timeout=30)
        _write_config(root, sock)
        subprocess.run([tool("slurmctld"), "-i", "-f", str(cluster.conf)], env=cluster.env, check=True,
                       capture_output=True, timeout=30)
        for node in ("node1", "node2"):
            subprocess.run([tool("slurmd"), "-f", str(cluster.conf), "-N", node], env=cluster.env, check=True,
                           capture_output=True, timeout=30)
        deadline = time.monotonic() + 60
        while True:
            states = cluster.run("sinfo", "-h", "-N", "-o", "%N %T").stdout.split()
            if states.count("idle") == 2:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the test cluster's nodes did not come up: {states}\n{cluster.logs()}")
            time.sleep(0.5)
        yield cluster
    finally:
        # jobs first (a test that gave up waiting leaves its job running), then the daemons
        if cluster.conf.exists():
            cluster.run("scancel", "--full", "--quiet", "--partition=test")
            time.sleep(1)
        _stop([root / name for name in ("slurmd-node1.pid", "slurmd-node2.pid", "slurmctld.pid", "munged.pid")])
        shutil.rmtree(root, ignore_errors=True)
