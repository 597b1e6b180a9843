#!/usr/bin/env bash
# A three-host network in network namespaces, for tests that need real packets between a browser, a
# server and a worker, and a lossy or UDP-less path between them. Needs root (ip netns, iptables).
#
#   lab.sh up NAME                  creates NAME-c, NAME-s, NAME-w (client, server, worker hosts) and
#                                   NAME-br (the bridge joining them); prints the addresses
#   lab.sh addresses NAME           prints the addresses again (same format as `up`)
#   lab.sh loss NAME HOST PERCENT   drops PERCENT % of the UDP arriving at HOST (0 removes the loss)
#   lab.sh block-udp NAME HOST      drops every UDP datagram into and out of HOST
#   lab.sh clear NAME HOST          removes HOST's loss and UDP block
#   lab.sh exec NAME HOST CMD...    runs CMD inside HOST's namespace (same PID: `ip netns exec` execs)
#   lab.sh down NAME                kills what still runs in NAME's namespaces and removes them;
#                                   succeeds when they are already gone
#
# HOST is client, server or worker (or c, s, w). NAME is unique per run (e.g. rv + random hex), 1-15
# characters of [A-Za-z0-9]; it names only namespaces, never an interface, so no IFNAMSIZ limit
# applies to it.
#
# Nothing is created in the root namespace: the veth pairs are made inside NAME-br with their host
# ends moved straight into the host namespaces, so the root namespace gets no interface, address,
# route or rule. Interface names are fixed (eth0 in a host, c/s/w and br0 in NAME-br) because each
# lives in its own namespace; labs side by side cannot clash.
#
# `up` prints one key=value per line:
#   name=NAME
#   client=10.X.Y.1 server=10.X.Y.2 worker=10.X.Y.3      (each on its own line; a /24)
#   client6=fdXX:XXXX:XXXX::1 ... worker6=...            (a ULA /64, same hosts)
# X.Y and the ULA prefix come from NAME's checksum; LAB_SUBNET=10.1.2 picks the /24 instead. Labs
# never see each other, so two labs with the same subnet are harmless; the derived one only makes a
# lab's addresses recognisable in logs.
#
# iptables: Debian 12's `iptables` is iptables-nft. Its rules work inside a namespace (checked on
# kernel 6.x); when the nft backend is missing (no nf_tables), iptables-legacy is used instead.
# LAB_IPTABLES=iptables-legacy forces the legacy one. The same holds for ip6tables.
set -euo pipefail
# ip and iptables live in sbin, which a non-login PATH (CI's, sudo's) may lack.
export PATH="$PATH:/usr/sbin:/sbin"

usage() {
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

die() {
    printf 'lab.sh: %s\n' "$*" >&2
    exit 1
}

check_name() {
    [[ "$1" =~ ^[A-Za-z0-9]{1,15}$ ]] || die "bad NAME '$1': 1-15 characters of [A-Za-z0-9]"
}

# The namespace of a host.
namespace() {
    case "$2" in
        client | c) printf '%s-c' "$1" ;;
        server | s) printf '%s-s' "$1" ;;
        worker | w) printf '%s-w' "$1" ;;
        *) die "bad HOST '$2': client, server or worker" ;;
    esac
}

exists() { [ -e "/run/netns/$1" ]; }

require_lab() {
    exists "$1-br" || die "no lab named $1 (lab.sh up $1 first)"
}

# 10.X.Y for the /24 and fdXX:XXXX:XXXX for the /64, from NAME (or LAB_SUBNET).
prefixes() {
    local sum
    sum=$(printf '%s' "$1" | cksum | cut -d' ' -f1)
    if [ -n "${LAB_SUBNET:-}" ]; then
        [[ "$LAB_SUBNET" =~ ^10\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "LAB_SUBNET must look like 10.1.2"
        V4=$LAB_SUBNET
    else
        V4="10.$(((sum >> 8) % 256)).$((sum % 256))"
    fi
    V6=$(printf 'fd%02x:%04x:%04x' $(((sum >> 24) % 256)) $(((sum >> 8) % 65536)) $((sum % 65536)))
}

host_number() {
    case "$1" in
        c) echo 1 ;;
        s) echo 2 ;;
        w) echo 3 ;;
    esac
}

print_addresses() {
    prefixes "$1"
    printf 'name=%s\n' "$1"
    printf 'client=%s.1\nserver=%s.2\nworker=%s.3\n' "$V4" "$V4" "$V4"
    printf 'client6=%s::1\nserver6=%s::2\nworker6=%s::3\n' "$V6" "$V6" "$V6"
}

# iptables (family 4) or ip6tables (6) inside namespace $2, with the backend that works there,
# chosen once per run so every rule of a namespace goes to the same backend.
IPTABLES=${LAB_IPTABLES:-}
ipt() {
    local family=$1 ns=$2 tool
    shift 2
    if [ -z "$IPTABLES" ]; then
        IPTABLES=iptables
        ip netns exec "$ns" iptables -w -S >/dev/null 2>&1 || IPTABLES=iptables-legacy
    fi
    tool=$IPTABLES
    [ "$family" = 6 ] && tool=${tool/iptables/ip6tables}
    ip netns exec "$ns" "$tool" -w "$@"
}

