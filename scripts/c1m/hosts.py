# STAND-IN: replaced by the merge helper's module (hosts.py). Only parse()
# is ported here (cli needs its checks); check() and run_clients() are not.
"""--hosts: parse, check every host, the start barrier, merge."""
import re
import shutil
from dataclasses import dataclass, field
from typing import List

from .model import UsageError


@dataclass
class HostsPlan:
    names: List[str] = field(default_factory=list)
    sources: List[str] = field(default_factory=list)
    via_words: List[str] = field(default_factory=list)
    via_ssh: bool = False
    remote_dir: str = ""


def parse(opts):
    """opts.hosts -> HostsPlan; UsageError as run.sh's parse_hosts."""
    plan = HostsPlan(remote_dir=opts.remote_dir)
    for h in opts.hosts.replace(",", " ").split():
        name, _, src = h.partition("=")
        if not re.fullmatch(r"[A-Za-z0-9_.@:-]+", name):
            raise UsageError(f"--hosts: '{name}' is not a host name")
        if src and not re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,3}){3}(-[0-9]{1,3}(\.[0-9]{1,3}){3})?", src):
            raise UsageError(f"--hosts: {name}={src}: want source addresses FIRST[-LAST],"
                             f" e.g. {name}=198.18.1.1-198.18.1.50")
        plan.names.append(name)
        plan.sources.append(src)
    if not plan.names:
        raise UsageError("--hosts: want at least one host")
    if not opts.addr:
        raise UsageError("--hosts needs -a ADDR: the server's address, as the hosts reach it")
    if opts.netns == "1":
        raise UsageError("--hosts runs the clients on other hosts; --netns puts both ends in one"
                         " namespace here: pick one")
    if opts.pin:
        raise UsageError("--pin places both ends on this machine's CPUs; with --hosts the clients"
                         " are elsewhere")
    if opts.target == "compare":
        raise UsageError("--hosts is for one design (or all), not compare")
    plan.via_words = opts.via.split()
    if not plan.via_words:
        raise UsageError("--via: want a command prefix, e.g. 'ip netns exec'")
    if shutil.which(plan.via_words[0]) is None:
        raise UsageError(f"--via: no command '{plan.via_words[0]}' here")
    plan.via_ssh = plan.via_words[0].rsplit("/", 1)[-1] == "ssh"
    return plan


def check(plan, client_dir):
    raise NotImplementedError("--hosts: not yet in this branch (the merge helper's hosts.py)")


def run_clients(plan, **kw):
    raise NotImplementedError("--hosts: not yet in this branch (the merge helper's hosts.py)")


