"""The flags ``run`` and ``create`` share, declared once: click builds its options from this
table, the console entry point's door (:mod:`lamina.cli.rundoor`) parses the same flags
without loading click, and :class:`lamina.runtime.runconfig.RunOptions` takes its fields and
defaults from it (a flag's destination is the RunOptions field it fills). A new ``run`` flag is
one row here plus what it means in ``runconfig``. Imports nothing, so the door stays cheap."""

from __future__ import annotations

__all__ = ["CLI_ONLY", "RUN_FLAGS", "default_of", "defaults"]

# (flag names, destination, kind, help); kinds: flag (boolean), value (one string),
# multi (repeatable strings), int (one integer). Defaults: False, None, (), None — except
# the two in _DEFAULTS.
RUN_FLAGS: tuple[tuple[tuple[str, ...], str, str, str], ...] = (
    (("--name",), "name", "value", "Assign a name to the container"),
    (("-e", "--env"), "env", "multi", "Set environment variables"),
    (("--env-file",), "env_files", "multi", "Read in a file of environment variables"),
    (("-w", "--workdir"), "workdir", "value", "Working directory inside the container"),
    (("-u", "--user"), "user", "value", "Username or UID (format: <name|uid>[:<group|gid>])"),
    (("--entrypoint",), "entrypoint", "value", "Overwrite the default ENTRYPOINT of the image"),
    (("-v", "--volume"), "volumes", "multi", "Bind mount a volume"),
    (("--mount",), "mounts", "multi", "Attach a filesystem mount to the container"),
    (("--tmpfs",), "tmpfs", "multi", "Mount a tmpfs directory"),
    (("-p", "--publish"), "publish", "multi", "Publish a container's port(s) to the host"),
    (("-P", "--publish-all"), "publish_all", "flag", "Publish all exposed ports to random ports"),
    (("--expose",), "expose", "multi", "Expose a port or a range of ports"),
    (("--network", "--net"), "network", "value", "Connect a container to a network (private, host, none)"),
    (("-h", "--hostname"), "hostname", "value", "Container host name"),
    (("--read-only",), "read_only", "flag", "Mount the container's root filesystem as read only"),
    (("-m", "--memory"), "memory", "value", "Memory limit"),
    (("--memory-swap",), "memory_swap", "value", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap"),
    (("--cpus",), "cpus", "value", "Number of CPUs"),
    (("--pids-limit",), "pids_limit", "int", "Tune container pids limit (set -1 for unlimited)"),
    (("-i", "--interactive"), "interactive", "flag", "Keep STDIN open even if not attached"),
    (("-t", "--tty"), "tty", "flag", "Allocate a pseudo-TTY"),
    (("--init",), "init", "flag", "Run an init inside the container that forwards signals and reaps"),
    (("--pull",), "pull", "value", 'Pull image before running ("always"|"missing"|"never")'),
    (("--restart",), "restart", "value", "Restart policy to apply when a container exits"),
    (("-l", "--label"), "labels", "multi", "Set meta data on a container"),
    (("--stop-signal",), "stop_signal", "value", "Signal to stop the container"),
    (("--stop-timeout",), "stop_timeout", "int", "Timeout (in seconds) to stop a container"),
    (("--rm",), "auto_remove", "flag", "Automatically remove the container when it exits"),
    (("-q", "--quiet"), "quiet", "flag", "Suppress the pull output"),
    (("--add-host",), "add_host", "multi", "Add a custom host-to-IP mapping (host:ip)"),
    (("--cap-add",), "cap_add", "multi", "Add Linux capabilities"),
    (("--cap-drop",), "cap_drop", "multi", "Drop Linux capabilities"),
    (("--privileged",), "privileged", "flag", "Give extended privileges to this container"),
    (("--ulimit",), "ulimits", "multi", "Ulimit options"),
    (("--shm-size",), "shm_size", "value", "Size of /dev/shm"),
    (("--security-opt",), "security_opt", "multi", "Security Options"),
    (("--group-add",), "group_add", "multi", "Add additional groups to join"),
    (("--dns",), "dns", "multi", "Set custom DNS servers"),
    (("--dns-search",), "dns_search", "multi", "Set custom DNS search domains"),
    (("--dns-option", "--dns-opt"), "dns_option", "multi", "Set DNS options"),
    (("--cidfile",), "cidfile", "value", "Write the container ID to the file"),
    (("--platform",), "platform", "value", "Set platform if server is multi-platform capable"),
    (("--health-cmd",), "health_cmd", "value", "Command to run to check health"),
    (("--health-interval",), "health_interval", "value", "Time between running the check (ms|s|m|h) (default 0s)"),
    (("--health-timeout",), "health_timeout", "value",
     "Maximum time to allow one check to run (ms|s|m|h) (default 0s)"),
    (("--health-start-period",), "health_start_period", "value",
     "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)"),
    (("--health-retries",), "health_retries", "int", "Consecutive failures needed to report unhealthy"),
    (("--no-healthcheck",), "no_healthcheck", "flag", "Disable any container-specified HEALTHCHECK"),
    (("--device",), "devices", "multi", "Add a host device to the container"),
    (("--sysctl",), "sysctls", "multi", "Sysctl options"),
    (("--pid",), "pid", "value", "PID namespace to use"),
    (("--ipc",), "ipc", "value", "IPC mode to use"),
    (("--log-driver",), "log_driver", "value", "Logging driver for the container"),
    (("--log-opt",), "log_opts", "multi", "Log driver options"),
    (("--policy",), "policy", "value", "Signature policy (containers-policy.json) a pull of the image must pass"),
)

# Destinations that steer the command line itself, not the container (not RunOptions fields).
CLI_ONLY = frozenset({"quiet"})

_DEFAULTS = {"pull": "missing", "restart": "no"}


_EMPTY = {"flag": False, "value": None, "multi": (), "int": None}


def default_of(dest: str, kind: str):
    """The value ``dest`` has when its flag is not given."""
    return _DEFAULTS.get(dest, _EMPTY[kind])


def defaults() -> dict:
    """Every destination with its default."""
    return {dest: default_of(dest, kind) for _names, dest, kind, _help in RUN_FLAGS}
