// The help texts and usage lines of the CLI, and `--help` itself.
import { NAMESPACE_TYPES } from '../index'

/** The namespace types the commands take, for help texts and usage errors. */
export const TYPES_HELP = `TYPE is one of: ${[...NAMESPACE_TYPES].sort().join(', ')} ('mount' is accepted for mnt).`

/** One usage line per command (and `nsjs` for the tool), printed under a usage error. */
export const USAGE: Record<string, string> = {
  nsjs: 'nsjs <ls|exec|run|create|delete|id|netns|completion> [options]   (nsjs --help)',
  ls: 'nsjs ls [--type TYPE] [--pid PID] [-n] [-o COLUMNS] [-r] [--json] [--tree[=owner|parent|process]] [NS]',
  exec: 'nsjs exec (--target PID [-n] [-m] [-u] [-i] [-p] [-U] [-C] [-T] [--all] | --net=FILE ... | --ns PATH) [-S UID] [-G GID] [-r[DIR]] [-w[DIR]] [--] CMD [ARGS...]',
  run: 'nsjs run [-n] [-p] [-m] [-u] [-i] [-U] [-C] [-T] [--unshare TYPE,...] [-r|-c|--map-user U --map-group G] [--hostname NAME] [--mount-proc] [--root DIR|tmpfs] [--wd DIR] [--kill-child[=SIG]] [--[ro-]bind[-try] SRC DEST] [--tmpfs|--dev|--proc|--dir DEST] [--symlink SRC DEST] [--file FD DEST] [--cap-drop ALL] [--cap-add CAP] [--seccomp FD|FILE] [--rlimit NAME=N] [--cgroup-dir DIR] [--init] [--] CMD [ARGS...]',
  create: 'nsjs create TYPE PATH',
  delete: 'nsjs delete PATH...',
  id: 'nsjs id PID [--json]',
  netns: 'nsjs netns exec NAME CMD [ARGS...]',
  completion: 'nsjs completion bash|zsh',
}