# The lab's own chains, hooked into INPUT/OUTPUT once: lab-loss (INPUT), lab-block-in (INPUT) and
# lab-block-out (OUTPUT). `loss` and `block-udp` then replace or clear their rules by flushing a
# chain instead of hunting for rules.
ensure_chains() {
    local ns=$1 family
    for family in 4 6; do
        ipt "$family" "$ns" -L lab-loss -n >/dev/null 2>&1 && continue
        ipt "$family" "$ns" -N lab-loss
        ipt "$family" "$ns" -N lab-block-in
        ipt "$family" "$ns" -N lab-block-out
        ipt "$family" "$ns" -A INPUT -j lab-block-in
        ipt "$family" "$ns" -A INPUT -j lab-loss
        ipt "$family" "$ns" -A OUTPUT -j lab-block-out
    done
}

cmd_up() {
    local name=$1 h ns n
    exists "$name-br" && die "a lab named $name exists already (lab.sh down $name)"
    prefixes "$name"
    # On a failure half way, leave nothing behind.
    trap 'cmd_down "$name" >/dev/null 2>&1' ERR
    ip netns add "$name-br"
    ip -n "$name-br" link set lo up
    ip -n "$name-br" link add br0 type bridge
    # A bridge forwards at once (no STP listening/learning delay), and br_netfilter, when loaded,
    # must not run the hosts' iptables rules a second time on bridged frames.
    ip -n "$name-br" link set br0 type bridge forward_delay 0 stp_state 0
    ip netns exec "$name-br" sh -c \
        'for f in /proc/sys/net/bridge/bridge-nf-call-*; do [ -e "$f" ] && echo 0 >"$f"; done; true'
    ip -n "$name-br" link set br0 up
    for h in c s w; do
        ns="$name-$h"
        n=$(host_number "$h")
        ip netns add "$ns"
        # No duplicate address detection for the link-local address either (interfaces made here
        # inherit `default`): its DAD would end about 1 s after the link comes up, and Chromium,
        # seeing that address change, aborts a navigation in flight with ERR_NETWORK_CHANGED.
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
        ip -n "$ns" link set lo up
        ip -n "$name-br" link add "$h" type veth peer name eth0 netns "$ns"
        ip -n "$name-br" link set "$h" master br0 up
        ip -n "$ns" addr add "$V4.$n/24" dev eth0
        # nodad: the address is usable at once instead of after duplicate address detection (~1 s).
        ip -n "$ns" addr add "$V6::$n/64" dev eth0 nodad
        ip -n "$ns" link set eth0 up
    done
    trap - ERR
    print_addresses "$name"
}

cmd_loss() {
    local name=$1 ns percent=$3 probability family
    require_lab "$name"
    ns=$(namespace "$name" "$2")
    [[ "$percent" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "bad PERCENT '$percent'"
    probability=$(awk -v p="$percent" 'BEGIN { if (p > 100) exit 1; printf "%.6f", p / 100 }') \
        || die "PERCENT over 100"
    ensure_chains "$ns"
    for family in 4 6; do
        # A new loss replaces the host's earlier one rather than compounding it.
        ipt "$family" "$ns" -F lab-loss
        awk -v p="$probability" 'BEGIN { exit !(p > 0) }' || continue
        # UDP only, in INPUT: a drop in OUTPUT fails the sender's sendto (EPERM), which a sender sees
        # and may just retry, so it is not a lost packet; a drop on the way in is, and the sender never
        # knows. TCP is left alone so that signalling (HTTPS, the broker) stays reliable: the tests are
        # about the media path. Loss both ways is this rule on both hosts.
        ipt "$family" "$ns" -A lab-loss -p udp -m statistic --mode random --probability "$probability" -j DROP
    done
}

cmd_block_udp() {
    local name=$1 ns family
    require_lab "$name"
    ns=$(namespace "$name" "$2")
    ensure_chains "$ns"
    for family in 4 6; do
        ipt "$family" "$ns" -F lab-block-in
        ipt "$family" "$ns" -F lab-block-out
        # Loopback is exempt: the host's own UDP is not the network path being blocked.
        ipt "$family" "$ns" -A lab-block-in -p udp ! -i lo -j DROP
        ipt "$family" "$ns" -A lab-block-out -p udp ! -o lo -j DROP
    done
}

cmd_clear() {
    local name=$1 ns family chain
    require_lab "$name"
    ns=$(namespace "$name" "$2")
    ensure_chains "$ns"
    for family in 4 6; do
        for chain in lab-loss lab-block-in lab-block-out; do ipt "$family" "$ns" -F "$chain"; done
    done
}

cmd_down() {
    local name=$1 ns pids
    for ns in "$name-c" "$name-s" "$name-w" "$name-br"; do
        exists "$ns" || continue
        # A process left inside would keep the namespace (and its veth) alive after the delete.
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        if [ -n "$pids" ]; then
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null || true
        fi
        ip netns del "$ns"
    done
}

[ $# -ge 2 ] || usage
command=$1
name=$2
check_name "$name"
shift 2
case "$command" in
    up) [ $# -eq 0 ] || usage; cmd_up "$name" ;;
    addresses) [ $# -eq 0 ] || usage; require_lab "$name"; print_addresses "$name" ;;
    loss) [ $# -eq 2 ] || usage; cmd_loss "$name" "$1" "$2" ;;
    block-udp) [ $# -eq 1 ] || usage; cmd_block_udp "$name" "$1" ;;
    clear) [ $# -eq 1 ] || usage; cmd_clear "$name" "$1" ;;
    exec)
        [ $# -ge 2 ] || usage
        require_lab "$name"
        ns=$(namespace "$name" "$1")
        shift
        exec ip netns exec "$ns" "$@"
        ;;
    down) [ $# -eq 0 ] || usage; cmd_down "$name" ;;
    *) usage ;;
esac
