"""The data the stages hand each other. Plain dataclasses, no behaviour.

Options is what the user asked (cli fills it, nothing changes it). Facts
is what one run found out: pair/hosts/kernel fill it, record reads it.
Each field says who fills it. The result JSON is record's business; see
docs/results-schema.md.
"""
from dataclasses import dataclass, field
from typing import List, Optional

C1M_PORT = 8972


class UsageError(Exception):
    """Bad input from the user: run.main prints "run.sh: MESSAGE" and the
    synopsis on stderr and exits 2. Raise it anywhere with one line."""


@dataclass(frozen=True)
class Options:
    """./run.sh's arguments, checked (cli.parse)."""
    target: str                     # "NN", "all" or "compare"
    asked: List[int] = field(default_factory=list)  # -n list, [] = sized
    duration: Optional[str] = None  # -d as typed ("10", "2.5"); None = default
    loops: Optional[int] = None     # -c
    port: int = C1M_PORT            # -p (0 = any free one)
    interval: str = "5"             # -i as typed
    extra_s: List[str] = field(default_factory=list)  # -S split on white space
    extra_c: List[str] = field(default_factory=list)  # -C split on white space
    client_nn: Optional[str] = None  # --client NN
    quick: bool = False
    pin: Optional[str] = None       # "auto" or "S:C"
    netns: str = "auto"             # "auto", "1" (--netns) or "0" (--no-netns)
    addr: str = ""                  # -a
    hosts: Optional[str] = None     # --hosts as typed
    via: str = "ssh -o BatchMode=yes"
    remote_dir: str = ""            # --remote-dir (default: the repo's path)
    perf_dir: Optional[str] = None
    no_tune: bool = False
    dry_run: bool = False
    build: bool = True
    rounds: int = 1                 # compare -r
    reference: Optional[str] = None  # compare --ref: "baseline" or NN
    max_conns: Optional[int] = None  # compare --max-conns: no count above it
    designs: Optional[List[str]] = None  # compare --designs: only these ["01", "06"]; None = all
    whole_machine: bool = False     # --whole-machine: sizing may take 90% of MemAvailable
    workloads: list = field(default_factory=list)  # --workload: [workload.Workload], [] = pingpong
    restart_at: Optional[float] = None  # --restart-at: s into the window (None = no restart)
    argv: List[str] = field(default_factory=list)  # as typed, for the record


@dataclass
class Facts:
    """What one design at one size did; record.result() turns it into JSON."""
    nn: str = ""                    # run
    server_dir: str = ""            # run (designs)
    client_dir: str = ""            # run (designs)
    set_id: str = ""                # compare
    round: int = 0                  # compare: this run's round, 1..rounds
    rounds: int = 0                 # compare: how many (0: not a compare)
    reference: str = ""             # compare: the design ratios are to
    workload: Optional[object] = None  # run/compare: the workload.Workload (None = pingpong)
    started: str = ""               # run: UTC, 2026-12-06T03:23:05Z
    conns: int = 0                  # plan: the connections asked of the client
    asked: Optional[int] = None     # plan
    size_cap: int = 0               # plan
    size_why: str = ""              # plan
    netns: bool = False             # kernel
    netns_name: str = ""            # kernel
    tune_state: str = ""            # kernel
    pin_server: str = ""            # plan ("0-1,3" or "")
    pin_client: str = ""            # plan
    rate: float = 0.0               # run: the client's -r, else its -L default
    server_argv: List[str] = field(default_factory=list)  # pair: exact argv
    client_argvs: List[List[str]] = field(default_factory=list)  # pair/hosts
    server_line: str = ""           # pair: as printed, namespace prefix and all
    client_line: str = ""           # pair/hosts
    server_pid: int = 0             # pair
    client_pids: List[int] = field(default_factory=list)  # pair/hosts
    client_rc: int = 1              # pair/hosts
    server_rc: int = 1              # pair
    client_wall_s: float = 0.0      # pair/hosts: the client's whole run
    stat0: str = ""                 # pair/hosts: /proc/stat "cpu" line before
    stat1: str = ""                 # pair/hosts: and after
    client: Optional[dict] = None   # pair/hosts: the client's JSON line (merged)
    clients: List[Optional[dict]] = field(default_factory=list)  # hosts: each
    host_names: List[str] = field(default_factory=list)  # hosts
    server: Optional[dict] = None   # pair: the server's JSON line
    client_t0_wall_us: int = 0      # pair/hosts: CLOCK_REALTIME at client start
    samples: List[List[float]] = field(default_factory=list)  # pair: every 0.5 s
    # [t_s, slab_kb, tcp_inuse, tcp_tw, tcp_mem_pages, server_rss_kb,
    #  server_cpu_s, client_cpu_s]; t_s from client start; tcp_* from
    # /proc/SERVER_PID/net/sockstat (the run's namespace); cpu_s cumulative
    slab0_kb: int = 0               # kernel
    mem_available0_kb: int = 0      # kernel
    sysctls: dict = field(default_factory=dict)   # kernel: key -> value
    tcp_ext0: dict = field(default_factory=dict)  # kernel: TcpExt before
    tcp_ext1: dict = field(default_factory=dict)  # kernel: and after
    time_wait_left: int = 0         # kernel
    restart: dict = field(default_factory=dict)  # restart: --restart-at's times ({} = none)
    server_before_restart: Optional[dict] = None  # restart: the first server's JSON line
    progress: List[dict] = field(default_factory=list)  # pair/hosts: every
    # stderr line of both programs, {"t_s": since client start, "who":
    # "server" | "client" | "client@HOST", "line": text}; formats.py parses
    # the progress lines ("conns 200  rps 119877  p99 3.3 ms") into its CSV