/** The text of `--help`, per command. */
const HELP: Record<string, string> = {
  nsjs: `Usage: nsjs <command> [options]

Linux namespaces from the command line, on the nsjs library.

Commands:
  ls       list namespaces, like lsns (persisted ones too, with their paths)
  exec     run a command in the namespaces of a process or in persisted ones, like nsenter
  run      run a command in new namespaces, like unshare --fork
  create   create a namespace and persist it at a path, like ip netns add
  delete   remove a persisted namespace, like ip netns delete
  id       show the namespaces of a process
  netns    netns exec NAME CMD: run CMD in /run/netns/NAME, like ip netns exec
  completion  print a bash or zsh completion script: source <(nsjs completion bash)

Options:
  -h, --help     show this help; nsjs <command> --help shows a command's
  -V, --version  print the version

Exit status: 0 on success, 1 on an error (one line on stderr: nsjs: <CODE>: <message>) and on
bad usage, as util-linux's tools. exec and run exit with the command's status: 128+N when signal N ended it,
127 when it was not found, 126 when it could not be executed.
`,
  ls: `Usage: ${USAGE.ls}

List namespaces like lsns: those of every process in /proc and those kept only by a bind mount
(persisted with nsjs create or ip netns add), with the paths where they are mounted.

Options:
  -t, --type TYPE       only namespaces of this type
  -p, --pid PID         only the namespaces process PID is in
  -n, --noheadings      no header line
  -o, --output COLUMNS  these columns, comma-separated (+COLUMNS adds to the default ones):
                        NS, TYPE, NPROCS, PID, UID, USER, COMMAND, PATH, NSFS, PNS, ONS,
                        NETNSID (with -t net the defaults have NETNSID and NSFS, as lsns's)
  -r, --raw             cells separated by one space, unpadded (spaces inside as \x20)
  -l, --list            the list (the default; accepted as lsns takes it)
  -J, --json            print JSON (below)
  -T, --tree[=KIND]     a tree, as lsns --tree: owner (the default: each namespace under the
                        user namespace that owns it), parent (user and pid namespaces under
                        their parent, the others at the top), process (each under the row of
                        its PID's parent process, drawn in COMMAND); -TKIND attached as lsns's
  -h, --help            show this help
  NS                    only the namespace with this id (inode number)

${TYPES_HELP}

Columns: NS (inode number), TYPE, NPROCS (processes in it), PID (the lowest pid in it),
USER (that process's user), PATH (where it is persisted), COMMAND (that process's command).

--json prints {"namespaces":[{"ns":N,"type":"net","nprocs":N,"pid":N|null,"user":"root"|null,
"command":"..."|null,"path":"..."|null,"paths":["..."]}]}; ns, type, nprocs, pid, user and
command mean what they mean in lsns --json; path is the first of paths or null. With --tree
they nest as lsns --tree --json nests them: each entry's "children" (left out when there are
none) are the entries under it; with --tree=owner each entry also has "owner": the ns of the
owning user namespace (a user namespace's parent), or null.
`,
  exec: `Usage: ${USAGE.exec}

Run a command inside existing namespaces, like nsenter: those of process PID (--target with the
types to enter, or --all) and/or namespace files such as /run/netns/NAME (--ns). stdio is passed
through and nsjs exits with the command's status.

Options:
  -t, --target PID  the process whose namespaces to enter
  -n, --net         enter its network namespace
  -m, --mnt         enter its mount namespace (also --mount)
  -u, --uts         enter its UTS (hostname) namespace
  -i, --ipc         enter its IPC namespace
  -p, --pid         enter its pid namespace (the command is created inside it)
  -U, --user        enter its user namespace
  -C, --cgroup      enter its cgroup namespace
  -T, --time        enter its time namespace
  -a, --all         enter every namespace of the target that differs from ours
      --ns PATH     enter the namespace file PATH (repeatable), e.g. /run/netns/NAME
      --net=FILE    enter the net namespace at FILE, as nsenter; likewise --mnt=FILE
                    (--mount=FILE), --uts=, --ipc=, --pid=, --user=, --cgroup=, --time=
  -S, --setuid UID  run the command as UID
  -G, --setgid GID  run the command with group GID
  -F, --no-fork     accepted for nsenter compatibility: the command is always nsjs's child
      --preserve-credentials  entering a user namespace, keep our uid, gid and groups
                    instead of becoming root: in there they show as the ids they map to, or
                    as 65534 where unmapped (-S and -G still apply)
  -r, --root[=DIR]  the target's root directory as the command's root (at "/"); with DIR
                    (attached: -rDIR), that directory instead
  -w, --wd[=DIR]    the target's working directory as the command's; with DIR (-wDIR), that
                    directory. As for nsenter, \`-w DIR\` is -w followed by the command DIR
  -h, --help        show this help

Without a namespace to enter, exec refuses: name the types (-n, -m, ...), use --all, or --ns
(-r or -w alone with --target is allowed when the target is in our user namespace). -r and -w
without DIR need --target and join by type (not --ns or --net=FILE). A DIR given to --root or
--wd is looked up in the entered namespaces (nsenter opens it before entering them), --wd's
inside the new root. The short types take a file attached as nsenter's do: -n/run/netns/x.
Exit status: the command's; 128+N if signal N ended it; 127 not found; 126 not executable;
1 when a namespace could not be entered (nsjs: <CODE>: <message>) and on bad usage.
`,
  run: `Usage: ${USAGE.run}

Run a command in new namespaces, like unshare --fork: the command is the first process of a new
pid namespace (PID 1) when pid is among the types. stdio is passed through and nsjs exits with
the command's status.

Options:
  -n, --net[=FILE]     a new network namespace (with FILE: persisted there, as unshare does)
  -p, --pid            a new pid namespace (the command is its PID 1)
  -m, --mount[=FILE]   a new mount namespace
  -u, --uts[=FILE]     a new UTS (hostname) namespace
  -i, --ipc[=FILE]     a new IPC namespace
  -U, --user           a new user namespace
  -C, --cgroup[=FILE]  a new cgroup namespace
  -T, --time[=FILE]    a new time namespace
  -s, --unshare TYPES  new namespaces, comma-separated and/or repeated: user,pid,mnt,net,uts,...
  -r, --map-root       map root inside a new user namespace to your uid and gid (implies user;
                       also --map-root-user)
  -c, --map-current    map your uid and gid to themselves in a new user namespace (implies user;
                       also --map-current-user)
      --map-user UID   map UID inside to your uid (implies user)
      --map-group GID  map GID inside to your gid (implies user)
      --setgroups allow|deny   what the new user namespace allows of setgroups(2)
      --propagation private|shared|slave|unchanged   of the new mount namespace's mounts
      --hostname NAME  hostname in the new UTS namespace (implies uts)
      --mount-proc     mount a new /proc (implies mnt; pair it with pid)
  -R, --root DIR       run the command with DIR as its root directory (chroot)
      --root tmpfs     an empty tmpfs as the root, bubblewrap's: only the mounts below are in it
  -w, --wd DIR         working directory of the command (also bwrap's --chdir)
  -S, --setuid UID     run the command as UID
  -G, --setgid GID     run the command with group GID
      --kill-child[=SIGNAL]   signal the command (SIGKILL by default) when nsjs dies
  -f, --fork           accepted for unshare compatibility: nsjs always forks
  -h, --help           show this help

Sandbox options, bubblewrap's (implying mnt; the mounts are made in the order given, below the
root, missing mount points created as bwrap creates them; unprivileged, add -r):
      --bind SRC DEST     bind SRC (nosuid, nodev) on DEST
      --ro-bind SRC DEST  bind SRC read-only, with every mount below it
      --bind-try SRC DEST, --ro-bind-try SRC DEST   the same, left out when SRC does not exist
      --file FD DEST      a file DEST holding what descriptor FD (or a file) reads
      --tmpfs DEST        a new tmpfs on DEST
      --dev DEST          a minimal /dev: null zero full random urandom tty, pts, shm
      --proc DEST         a new proc of the command's pid namespace (pair it with -p)
      --dir DEST          a directory
      --symlink SRC DEST  a symbolic link DEST pointing to SRC
      --perms OCTAL       the mode of the next --tmpfs, --dir (0755 by default) or --file (0666)
      --size BYTES        the size of the next --tmpfs
      --cap-drop ALL      drop every capability (bounding, permitted, effective, inheritable, ambient)
      --cap-add CAP       keep CAP after --cap-drop ALL (CAP_NET_ADMIN; ALL keeps all)
      --seccomp FD|FILE   a compiled classic-BPF seccomp program, read from descriptor FD as bwrap
                          reads it (--seccomp 10 10<filter.bpf), or from FILE (./10 for a file so named)
      --rlimit NAME=N     setrlimit NAME (nofile, nproc, fsize, core, cpu, as, ...) to N, or to
                          SOFT:HARD; N may be unlimited; repeatable
      --cgroup-dir DIR    start the command inside the cgroup v2 directory DIR (not bwrap's)
      --init              a minimal PID 1 (implies pid) forwards signals to the command (pid 2),
                          reaps orphans and exits with the command's status
      --new-session       run the command in a new session (setsid), as bwrap's
      --die-with-parent   SIGKILL the command when nsjs dies, as bwrap's (--kill-child=SIG for another)
A mount, --root tmpfs, --cap-*, --seccomp or --rlimit also sets no_new_privs, as bwrap always
does. --cap-drop takes ALL alone: name what is kept with --cap-add.

--TYPE=FILE makes the namespace first and binds it at FILE (an empty file there, as unshare
wants one, is replaced); pid and user namespaces cannot be kept so. SIGINT, SIGTERM, SIGHUP and
SIGUSR2 sent to nsjs are forwarded to the command.

${TYPES_HELP}
Unprivileged users can create every type together with user and a map:
  nsjs run --unshare user,pid,net --map-root --mount-proc -- sh
A sandbox as bwrap builds one, rootless:
  nsjs run -r -p -n --root tmpfs --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib \
    --proc /proc --dev /dev --tmpfs /tmp --cap-drop ALL --init -- sh
Exit status: as for exec.
`,
  create: `Usage: ${USAGE.create}

Create a new namespace of TYPE and keep it at PATH with a bind mount, like ip netns add (for a
net namespace at /run/netns/NAME, ip netns sees it). PATH must not exist; a missing parent
directory is created. Prints the new namespace's id (TYPE:[inode]). Remove it with nsjs delete.

${TYPES_HELP}
`,
  delete: `Usage: ${USAGE.delete}

Remove namespaces persisted at PATH (by nsjs create, ip netns add, or the library's persist()):
unmount and delete the file, like ip netns delete. A namespace lives on while processes are in it.
`,
  id: `Usage: ${USAGE.id}

Show the namespaces process PID is in: one line per type with its id as readlink /proc/PID/ns/TYPE
prints it.

Options:
  -J, --json  print {"pid":N,"namespaces":{"cgroup":"cgroup:[4026531835]",...}}
  -h, --help  show this help
`,
  netns: `Usage: ${USAGE.netns}

Run a command in the network namespace /run/netns/NAME (made by nsjs create net, ip netns add or
persist()), like ip netns exec: in a mount namespace of its own (a slave of ours) where /sys is
remounted, so /sys/class/net lists that namespace's devices, and each file /etc/netns/NAME/FILE
is bound over /etc/FILE (resolv.conf, hosts). stdio is passed through and nsjs exits with the
command's status (127 when it was not found); 1 when NAME is not a network namespace.
`,
  completion: `Usage: ${USAGE.completion}

Print a completion script for bash or zsh, made from the commands' option tables:
  source <(nsjs completion bash)       # in ~/.bashrc
  source <(nsjs completion zsh)        # in ~/.zshrc
`,
}

