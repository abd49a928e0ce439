"""A throw-away one-node SLURM cluster with accounting on localhost (used by tests/test_slurm.py).

Everything lives in one directory: munge key and socket, a private MariaDB, slurmdbd.conf,
slurm.conf, state, spool, logs and pid files. Daemons run in the foreground as children of the
test (munged, mariadbd, slurmdbd, slurmctld, slurmd, started in that order) and are stopped in
reverse order, even when the test fails. The system's own configuration (/etc/slurm, /etc/munge,
/var/lib/mysql) is neither read nor changed; clients find the cluster through SLURM_CONF.

A killed test run (SIGKILL, a CI timeout) cannot stop its daemons; every daemon and job carries
its cluster's token (VPLAN_SLURM_TEST, naming the test process), so the next cluster first stops
those of earlier clusters whose test process is gone (stop_leftovers). SIGTERM and interpreter
exit stop a running cluster like an exception does.

Works without cgroups (proctrack/linuxproc, task/none, no cgroup.conf) and with fewer CPUs or
less memory than the jobs ask for: SlurmdParameters=config_overrides makes slurmd report the
node as configured here, so a real-cluster profile (8 CPUs, 32 GB per job) runs unchanged.
Needs root (slurmd runs jobs as the submitting user) and the packages of .ci/install-slurm.sh.
"""
from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INSTALL_SCRIPT = REPO / ".ci/install-slurm.sh"
CLUSTER_NAME = "vplan"
ACCOUNT = "vplan"
DB_PASSWORD = "vplan-test"  # a private MariaDB on 127.0.0.1 that lives as long as the test
TOKEN_PREFIX = "vplan-slurm-test-"
REQUIRED_COMMANDS = ("munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd",
                     "sbatch", "srun", "sacct", "sacctmgr", "sinfo", "scancel")


class ClusterError(RuntimeError):
    pass


def install_packages(timeout: float = 900) -> subprocess.CompletedProcess:
    """Run .ci/install-slurm.sh (apt-get; a no-op when everything is installed)."""
    return subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=timeout)


def missing_commands() -> list[str]:
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return [name for name in REQUIRED_COMMANDS if shutil.which(name, path=path) is None]


def _process_start(pid: int) -> str | None:
    """The start time of a running process (clock ticks since boot), or None when there is none
    (or only a zombie): with the pid it names one process, even after the pid is reused."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def _token_owner_alive(token: str) -> bool:
    """Whether the test process that a cluster token names still runs."""
    pid, start = token[len(TOKEN_PREFIX):].split("-")[:2]
    return _process_start(int(pid)) == start


def _tokens() -> dict[int, str]:
    """pid -> the cluster token in its environment, for every process that has one."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for item in (entry / "environ").read_bytes().split(b"\0"):
                if item.startswith(f"VPLAN_SLURM_TEST={TOKEN_PREFIX}".encode()):
                    found[int(entry.name)] = item.split(b"=", 1)[1].decode()
    return found


def _terminate(pids: list[int], grace_s: float = 10) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_process_start(pid) for pid in pids):
        time.sleep(0.2)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def stop_leftovers() -> list[int]:
    """Stop the daemons and jobs of earlier test clusters whose test process is gone; returns
    their pids. Clusters of test runs that are still going are left alone."""
    pids = [pid for pid, token in _tokens().items()
            if pid != os.getpid() and not _token_owner_alive(token)]
    _terminate(pids)
    return pids


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _command(name: str) -> str:
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if found is None:
        raise ClusterError(f"{name} not found (run {INSTALL_SCRIPT})")
    return found


