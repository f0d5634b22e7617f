#!/usr/bin/env bash
# The local AWS emulator: moto in server mode on 127.0.0.1, from a pinned virtualenv, started
# through the project's strict launcher (moto patched to refuse what AWS refuses).
#
#   scripts/emulator.sh install          create/refresh the venv from emulator-requirements.txt
#   scripts/emulator.sh start [--port N] start (or reuse) the emulator; prints its port on stdout
#   scripts/emulator.sh env              print eval-able `export` lines for the running emulator
#                                        (and TF_CLI_CONFIG_FILE, see scripts/terraform-config.sh)
#   scripts/emulator.sh stop             stop the emulator this script started
#   scripts/emulator.sh status           say whether it runs (exit 0) or not (exit 3)
#   scripts/emulator.sh patches          list the launcher's patches and the AWS errors they copy
#
# With BLUEGREEN_DATAPLANE=1, `start` also starts the local data plane (bg-dataplane,
# docs/dataplane.md: tasks that answer HTTP, one loopback socket per ALB listener); `env` then prints
# BLUEGREEN_DATAPLANE_MAP, the JSON file mapping each listener to its local URL; `stop` stops it.
# The binary is $BLUEGREEN_DATAPLANE_BIN, else target/debug/bg-dataplane (built when missing).
# Its health checks go to <home>/target-health.json, which the launcher answers
# DescribeTargetHealth from (patch elbv2-target-health-from-file, docs/emulator.md).
#
# The launcher is scripts/emulator/strict_moto.py (docs/emulator.md): it serves exactly as
# moto_server does, after patching moto where it is more lenient than AWS in ways that matter
# to bluegreen (a service on a target group no listener forwards to, duplicate load balancer
# names, deletion protection, ...). The tests start their emulators through it too.
#
# Everything lives under $BLUEGREEN_EMULATOR_HOME (default <repo>/.bluegreen/emulator, which is
# git-ignored): the venv, the pid/port files and the server log. $BLUEGREEN_EMULATOR_VENV
# (default $BLUEGREEN_EMULATOR_HOME/venv) lets several homes share one venv: scripts/demo.sh
# runs its own emulator that way. Only stdout carries machine output (the port, the export
# lines); progress and errors go to stderr. start/stop in one home are serialised by a lock, so
# concurrent callers (two terminals, a demo) cannot interleave.
#
# The server inherits this script's environment except AWS_* (see launch), so moto's own
# switches work as usual, e.g. `MOTO_ECS_SERVICE_RUNNING=2 scripts/emulator.sh start`.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
EMULATOR_HOME=${BLUEGREEN_EMULATOR_HOME:-$REPO_ROOT/.bluegreen/emulator}
[[ $EMULATOR_HOME == /* ]] || EMULATOR_HOME=$PWD/$EMULATOR_HOME
VENV=${BLUEGREEN_EMULATOR_VENV:-$EMULATOR_HOME/venv}
# Absolute, because the pid check matches the venv path in the server's command line.
[[ $VENV == /* ]] || VENV=$PWD/$VENV
REQUIREMENTS=$SCRIPT_DIR/emulator-requirements.txt
LAUNCHER=$SCRIPT_DIR/emulator/strict_moto.py
TERRAFORM_CONFIG=$SCRIPT_DIR/terraform-config.sh
# The stamp lives inside the venv so that deleting the venv also forgets the stamp.
STAMP=$VENV/.bluegreen-requirements.sha256
PID_FILE=$EMULATOR_HOME/moto.pid
PORT_FILE=$EMULATOR_HOME/moto.port
LOG_FILE=$EMULATOR_HOME/moto.log
DATAPLANE_PID_FILE=$EMULATOR_HOME/dataplane.pid
DATAPLANE_MAP=$EMULATOR_HOME/dataplane.json
DATAPLANE_LOG=$EMULATOR_HOME/dataplane.log
# Written by the data plane's health checks, read by the launcher's elbv2-target-health-from-file
# patch (docs/emulator.md); absent without the data plane, and then moto answers target health.
TARGET_HEALTH_FILE=$EMULATOR_HOME/target-health.json
# Next to it, the data plane's per-service task counts, read by the launcher's
# ecs-service-counts-from-file patch (the launcher finds it beside the health file).
SERVICE_TASKS_FILE=$EMULATOR_HOME/service-tasks.json
DATAPLANE_BIN=${BLUEGREEN_DATAPLANE_BIN:-$REPO_ROOT/target/debug/bg-dataplane}
# The interpreter the venv is built from; the pins were resolved on CPython 3.11.
PYTHON=${BLUEGREEN_PYTHON:-python3}
START_TIMEOUT=${BLUEGREEN_EMULATOR_START_TIMEOUT:-60}
STOP_TIMEOUT=10

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

log() { printf 'emulator: %s\n' "$*" >&2; }
die() {
	printf 'emulator: error: %s\n' "$*" >&2
	exit 1
}

usage() {
	sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

# ---------------------------------------------------------------------------------------------
# install

# The stamp covers the requirements and the interpreter: a new Python needs a new venv too.
requirements_hash() {
	{
		cat -- "$REQUIREMENTS"
		"$PYTHON" -c 'import sys; print(sys.version)'
	} | sha256sum | cut -d' ' -f1
}

venv_is_current() {
	[[ -x $VENV/bin/python && -x $VENV/bin/moto_server && -f $STAMP ]] &&
		[[ $(<"$STAMP") == "$(requirements_hash)" ]]
}

check_python() {
	command -v "$PYTHON" >/dev/null 2>&1 ||
		die "'$PYTHON' not found; install Python 3.11+ or set BLUEGREEN_PYTHON to one"
	"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' ||
		die "$("$PYTHON" --version 2>&1) is too old: the pins in $REQUIREMENTS need Python 3.11+ (set BLUEGREEN_PYTHON)"
	"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null ||
		die "'$PYTHON' cannot create virtualenvs (on Debian/Ubuntu: apt-get install python3-venv)"
}

cmd_install() {
	[[ -f $REQUIREMENTS ]] || die "missing $REQUIREMENTS"
	check_python
	mkdir -p -- "$EMULATOR_HOME" "$(dirname -- "$VENV")"
	# Serialise concurrent installs (parallel test processes, two terminals). The subshell
	# keeps the lock's file descriptor away from the server started afterwards.
	(
		if command -v flock >/dev/null 2>&1; then
			exec 9>"$VENV.install.lock"
			flock 9
		fi
		install_unlocked
	)
}

install_unlocked() {
	if venv_is_current; then
		log "venv up to date: $VENV"
		return 0
	fi
	local started=$SECONDS
	# Pins may remove packages, so a stale venv is rebuilt rather than upgraded in place.
	# The stamp is written last: an interrupted install is redone next time.
	log "creating venv at $VENV ($("$PYTHON" --version 2>&1))"
	rm -rf -- "$VENV"
	"$PYTHON" -m venv -- "$VENV"
	log "installing pinned requirements from ${REQUIREMENTS#"$REPO_ROOT"/}"
	"$VENV/bin/python" -m pip install --quiet --require-virtualenv -r "$REQUIREMENTS" ||
		die "pip install failed; is PyPI reachable? (the venv at $VENV is incomplete and will be rebuilt next time)"
	[[ -x $VENV/bin/moto_server ]] || die "pip succeeded but $VENV/bin/moto_server is missing"
	requirements_hash >"$STAMP"
	log "venv ready in $((SECONDS - started))s"
}

# ---------------------------------------------------------------------------------------------
# process bookkeeping

recorded_pid() { [[ -f $PID_FILE ]] && tr -cd '0-9' <"$PID_FILE"; }
recorded_port() { [[ -f $PORT_FILE ]] && tr -cd '0-9' <"$PORT_FILE"; }

# True when PID is alive and is the emulator this script started from our venv on PORT: the
# strict launcher, or plain moto_server as started by earlier versions of this script (so that
# `stop` still ends one of those). Guards against PID reuse: we never signal a process we cannot
# prove is ours.
is_our_server() {
	local pid=$1 port=$2 cmdline
	[[ -n $pid && -n $port && -r /proc/$pid/cmdline ]] || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmdline == *" -p $port "* ]] || return 1
	[[ $cmdline == *"$VENV/bin/python $LAUNCHER "* || $cmdline == *"$VENV/bin/moto_server "* ]]
}

# True when our server on PORT is the strict launcher (not an earlier plain moto_server).
is_strict_server() {
	local pid=$1 cmdline
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmdline == *"$VENV/bin/python $LAUNCHER "* ]]
}

# True when something answers HTTP on the port (any status code counts).
answers_http() {
	local port=$1
	"$VENV/bin/python" - "$port" <<'PY' 2>/dev/null
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=2)
except urllib.error.HTTPError:
    pass
except Exception:
    sys.exit(1)
PY
}

free_port() {
	"$VENV/bin/python" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

forget_server() { rm -f -- "$PID_FILE" "$PORT_FILE"; }

# Held until this script exits. The server never inherits it (the launcher closes every
# descriptor above stderr), so a running emulator does not keep the lock.
take_run_lock() {
	mkdir -p -- "$EMULATOR_HOME"
	command -v flock >/dev/null 2>&1 || return 0
	exec 8>"$EMULATOR_HOME/run.lock"
	flock -w 120 8 || die "another start/stop in $EMULATOR_HOME did not finish within 120s"
}

log_tail() {
	if [[ -s $LOG_FILE ]]; then
		printf -- '--- last lines of %s ---\n' "$LOG_FILE" >&2
		tail -n 25 -- "$LOG_FILE" >&2
		printf -- '---\n' >&2
	fi
}

# ---------------------------------------------------------------------------------------------
# the data plane (docs/dataplane.md)

dataplane_enabled() { [[ ${BLUEGREEN_DATAPLANE:-0} == 1 ]]; }
recorded_dataplane_pid() { [[ -f $DATAPLANE_PID_FILE ]] && tr -cd '0-9' <"$DATAPLANE_PID_FILE"; }

# True when PID is a bg-dataplane writing this home's map (guards against PID reuse).
is_our_dataplane() {
	local pid=$1 cmdline
	[[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmdline == *"bg-dataplane run "*"--map $DATAPLANE_MAP "* ]]
}

# Starts bg-dataplane against the emulator (pid EMU_PID, port PORT), unless it already runs or
# BLUEGREEN_DATAPLANE is not 1. It stops itself when the emulator's process is gone.
start_dataplane() {
	local emu_pid=$1 port=$2 pid deadline
	dataplane_enabled || return 0
	pid=$(recorded_dataplane_pid || true)
	if is_our_dataplane "$pid"; then
		log "data plane already running: pid $pid, map $DATAPLANE_MAP"
		return 0
	fi
	if [[ ! -x $DATAPLANE_BIN ]]; then
		[[ -z ${BLUEGREEN_DATAPLANE_BIN:-} ]] || die "BLUEGREEN_DATAPLANE_BIN=$DATAPLANE_BIN is not an executable"
		log "building the data plane (cargo build --workspace --bins: with bluegreen, one variant of the SDK)"
		(cd -- "$REPO_ROOT" && cargo build --quiet --workspace --bins >&2) ||
			die "building bg-dataplane failed; without BLUEGREEN_DATAPLANE=1 the emulator starts alone"
	fi
	rm -f -- "$DATAPLANE_MAP" "$TARGET_HEALTH_FILE" "$SERVICE_TASKS_FILE"
	(
		# shellcheck disable=SC2046 # one name per word
		unset $(compgen -e -X '!AWS_*')
		export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
		export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
		exec "$VENV/bin/python" -c 'import os, sys
try:
    os.setsid()
except OSError:
    pass
os.closerange(3, 65536)
os.execv(sys.argv[1], sys.argv[1:])' "$DATAPLANE_BIN" run --map "$DATAPLANE_MAP" --exit-with-pid "$emu_pid" \
			--target-health-file "$TARGET_HEALTH_FILE"
	) </dev/null >>"$DATAPLANE_LOG" 2>&1 &
	pid=$!
	printf '%s\n' "$pid" >"$DATAPLANE_PID_FILE"
	deadline=$((SECONDS + 20))
	while [[ ! -s $DATAPLANE_MAP ]] && ((SECONDS < deadline)); do
		kill -0 "$pid" 2>/dev/null || {
			tail -n 20 -- "$DATAPLANE_LOG" >&2
			die "the data plane exited during start (log: $DATAPLANE_LOG)"
		}
		sleep 0.1
	done
	[[ -s $DATAPLANE_MAP ]] || die "the data plane wrote no map within 20s (log: $DATAPLANE_LOG)"
	log "data plane started: pid $pid, map $DATAPLANE_MAP, log $DATAPLANE_LOG"
}

stop_dataplane() {
	local pid
	pid=$(recorded_dataplane_pid || true)
	if is_our_dataplane "$pid"; then
		stop_pid "$pid"
		log "stopped the data plane (pid $pid)"
	fi
	rm -f -- "$DATAPLANE_PID_FILE" "$DATAPLANE_MAP"
}

# ---------------------------------------------------------------------------------------------
# start / stop / status / env

# The data plane registers the real tasks as targets: a launcher patch that registers
# placeholder targets for a service's tasks (as ECS does) is left out while it runs.
launcher_without() {
	dataplane_enabled || return 0
	local name
	for name in ecs-registers-service-targets; do
		if grep -q -- "[\"']$name[\"']" "$LAUNCHER"; then
			printf -- '--without %s\n' "$name"
		fi
	done
}

# Starts the strict launcher on PORT and waits until it answers. Returns 2 when the process
# died early (typically: port taken), 1 on timeout; the caller decides whether to retry.
launch() {
	local port=$1 pid deadline
	printf '\n=== %s: starting the strict moto launcher on 127.0.0.1:%s\n' "$(date -u +%FT%TZ)" "$port" >>"$LOG_FILE"
	# Files left by a data plane that was killed describe targets and tasks of a server that is gone.
	rm -f -- "$TARGET_HEALTH_FILE" "$SERVICE_TASKS_FILE"
	# A new session: the server outlives this script and ignores Ctrl-C aimed at the caller's
	# terminal; `stop` is the way to end it. setsid(1) would fork when we happen to be a
	# process-group leader (and $! would be the wrong pid), so Python execs the launcher itself,
	# after closing every inherited descriptor above stderr (our locks, the caller's).
	# The caller's AWS_* variables are dropped: moto uses botocore itself, and an AWS_PROFILE
	# that does not exist on this machine turns every request into a 500.
	(
		# shellcheck disable=SC2046 # word splitting is intended: one name per word
		unset $(compgen -e -X '!AWS_*')
		export BLUEGREEN_TARGET_HEALTH_FILE=$TARGET_HEALTH_FILE
		exec "$VENV/bin/python" -c 'import os, sys
try:
    os.setsid()
except OSError:
    pass
os.closerange(3, 65536)
os.execv(sys.argv[1], sys.argv[1:])' "$VENV/bin/python" "$LAUNCHER" -H 127.0.0.1 -p "$port" $(launcher_without)
	) </dev/null >>"$LOG_FILE" 2>&1 &
	pid=$!
	printf '%s\n' "$pid" >"$PID_FILE"
	printf '%s\n' "$port" >"$PORT_FILE"
	deadline=$((SECONDS + START_TIMEOUT))
	while ((SECONDS < deadline)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			forget_server
			return 2
		fi
		if answers_http "$port"; then
			# Someone else may own the port; only our live process counts.
			if is_our_server "$pid" "$port"; then
				return 0
			fi
		fi
		sleep 0.2
	done
	kill "$pid" 2>/dev/null || true
	forget_server
	return 1
}

cmd_start() {
	local port="" pid rc attempt
	while (($#)); do
		case $1 in
		--port)
			(($# >= 2)) || die "--port needs a value"
			port=$2
			shift 2
			;;
		--port=*)
			port=${1#--port=}
			shift
			;;
		*) die "start: unknown argument '$1' (usage: start [--port N])" ;;
		esac
	done
	if [[ -n $port ]] && ! [[ $port =~ ^[0-9]+$ && $port -ge 1 && $port -le 65535 ]]; then
		die "--port must be a number between 1 and 65535, got '$port'"
	fi

	cmd_install
	# The Terraform CLI config (provider mirror, plugin cache) the shells and tests pointed at
	# this emulator use; stdout is the port's alone.
	bash "$TERRAFORM_CONFIG" >/dev/null
	take_run_lock

	pid=$(recorded_pid || true)
	local running_port
	running_port=$(recorded_port || true)
	if is_our_server "$pid" "$running_port" && ! is_strict_server "$pid"; then
		log "pid $pid is a plain moto_server from an earlier version of this script; restarting it through the strict launcher"
		stop_pid "$pid"
	elif is_our_server "$pid" "$running_port"; then
		if [[ -n $port && $port != "$running_port" ]]; then
			die "already running on port $running_port (pid $pid); run '$0 stop' first to use port $port"
		fi
		if answers_http "$running_port"; then
			log "already running: pid $pid, http://127.0.0.1:$running_port"
			start_dataplane "$pid" "$running_port"
			printf '%s\n' "$running_port"
			return 0
		fi
		log "pid $pid is ours but does not answer; restarting it"
		stop_pid "$pid"
	fi
	forget_server
	# A data plane of an emulator that is gone would otherwise count as running.
	stop_dataplane

	# One log per start (retries of this start append to it), so the tail shown on failure
	# is about this attempt.
	: >"$LOG_FILE"
	local started=$SECONDS
	# An auto-picked port can be taken between picking and binding: retry with another.
	for attempt in 1 2 3; do
		local try_port=${port:-$(free_port)}
		rc=0
		launch "$try_port" || rc=$?
		case $rc in
		0)
			log "started: pid $(recorded_pid), http://127.0.0.1:$try_port ($((SECONDS - started))s), log: $LOG_FILE"
			start_dataplane "$(recorded_pid)" "$try_port"
			printf '%s\n' "$try_port"
			return 0
			;;
		2)
			if [[ -z $port && $attempt -lt 3 ]]; then
				log "the emulator exited during start on port $try_port; retrying on another port"
				continue
			fi
			log_tail
			die "the emulator exited during start on port $try_port (port in use?)"
			;;
		*)
			log_tail
			die "the emulator did not answer on http://127.0.0.1:$try_port within ${START_TIMEOUT}s (BLUEGREEN_EMULATOR_START_TIMEOUT)"
			;;
		esac
	done
}

stop_pid() {
	local pid=$1 deadline
	kill -TERM "$pid" 2>/dev/null || return 0
	deadline=$((SECONDS + STOP_TIMEOUT))
	while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid ignored SIGTERM for ${STOP_TIMEOUT}s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
}

cmd_stop() {
	local pid port
	if [[ -d $EMULATOR_HOME ]]; then
		take_run_lock
	fi
	pid=$(recorded_pid || true)
	port=$(recorded_port || true)
	stop_dataplane
	if [[ -z $pid ]]; then
		log "not running (no $PID_FILE)"
		return 0
	fi
	if is_our_server "$pid" "$port"; then
		stop_pid "$pid"
		log "stopped pid $pid (port $port)"
	elif kill -0 "$pid" 2>/dev/null; then
		log "pid $pid is not our emulator any more (pid reused?); leaving it alone"
	else
		log "not running (pid $pid already gone)"
	fi
	forget_server
}

cmd_status() {
	local pid port
	pid=$(recorded_pid || true)
	port=$(recorded_port || true)
	if venv_is_current; then
		echo "venv:     $VENV (up to date)"
	elif [[ -d $VENV ]]; then
		echo "venv:     $VENV (stale: run '$0 install')"
	else
		echo "venv:     not installed (run '$0 install')"
	fi
	if is_our_server "$pid" "$port"; then
		if ! is_strict_server "$pid"; then
			echo "emulator: pid $pid is a plain moto_server (no strict patches); '$0 start' restarts it through the launcher"
		fi
		if answers_http "$port"; then
			echo "emulator: running, pid $pid, endpoint http://127.0.0.1:$port"
			echo "log:      $LOG_FILE"
			if is_our_dataplane "$(recorded_dataplane_pid || true)"; then
				echo "dataplane: running, pid $(recorded_dataplane_pid), map $DATAPLANE_MAP, log $DATAPLANE_LOG"
			else
				echo "dataplane: not running"
			fi
			return 0
		fi
		echo "emulator: pid $pid is alive but does not answer on port $port (see $LOG_FILE)"
		return 1
	fi
	if [[ -n $pid ]]; then
		echo "emulator: not running (stale pid file for pid $pid)"
	else
		echo "emulator: not running"
	fi
	return 3
}

cmd_patches() {
	cmd_install
	"$VENV/bin/python" "$LAUNCHER" --list
}

cmd_env() {
	local pid port
	pid=$(recorded_pid || true)
	port=$(recorded_port || true)
	is_our_server "$pid" "$port" || die "not running; start it with '$0 start'"
	# Dummy credentials: the emulator accepts anything, and real ones must never be sent.
	printf 'export AWS_ENDPOINT_URL=%q\n' "http://127.0.0.1:$port"
	printf 'export AWS_ACCESS_KEY_ID=test\n'
	printf 'export AWS_SECRET_ACCESS_KEY=test\n'
	printf 'unset AWS_SESSION_TOKEN AWS_PROFILE\n'
	printf 'export AWS_REGION=us-east-1\n'
	printf 'export AWS_DEFAULT_REGION=us-east-1\n'
	# The emulator Terraform modules run `python3` and need this venv's boto3.
	# shellcheck disable=SC2016 # $PATH is expanded by the shell that evals this line.
	printf 'export PATH=%q:"$PATH"\n' "$VENV/bin"
	# Provider mirror and plugin cache: .bluegreen/terraform.rc, unless TF_CLI_CONFIG_FILE
	# already names a file (then nothing is printed and it stays as it is).
	bash "$TERRAFORM_CONFIG" env
	if is_our_dataplane "$(recorded_dataplane_pid || true)"; then
		printf 'export BLUEGREEN_DATAPLANE_MAP=%q\n' "$DATAPLANE_MAP"
	fi
}

main() {
	local cmd=${1:-}
	(($#)) && shift
	case $cmd in
	install) cmd_install "$@" ;;
	start) cmd_start "$@" ;;
	stop) cmd_stop "$@" ;;
	status) cmd_status "$@" ;;
	env) cmd_env "$@" ;;
	patches) cmd_patches "$@" ;;
	-h | --help | help)
		usage
		;;
	*)
		usage
		exit 2
		;;
	esac
}

main "$@"