/** Prints the help of `command` (or `nsjs`) on stdout; the exit status is 0. */
export function help(command: string): number {
  process.stdout.write(HELP[command])
  return 0
}

/** Text as roff shows it verbatim: backslashes and a leading `.` or `'` escaped, `-` as a minus. */
function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n')
}

/**
 * The man page (nsjs.1, package.json "man"), made by the build from the same texts as --help:
 * the usage lines, then each command's help.
 */
export function manPage(version: string): string {
  const commands = Object.keys(USAGE).filter((c) => c !== 'nsjs')
  return [
    `.TH NSJS 1 "" "nsjs ${version}" "User Commands"`,
    '.SH NAME',
    'nsjs \\- Linux namespaces from the command line: lsns, nsenter, unshare and ip netns in one tool',
    '.SH SYNOPSIS',
    '.nf',
    ...commands.map((c) => roff(USAGE[c])),
    '.fi',
    '.SH DESCRIPTION',
    '.nf',
    roff(HELP.nsjs.replace(/^Usage:.*\n\n/, '')),
    '.fi',
    ...commands.flatMap((c) => [`.SH ${c.toUpperCase()}`, '.nf', roff(HELP[c]), '.fi']),
    '.SH SEE ALSO',
    'lsns(8), nsenter(1), unshare(1), ip\\-netns(8), namespaces(7)',
    '',
  ].join('\n')
}