@dataclass
class SlurmCluster:
    root: Path
    cpus: int = 8
    real_memory_mb: int = 65536
    partitions: tuple[str, ...] = ("cpu", "gpu")
    node: str = field(default_factory=lambda: socket.gethostname().split(".")[0])
    processes: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def __post_init__(self):
        self.root = Path(self.root).resolve()
        self.token = f"{TOKEN_PREFIX}{os.getpid()}-{_process_start(os.getpid())}-{time.time_ns()}"
        self.ports = {name: _free_port() for name in ("mysql", "slurmdbd", "slurmctld", "slurmd")}
        self.paths = {name: self.root / name for name in ("munge", "db", "etc", "state", "spool", "log", "run", "bin")}
        self.slurm_conf = self.paths["etc"] / "slurm.conf"
        self.munge_socket = self.paths["run"] / "munge.socket"
        self.mysql_socket = self.paths["run"] / "mysqld.sock"

    # -- environment for clients (sbatch, sacct, snakemake) --------------------------------------
    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ, SLURM_CONF=str(self.slurm_conf), VPLAN_SLURM_TEST=self.token,
                   PATH=f"{self.paths['bin']}:{os.environ.get('PATH', '')}")
        for name in list(env):  # never inherit another allocation
            if name.startswith(("SLURM_JOB", "SLURM_STEP", "SBATCH_", "SALLOC_")):
                del env[name]
        return env

    def run(self, *command: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        result = subprocess.run(list(command), capture_output=True, text=True, env=self.env, timeout=timeout)
        if check and result.returncode != 0:
            raise ClusterError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
                               f"\n{self.logs_tail()}")
        return result

    # -- configuration ---------------------------------------------------------------------------
    def write_configs(self):
        for path in self.paths.values():
            path.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self.paths["munge"].chmod(0o700)
        key = self.paths["munge"] / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        auth = f"AuthType=auth/munge\nAuthInfo=socket={self.munge_socket}\n"
        dbd = self.paths["etc"] / "slurmdbd.conf"
        dbd.write_text(
            auth
            + f"DbdHost=localhost\nDbdAddr=127.0.0.1\nDbdPort={self.ports['slurmdbd']}\nSlurmUser=root\n"
            f"LogFile={self.paths['log']}/slurmdbd.log\nPidFile={self.paths['run']}/slurmdbd.pid\n"
            f"StorageType=accounting_storage/mysql\nStorageHost=127.0.0.1\nStoragePort={self.ports['mysql']}\n"
            f"StorageUser=slurm\nStoragePass={DB_PASSWORD}\nStorageLoc=slurm_acct_db\nDebugLevel=info\n")
        dbd.chmod(0o600)
        # snakemake-executor-plugin-slurm-jobstep (0.6.1) drops every SLURM_* variable, SLURM_CONF
        # included, before its `srun` inside the job: this srun (first on PATH, which jobs inherit
        # from sbatch --export=ALL) puts it back. Real clusters keep slurm.conf in /etc/slurm or run
        # configless, where srun needs no SLURM_CONF.
        srun = self.paths["bin"] / "srun"
        srun.write_text(f"#!/bin/sh\nSLURM_CONF={self.slurm_conf} exec {_command('srun')} \"$@\"\n")
        srun.chmod(0o755)
        prolog = self.paths["etc"] / "task_prolog.sh"
        prolog.write_text(f"#!/bin/sh\necho export SLURM_CONF={self.slurm_conf}\n")
        prolog.chmod(0o755)
        partitions = "".join(
            f"PartitionName={name} Nodes={self.node} Default={'YES' if i == 0 else 'NO'} "
            f"MaxTime=INFINITE State=UP\n" for i, name in enumerate(self.partitions))
        self.slurm_conf.write_text(
            f"ClusterName={CLUSTER_NAME}\nSlurmctldHost={self.node}(127.0.0.1)\n" + auth
            + f"SlurmUser=root\nSlurmdUser=root\n"
            f"SlurmctldPort={self.ports['slurmctld']}\nSlurmdPort={self.ports['slurmd']}\n"
            f"StateSaveLocation={self.paths['state']}\nSlurmdSpoolDir={self.paths['spool']}/%n\n"
            f"SlurmctldPidFile={self.paths['run']}/slurmctld.pid\nSlurmdPidFile={self.paths['run']}/slurmd.pid\n"
            f"SlurmctldLogFile={self.paths['log']}/slurmctld.log\nSlurmdLogFile={self.paths['log']}/slurmd.log\n"
            "SlurmctldDebug=info\nSlurmdDebug=info\n"
            # no cgroups in a container: plain process tracking, no task binding or confinement
            "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nJobAcctGatherType=jobacct_gather/linux\n"
            "JobAcctGatherFrequency=5\n"
            "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\nSlurmdParameters=config_overrides\n"
            "SchedulerType=sched/backfill\nReturnToService=2\nMpiDefault=none\n"
            "SwitchType=switch/none\nMinJobAge=600\nMaxArraySize=1001\nKillWait=5\nInactiveLimit=0\n"
            "SchedulerParameters=sched_interval=2\n"
            # jobs do not inherit SLURM_CONF; the task prolog sets it, so that srun inside a job (the
            # plugin's jobstep) finds this cluster rather than /etc/slurm
            f"TaskProlog={self.paths['etc']}/task_prolog.sh\n"
            "AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=localhost\n"
            f"AccountingStoragePort={self.ports['slurmdbd']}\nAccountingStorageEnforce=associations\n"
            # clients authenticate to slurmdbd with the munge socket named here, not AuthInfo's
            f"AccountingStoragePass={self.munge_socket}\n"
            "AccountingStoreFlags=job_comment\nJobCompType=jobcomp/none\n"
            f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.real_memory_mb} "
            "State=UNKNOWN\n" + partitions)

    # -- processes -------------------------------------------------------------------------------
    def _start(self, name: str, *command: str):
        log = open(self.paths["log"] / f"{name}.out", "ab")
        env = self.env
        process = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, start_new_session=True)
        log.close()
        self.processes.append((name, process))
        return process

    def _wait(self, what: str, ready, timeout: float = 60, interval: float = 0.5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes:
                if process.poll() is not None:
                    raise ClusterError(f"{name} exited ({process.returncode}) while waiting for {what}\n"
                                       f"{self.logs_tail()}")
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                if ready():
                    return
            time.sleep(interval)
        raise ClusterError(f"timed out after {timeout} s waiting for {what}\n{self.logs_tail()}")

    def _ok(self, *command: str) -> bool:
        return subprocess.run(list(command), capture_output=True, env=self.env, timeout=20).returncode == 0

    def start_munge(self):
        self._start("munged", _command("munged"), "--foreground", "--force",
                    f"--socket={self.munge_socket}", f"--key-file={self.paths['munge']}/munge.key",
                    f"--pid-file={self.paths['run']}/munged.pid", f"--seed-file={self.paths['munge']}/munged.seed",
                    f"--log-file={self.paths['log']}/munged.log")
        self._wait("munged", lambda: self._ok("bash", "-c", f"munge -n -S {self.munge_socket} | "
                                                          f"unmunge -S {self.munge_socket}"))

    def start_mariadb(self):
        datadir = self.paths["db"]
        result = subprocess.run([_command("mariadb-install-db"), "--no-defaults", f"--datadir={datadir}",
                                 "--user=root", "--auth-root-authentication-method=socket", "--skip-test-db"],
                                capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise ClusterError(f"mariadb-install-db failed:\n{result.stdout}\n{result.stderr}")
        self._start("mariadbd", _command("mariadbd"), "--no-defaults", f"--datadir={datadir}", "--user=root",
                    f"--socket={self.mysql_socket}", "--bind-address=127.0.0.1", f"--port={self.ports['mysql']}",
                    f"--pid-file={self.paths['run']}/mariadbd.pid", f"--log-error={self.paths['log']}/mariadbd.log",
                    "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=64M",
                    "--innodb-lock-wait-timeout=900", "--skip-name-resolve")
        mariadb = [_command("mariadb"), "--no-defaults", f"--socket={self.mysql_socket}", "-uroot"]
        self._wait("mariadbd", lambda: self._ok(*mariadb, "-e", "SELECT 1"))
        grants = "".join(f"CREATE USER IF NOT EXISTS 'slurm'@'{host}' IDENTIFIED BY '{DB_PASSWORD}'; "
                         f"GRANT ALL ON slurm_acct_db.* TO 'slurm'@'{host}'; " for host in ("localhost", "127.0.0.1"))
        self.run(*mariadb, "-e", grants + "FLUSH PRIVILEGES;")

    def start_slurmdbd(self):
        # slurmdbd has no -f: it reads slurmdbd.conf next to $SLURM_CONF
        self._start("slurmdbd", _command("slurmdbd"), "-D")
        self._wait("slurmdbd", lambda: self._ok("sacctmgr", "-n", "list", "cluster"), timeout=90)
        self.run("sacctmgr", "-i", "add", "cluster", CLUSTER_NAME, check=False)
        self.run("sacctmgr", "-i", "add", "account", ACCOUNT, f"Cluster={CLUSTER_NAME}",
                 "Description=vplan tests", "Organization=vplan", check=False)
        self.run("sacctmgr", "-i", "add", "user", "root", f"Account={ACCOUNT}", f"DefaultAccount={ACCOUNT}",
                 f"Cluster={CLUSTER_NAME}", check=False)
        self._wait("the cluster and account in slurmdbd", lambda: ACCOUNT in self.run(
            "sacctmgr", "-n", "-P", "list", "associations", f"cluster={CLUSTER_NAME}", "user=root",
            "format=account").stdout.split())

    def start_slurmctld(self):
        # -c: clean start (no state from an earlier cluster in the same directory), -i: ignore errors
        # in state files
        self._start("slurmctld", _command("slurmctld"), "-D", "-c", "-i", "-f", str(self.slurm_conf))
        self._wait("slurmctld", lambda: self._ok("scontrol", "ping"))

    def start_slurmd(self):
        (self.paths["spool"] / self.node).mkdir(parents=True, exist_ok=True)
        self._start("slurmd", _command("slurmd"), "-D", "-N", self.node, "-f", str(self.slurm_conf))

        def idle():
            out = self.run("sinfo", "-h", "-N", "-o", "%N %t", check=False).stdout.split()
            return len(out) >= 2 and all(state == "idle" for state in out[1::2])

        self._wait("the node to be idle in sinfo", idle, timeout=90)

    def start(self):
        stop_leftovers()
        self.write_configs()
        atexit.register(self.stop)
        try:
            self.start_munge()
            self.start_mariadb()
            self.start_slurmdbd()
            self.start_slurmctld()
            self.start_slurmd()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Cancel jobs, stop daemons in reverse order, then kill anything left that we started."""
        if any(name == "slurmctld" and p.poll() is None for name, p in self.processes):
            with contextlib.suppress(Exception):
                self.run("scancel", "--user=root", check=False, timeout=20)
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and self.run("squeue", "-h", check=False).stdout.strip():
                    time.sleep(0.5)
        for name, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        self.processes.clear()
        # e.g. slurmstepd of a job that outlived slurmd
        _terminate([pid for pid, token in _tokens().items() if token == self.token and pid != os.getpid()],
                   grace_s=0)

    def logs_tail(self, lines: int = 30) -> str:
        parts = []
        for path in sorted(self.paths["log"].glob("*")) if self.paths["log"].exists() else []:
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").splitlines()[-lines:]
                if text:
                    parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)

    def __enter__(self):
        # SIGTERM (a CI timeout, `kill`) unwinds like an exception, so __exit__ stops the daemons
        self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_system_exit)
        try:
            return self.start()
        except BaseException:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            raise

    def __exit__(self, *exc):
        try:
            self.stop()
        finally:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            atexit.unregister(self.stop)
        return False


def _raise_system_exit(signum, frame):
    raise SystemExit(128 + signum)
