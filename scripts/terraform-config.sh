#!/usr/bin/env bash
# The Terraform CLI configuration the project's scripts use: provider installation from a local
# filesystem mirror when one is found (as air-gapped teams install providers), the registry
# otherwise, and one plugin cache shared by every root. docs/terraform-providers.md.
#
#   scripts/terraform-config.sh          write <repo>/.bluegreen/terraform.rc; print its path
#   scripts/terraform-config.sh env      print an eval-able `export TF_CLI_CONFIG_FILE=...` line
#                                        (nothing when you set TF_CLI_CONFIG_FILE yourself)
#   scripts/terraform-config.sh show     write it, then print the file
#
# The mirror is the directory named by $BLUEGREEN_PROVIDER_MIRROR (an error when it holds no
# providers), else every one of these that holds providers: /opt/tf-plugins,
# ~/.terraform.d/plugins, ${XDG_DATA_HOME:-~/.local/share}/terraform/plugins,
# /usr/local/share/terraform/plugins, /usr/share/terraform/plugins. A mirror is a directory in
# Terraform's layout: HOSTNAME/NAMESPACE/TYPE/VERSION/OS_ARCH/ (unpacked) or
# HOSTNAME/NAMESPACE/TYPE/terraform-provider-TYPE_VERSION_OS_ARCH.zip (packed). The providers
# found there are installed only from there (`include`); every other one comes from its
# registry (`direct { exclude = [...] }`). BLUEGREEN_PROVIDER_MIRROR=none turns mirrors off.
#
# A TF_CLI_CONFIG_FILE you exported that names an existing file is respected: the scripts leave
# it alone and say so. One that names a missing file (Terraform would only warn and use its
# defaults) is replaced by ours, with a warning.
#
# The file is machine-specific (absolute paths) and lives under the git-ignored .bluegreen/
# (or $BLUEGREEN_TERRAFORM_CONFIG_DIR); it is rewritten on every call, atomically.
# Messages go to stderr; stdout carries only the path, the export line or the file.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
CONFIG_DIR=${BLUEGREEN_TERRAFORM_CONFIG_DIR:-$REPO_ROOT/.bluegreen}
[[ $CONFIG_DIR == /* ]] || CONFIG_DIR=$PWD/$CONFIG_DIR
CONFIG_FILE=$CONFIG_DIR/terraform.rc
CACHE_DIR=$CONFIG_DIR/terraform-plugin-cache

log() { printf 'terraform-config: %s\n' "$*" >&2; }
die() {
	printf 'terraform-config: error: %s\n' "$*" >&2
	exit 1
}

# Prints the providers (HOSTNAME/NAMESPACE/TYPE) a mirror directory holds, one a line, sorted.
mirror_providers() {
	local dir=$1 p
	[[ -d $dir ]] || return 0
	for p in "$dir"/*/*/*/; do
		[[ -d $p ]] || continue
		p=${p%/}
		# unpacked: VERSION/OS_ARCH/ directories; packed: terraform-provider-TYPE_*.zip files
		if compgen -G "$p/[0-9]*/*_*/terraform-provider-${p##*/}*" >/dev/null ||
			compgen -G "$p/terraform-provider-${p##*/}_[0-9]*_*_*.zip" >/dev/null; then
			printf '%s\n' "${p#"$dir"/}"
		fi
	done | LC_ALL=C sort -u
}

# Prints the mirror directories to use, one a line.
find_mirrors() {
	local named=${BLUEGREEN_PROVIDER_MIRROR-} dir
	if [[ $named == none ]]; then
		return 0
	fi
	if [[ -n $named ]]; then
		[[ $named == /* ]] || named=$PWD/$named
		[[ -d $named ]] || die "BLUEGREEN_PROVIDER_MIRROR=$named is not a directory"
		[[ -n $(mirror_providers "$named") ]] ||
			die "BLUEGREEN_PROVIDER_MIRROR=$named holds no providers (expected HOSTNAME/NAMESPACE/TYPE/VERSION/OS_ARCH/ directories, e.g. registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64/)"
		printf '%s\n' "$named"
		return 0
	fi
	local seen=""
	for dir in /opt/tf-plugins \
		"$HOME/.terraform.d/plugins" \
		"${XDG_DATA_HOME:-$HOME/.local/share}/terraform/plugins" \
		/usr/local/share/terraform/plugins \
		/usr/share/terraform/plugins; do
		[[ -d $dir ]] || continue
		dir=$(cd -- "$dir" && pwd -P)
		[[ " $seen " == *" $dir "* ]] && continue
		seen+=" $dir"
		[[ -n $(mirror_providers "$dir") ]] && printf '%s\n' "$dir"
	done
	return 0
}

# An HCL string literal.
hcl_string() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//\$\{/\$\$\{}
	s=${s//%\{/%%\{}
	printf '"%s"' "$s"
}

hcl_list() {
	local first=1 item
	printf '['
	for item in "$@"; do
		((first)) || printf ', '
		first=0
		hcl_string "$item"
	done
	printf ']'
}

render() {
	local mirrors=() all=() mirror providers found
	# Not `mapfile < <(...)`: find_mirrors' errors must stop the script.
	found=$(find_mirrors)
	[[ -z $found ]] || mapfile -t mirrors <<<"$found"
	printf '# Written by scripts/terraform-config.sh on %s; rewritten on every run, do not edit.\n' "$(date -u +%FT%TZ)"
	printf '# Used through TF_CLI_CONFIG_FILE by scripts/emulator.sh, test.sh and demo.sh.\n'
	printf 'plugin_cache_dir = %s\n' "$(hcl_string "$CACHE_DIR")"
	printf '\nprovider_installation {\n'
	for mirror in "${mirrors[@]}"; do
		mapfile -t providers < <(mirror_providers "$mirror")
		all+=("${providers[@]}")
		printf '  filesystem_mirror {\n'
		printf '    path    = %s\n' "$(hcl_string "$mirror")"
		printf '    include = %s\n' "$(hcl_list "${providers[@]}")"
		printf '  }\n'
		log "provider mirror: $mirror (${providers[*]})"
	done
	if ((${#all[@]})); then
		mapfile -t all < <(printf '%s\n' "${all[@]}" | LC_ALL=C sort -u)
		printf '  direct {\n'
		printf '    exclude = %s\n' "$(hcl_list "${all[@]}")"
		printf '  }\n'
		log "other providers: direct from their registries"
	else
		printf '  direct {}\n'
		if [[ ${BLUEGREEN_PROVIDER_MIRROR-} == none ]]; then
			log "no provider mirror (BLUEGREEN_PROVIDER_MIRROR=none): every provider direct from its registry"
		else
			log "no provider mirror found: every provider direct from its registry (set BLUEGREEN_PROVIDER_MIRROR to use one)"
		fi
	fi
	printf '}\n'
}

write_config() {
	mkdir -p -- "$CONFIG_DIR" "$CACHE_DIR"
	local tmp
	tmp=$(mktemp -- "$CONFIG_FILE.XXXXXX")
	# shellcheck disable=SC2064 # expand now: the name is local
	trap "rm -f -- '$tmp'" EXIT
	render >"$tmp"
	chmod 0644 -- "$tmp"
	mv -f -- "$tmp" "$CONFIG_FILE"
	trap - EXIT
	log "wrote $CONFIG_FILE (plugin cache: $CACHE_DIR)"
}

# True (and says so) when the caller's TF_CLI_CONFIG_FILE is to be kept.
user_config_kept() {
	local theirs=${TF_CLI_CONFIG_FILE-}
	[[ -n $theirs ]] || return 1
	[[ $theirs == "$CONFIG_FILE" ]] && return 1
	if [[ -f $theirs ]]; then
		log "TF_CLI_CONFIG_FILE=$theirs is set: respecting it ($CONFIG_FILE is not used; provider installation and the plugin cache are up to that file)"
		return 0
	fi
	log "warning: TF_CLI_CONFIG_FILE=$theirs does not exist; using $CONFIG_FILE instead"
	return 1
}

main() {
	case ${1:-write} in
	write)
		write_config
		printf '%s\n' "$CONFIG_FILE"
		;;
	env)
		user_config_kept && return 0
		write_config
		printf 'export TF_CLI_CONFIG_FILE=%q\n' "$CONFIG_FILE"
		;;
	show)
		write_config
		cat -- "$CONFIG_FILE"
		;;
	-h | --help | help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2 ;;
	*)
		sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
		exit 2
		;;
	esac
}

main "$@"
