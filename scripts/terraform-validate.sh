#!/usr/bin/env bash
# `terraform init -backend=false` + `terraform validate` of every Terraform directory in the
# repository — modules/ (the real ones and modules/emulator/*), the wrapper roots under
# environments/, and examples/ — with the real providers. scripts/test.sh runs it as a check.
#
#   scripts/terraform-validate.sh [DIR...]   default: every directory with .tf files under
#                                            modules/, environments/ and examples/
#
# Nothing is written into the repository: the three trees are copied into a temp dir (so the
# wrappers' `../../../modules/...` sources resolve and the `.terraform.lock.hcl` that
# `terraform init` writes next to the root lands in the copy), each root gets its own temp
# TF_DATA_DIR, and `git status --porcelain --ignored` of those trees is compared before and
# after. Providers are installed through TF_CLI_CONFIG_FILE (scripts/terraform-config.sh
# writes one using a provider mirror when there is one), so it runs offline where a mirror
# is; every init is bounded by BLUEGREEN_TF_INIT_TIMEOUT (default 180 s), and the first init
# that cannot install providers stops the run with the fix in the message.
#
# Environment: TF (default: terraform, else tofu), BLUEGREEN_TF_INIT_TIMEOUT,
# BLUEGREEN_TF_VALIDATE_TIMEOUT (default 120 s).
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
cd -- "$REPO_ROOT"
TREES=(modules environments examples)
INIT_TIMEOUT=${BLUEGREEN_TF_INIT_TIMEOUT:-180}
VALIDATE_TIMEOUT=${BLUEGREEN_TF_VALIDATE_TIMEOUT:-120}

log() { printf 'terraform-validate: %s\n' "$*" >&2; }
die() {
	printf 'terraform-validate: error: %s\n' "$*" >&2
	exit 1
}

if [[ -z ${TF:-} ]]; then
	if command -v terraform >/dev/null 2>&1; then
		TF=terraform
	elif command -v tofu >/dev/null 2>&1; then
		TF=tofu
	else
		die "neither terraform nor tofu is on PATH"
	fi
fi
command -v timeout >/dev/null 2>&1 || die "timeout(1) not found (coreutils)"

# Our settings, not the caller's: these would change what init/validate do.
unset TF_WORKSPACE TF_DATA_DIR
# shellcheck disable=SC2046 # one name per word
unset $(compgen -e -X '!TF_CLI_ARGS*') 2>/dev/null || true
export TF_IN_AUTOMATION=1 TF_INPUT=0

if [[ -z ${TF_CLI_CONFIG_FILE:-} || ! -f ${TF_CLI_CONFIG_FILE:-} ]]; then
	eval "$(bash "$SCRIPT_DIR/terraform-config.sh" env)"
fi
log "$($TF version | head -n1); TF_CLI_CONFIG_FILE=${TF_CLI_CONFIG_FILE:-<none>}"

# Every directory holding .tf files (sorted), or the ones given.
roots=()
if (($#)); then
	for dir in "$@"; do
		dir=${dir%/}
		if [[ ! -d $dir ]] || ! compgen -G "$dir/*.tf" >/dev/null; then
			die "$dir: not a directory with .tf files"
		fi
		roots+=("${dir#./}")
	done
else
	mapfile -t roots < <(find "${TREES[@]}" -name .terraform -prune -o -type f -name '*.tf' -printf '%h\n' | LC_ALL=C sort -u)
fi
((${#roots[@]})) || die "no .tf files under ${TREES[*]}"

repo_state() { git -C "$REPO_ROOT" status --porcelain --ignored -- "${TREES[@]}" 2>/dev/null || true; }
before=$(repo_state)

work=$(mktemp -d "${TMPDIR:-/tmp}/bluegreen-validate.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
# Copy the trees without any .terraform/ a developer may have left in them.
tar -C "$REPO_ROOT" --exclude=.terraform -cf - "${TREES[@]}" | tar -C "$work" -xf -

failed=()
n=0
for root in "${roots[@]}"; do
	n=$((n + 1))
	data=$work/.data/$n
	out=$work/.out-$n
	started=$SECONDS
	rc=0
	(cd -- "$work/$root" && TF_DATA_DIR=$data timeout -k 10 "$INIT_TIMEOUT" "$TF" init -backend=false -input=false -no-color) >"$out" 2>&1 || rc=$?
	if ((rc != 0)); then
		cat -- "$out" >&2
		if ((rc == 124 || rc == 137)); then
			why="timed out after ${INIT_TIMEOUT}s"
		else
			why="failed (exit $rc)"
		fi
		if ((rc == 124 || rc == 137)) || grep -q -E 'Failed to (query available provider packages|install provider)|Failed to resolve provider|could not connect to|Could not retrieve the list of available versions' "$out"; then
			log "FAILED: $root: terraform init $why installing providers."
			log "  No provider mirror holds it and its registry was not reachable. Point BLUEGREEN_PROVIDER_MIRROR at a"
			log "  filesystem mirror (HOSTNAME/NAMESPACE/TYPE/VERSION/OS_ARCH/, e.g. one holding"
			log "  registry.terraform.io/hashicorp/aws) and run again; docs/terraform-providers.md."
			log "  (TF_CLI_CONFIG_FILE=${TF_CLI_CONFIG_FILE:-<none>}; not trying the remaining roots.)"
			exit 1
		fi
		log "FAILED: $root: terraform init $why"
		failed+=("$root")
		continue
	fi
	providers=$(grep -o -E '(Installed|Using previously-installed|Reusing previous version of) [^ ]+ v[0-9.]+' "$out" |
		sed -E 's/^(Installed|Using previously-installed|Reusing previous version of) //' | sort -u | paste -sd' ' -) || true
	rc=0
	(cd -- "$work/$root" && TF_DATA_DIR=$data timeout -k 10 "$VALIDATE_TIMEOUT" "$TF" validate -no-color) >"$out" 2>&1 || rc=$?
	if ((rc != 0)); then
		cat -- "$out" >&2
		log "FAILED: $root: terraform validate (exit $rc)"
		failed+=("$root")
		continue
	fi
	printf 'ok   %-36s %3ss  %s\n' "$root" "$((SECONDS - started))" "${providers:-(no providers)}"
done

after=$(repo_state)
if [[ $before != "$after" ]]; then
	diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") >&2 || true
	die "the repository changed under ${TREES[*]} while validating (see the diff above); nothing may be written there"
fi

if ((${#failed[@]})); then
	log "${#failed[@]} of ${#roots[@]} failed: ${failed[*]}"
	exit 1
fi
log "all ${#roots[@]} directories valid; nothing written into ${TREES[*]}"
