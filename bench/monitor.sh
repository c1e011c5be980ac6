#!/usr/bin/env bash
# certdoctor monitor vs check_tls_certs, sslyze and blackbox_exporter: one run, the same targets,
# one local nginx, every chain verified against a private root (where the tool can).
#
#   bench/monitor.sh                 # 1,000 and 10,000 targets
#   SIZES="1000" bench/monitor.sh    # other sizes
#   MEMORY=1 bench/monitor.sh        # also certdoctor alone at 100,000 targets (peak memory)
#   VARIANTS="nostate oneproc"       # which certdoctor variants besides the default (noreuse nostate oneproc)
#   bench/monitor.sh --dask local:2  # also the variant dask: certdoctor monitor --dask local:2 (or
#                                    # DASK=local:2; a scheduler address works too); DASK_SHARD=N
#                                    # targets per shard (default policy.MONITOR_DASK_SHARD_TARGETS:
#                                    # fewer targets than 2 shards per worker leave workers idle)
#   TOOLS=certdoctor bench/monitor.sh  # certdoctor's runs only (no anchors installed or run)
#   CONCURRENCY=200 SSLYZE_MAX=1000 PYTHON=.venv/bin/python BENCH_VENV=/tmp/bench-venv CTC_VENV=/tmp/bench-venv-ctc
#
# nginx: one master, worker_processes 1 (the client needs the other core of a 2-core machine),
# worker_connections 16384, worker_rlimit_nofile 40000, listening on as many free ports of
# 127.0.0.1 as the largest run has targets (10,000), one leaf for localhost + intermediate under a
# private root (bench/monitor_targets.py setup); every tool gets the same list of unique
# localhost:PORT targets (the 100,000-target memory run repeats them).
# Tools, each as a separate process measured by GNU time (wall, user+sys CPU, peak RSS):
#   certdoctor monitor --targets FILE --ca-file ROOT --concurrency C --jsonl (full diagnose
#     checks: path to the root, hostname, validity, RFC 5280 verifier; the default --workers auto
#     and the state file on, as a user runs it); the same with the judgement reuse off
#     (policy.MONITOR_JUDGEMENT_CACHE = 0): every target judged in full; with --no-state (what the
#     SQLite state costs); and with --workers 1 (one process, as before the shards). certdoctor is
#     measured by bench/proctree.py, not GNU time: its workers are children of multiprocessing's
#     forkserver, which GNU time neither waits for nor sees; proctree sums CPU (utime+stime) and
#     peak RSS (VmHWM) over every process of the tree (parent, forkserver, workers), polled from
#     /proc every 20 ms (shared copy-on-write pages count once per process: an upper bound)
#   check_tls_certs -f FILE with SSL_CERT_FILE=ROOT (pyOpenSSL, chain + hostname; its own pool
#     of cpu+4 threads, no concurrency option; exit 0 = every target passed)
#   sslyze --certinfo --certinfo_ca_file ROOT (its own scheduler; up to SSLYZE_MAX targets: it
#     runs ~30 targets/s, 10,000 would take minutes)
#   blackbox_exporter's /probe (tcp prober, tls: true, ca_file ROOT: chain and name verified),
#     driven by an asyncio client at the same concurrency; its CPU and
#     VmHWM read from /proc of the exporter (the driver is the harness, like nginx, not counted)
# plus openssl s_time against one port for 10 s (the server's handshake ceiling from one client).
# Anchors that cannot be installed are reported as such; never a timing assertion anywhere.
set -euo pipefail
while [ $# -gt 0 ]; do
  case $1 in
    --dask) DASK=${2:?--dask needs local[:N] or a scheduler address}; shift 2 ;;
    --dask=*) DASK=${1#--dask=}; shift ;;
    *) echo "error: unknown argument $1" >&2; echo "hint: bench/monitor.sh [--dask local:2]" >&2; exit 2 ;;
  esac
done
DASK=${DASK:-}
TOOLS=${TOOLS:-all}
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
VENV=${BENCH_VENV:-/tmp/bench-venv}
CTC_VENV=${CTC_VENV:-/tmp/bench-venv-ctc}
C=${CONCURRENCY:-200}
SIZES=${SIZES:-1000 10000}
PORTS=${PORTS:-$(printf '%s\n' $SIZES | sort -n | tail -1)}
SSLYZE_MAX=${SSLYZE_MAX:-1000}
ulimit -n 40000 2>/dev/null || ulimit -n "$(ulimit -Hn)"  # nginx (root) raises its own: worker_rlimit_nofile
echo "ulimit -n: $(ulimit -n)  concurrency: $C  ports: $PORTS  python: $PY  dask: ${DASK:-no}  tools: $TOOLS"
echo "cores: $(nproc)  load average: $(cut -d' ' -f1-3 /proc/loadavg)"

WORK=$(mktemp -d /tmp/certdoctor-monitor-bench.XXXXXX)
NGINX_PID="" BB_PID=""
cleanup() {
  [ -n "$BB_PID" ] && kill "$BB_PID" 2>/dev/null && wait "$BB_PID" 2>/dev/null || true
  [ -n "$NGINX_PID" ] && kill -QUIT "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
H="$PY bench/monitor_targets.py"
CLEAN_ENV=(env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE -u SSL_CERT_FILE -u SSL_CERT_DIR -u PIP_CERT)

# ---- anchors (idempotent installs; a failure is reported, not fatal)
if [ "$TOOLS" = certdoctor ]; then VENV=/nonexistent CTC_VENV=/nonexistent; fi
if [ "$TOOLS" != certdoctor ]; then
# check_tls_certs 0.12.0 (its latest) calls X509.get_extension, gone from pyOpenSSL >= 24.3: its
# own venv with pyOpenSSL < 24.3 (and the cryptography that goes with it); sslyze in another
if [ ! -x "$VENV/bin/sslyze" ]; then
  ( timeout 600 "$PY" -m venv "$VENV" && timeout 600 "$VENV/bin/pip" install -q sslyze ) \
    || echo "note: pip could not install sslyze into $VENV"
fi
if [ ! -x "$CTC_VENV/bin/check_tls_certs" ]; then
  ( timeout 600 "$PY" -m venv "$CTC_VENV" && timeout 600 "$CTC_VENV/bin/pip" install -q check_tls_certs "pyopenssl<24.3" ) \
    || echo "note: pip could not install check_tls_certs into $CTC_VENV"
fi
BB=$(command -v prometheus-blackbox-exporter || command -v blackbox_exporter || true)
if [ -z "$BB" ] && command -v apt-get >/dev/null; then
  timeout 600 env DEBIAN_FRONTEND=noninteractive apt-get install -y -q prometheus-blackbox-exporter >/dev/null 2>&1 \
    || echo "note: apt-get could not install prometheus-blackbox-exporter"
  BB=$(command -v prometheus-blackbox-exporter || true)
fi
fi
[ "$TOOLS" = certdoctor ] && BB=""

# ---- the server
$H setup "$WORK" "$PORTS"
FIRST=$(head -1 "$WORK/ports")
nginx -c "$WORK/nginx.conf" -p "$WORK" -e "$WORK/error.log" &
NGINX_PID=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$FIRST") 2>/dev/null && break
  sleep 0.1
done
echo "nginx $(nginx -v 2>&1 | sed 's/.*\///'), pid $NGINX_PID"
echo "openssl s_time, one client, new handshake each, 10 s (and the nginx worker's CPU meanwhile):"
WORKER=""
for _ in $(seq 300); do  # the master binds every port before it forks its worker: wait for the worker
  WORKER=$(awk '{print $1}' "/proc/$NGINX_PID/task/$NGINX_PID/children" 2>/dev/null || true)
  [ -n "$WORKER" ] && break
  sleep 0.1
done
read -r w0 _ < <($H proc "$WORKER")
timeout 30 openssl s_time -connect "127.0.0.1:$FIRST" -new -time 10 -CAfile "$WORK/ca.pem" >"$WORK/stime" 2>/dev/null || true
read -r w1 _ < <($H proc "$WORKER")
grep -E "connections/user sec|connections in" "$WORK/stime" || echo "  (s_time failed)"
HS=$(sed -n 's/^\([0-9]*\) connections in [0-9.]* real seconds.*/\1/p' "$WORK/stime")
[ -n "$HS" ] && [ "$HS" -gt 0 ] && echo "nginx worker: $(echo "scale=3; ($w1 - $w0) * 1000 / $HS" | bc) ms CPU per handshake" \
  "(one core's ceiling: $(echo "$HS / ($w1 - $w0 + 0.001)" | bc) handshakes/s)"

RES="$WORK/results.tsv"
: >"$RES"
timed() {  # timed TOOL N OKCMD -- CMD...: append "tool n ok wall cpu kib note" to $RES
  local tool=$1 n=$2 okcmd=$3; shift 4
  local t="$WORK/time.$$"
  set +e
  /usr/bin/time -f "%e %U %S %M" -o "$t" "$@" >"$WORK/out" 2>"$WORK/err"
  local rc=$?
  set -e
  read -r wall user sys kib < <(tail -1 "$t")
  local ok
  ok=$(eval "$okcmd" || echo 0)
  printf '%s\t%s\t%s\t%s\t%s\t%s\texit %s\n' "$tool" "$n" "$ok" "$wall" \
    "$(echo "$user + $sys" | bc)" "$kib" "$rc" >>"$RES"
  echo "  $tool $n: exit $rc, ok $ok, wall $wall s, cpu $(echo "$user + $sys" | bc) s, peak ${kib} KiB"
}

timed_tree() {  # timed_tree TOOL N OKCMD -- CMD...: as timed, summed over the command's process tree
  local tool=$1 n=$2 okcmd=$3; shift 4
  local t="$WORK/tree.$$"
  set +e
  "$PY" bench/proctree.py "$t" -- "$@" >"$WORK/out" 2>"$WORK/err"
  local rc=$?
  set -e
  read -r wall cpu kib procs < <(tail -1 "$t")
  local ok
  ok=$(eval "$okcmd" || echo 0)
  printf '%s\t%s\t%s\t%s\t%s\t%s\texit %s, %s processes\n' "$tool" "$n" "$ok" "$wall" "$cpu" "$kib" "$rc" \
    "$procs" >>"$RES"
  echo "  $tool $n: exit $rc, ok $ok, wall $wall s, cpu $cpu s (all $procs processes), peak ${kib} KiB (summed)"
}

WORKERS_AUTO=$(PYTHONPATH="$ROOT/src" "$PY" -c "from certdoctor.monitor.shard import auto_workers; print(auto_workers())")
SHARD_MIN=$(PYTHONPATH="$ROOT/src" "$PY" -c "from certdoctor import policy; print(policy.MONITOR_SHARD_MIN_TARGETS)")
echo "certdoctor --workers auto: $WORKERS_AUTO worker process(es) at >= $SHARD_MIN targets, else 1"

run_certdoctor() {  # run_certdoctor N [noreuse|nostate|oneproc|dask]
  local n=$1 pre="" tool="certdoctor monitor" extra=() workers
  case "${2:-}" in
    noreuse) pre="import certdoctor.policy as p; p.MONITOR_JUDGEMENT_CACHE = 0; "; tool="certdoctor monitor, no reuse" ;;
    nostate) extra=(--no-state); tool="certdoctor monitor --no-state" ;;
    oneproc) extra=(--workers 1); tool="certdoctor --workers 1" ;;
    dask)  # the shards are cut in the coordinator: DASK_SHARD reaches them
      [ -n "${DASK_SHARD:-}" ] && pre="import certdoctor.policy as p; p.MONITOR_DASK_SHARD_TARGETS = $DASK_SHARD; "
      extra=(--dask "$DASK"); tool="certdoctor --dask $DASK" ;;
  esac
  workers=$([ "$n" -ge "$SHARD_MIN" ] && echo "$WORKERS_AUTO" || echo 1)
  [ "${2:-}" = oneproc ] && workers=1
  [ "${2:-}" = dask ] && workers="Dask $DASK"
  echo "  ($tool: $workers worker process(es))"
  timed_tree "$tool" "$n" "grep -c '\"status\": *\"ok\"' $WORK/out" -- "${CLEAN_ENV[@]}" PYTHONPATH="$ROOT/src" \
    XDG_DATA_HOME="$WORK/data" "$PY" -c "${pre}from certdoctor.cli import main; main()" monitor \
    --targets "$WORK/$n.targets" --ca-file "$WORK/ca.pem" --concurrency "$C" --timeout 30 --jsonl "${extra[@]}"
}

for N in $SIZES; do
  echo "== $N targets"
  $H targets "$WORK" "$N"
  run_certdoctor "$N"
  for v in ${VARIANTS:-noreuse nostate oneproc} ${DASK:+dask}; do run_certdoctor "$N" "$v"; done
  if [ -x "$CTC_VENV/bin/check_tls_certs" ]; then
    # exit 0: every domain passed (its chain verified to SSL_CERT_FILE, names matched, not expiring)
    timed "check_tls_certs" "$N" "[ \$rc -eq 0 ] && echo $N || echo 0" -- "${CLEAN_ENV[@]}" \
      SSL_CERT_FILE="$WORK/ca.pem" "$CTC_VENV/bin/check_tls_certs" -f "$WORK/$N.targets"
  else
    echo "  check_tls_certs: not installed"
  fi
  if [ -x "$VENV/bin/sslyze" ] && [ "$N" -le "$SSLYZE_MAX" ]; then
    timed "sslyze --certinfo" "$N" "$VENV/bin/python $ROOT/bench/monitor_targets.py sslyze_ok $WORK/sslyze.json" -- \
      "${CLEAN_ENV[@]}" "$VENV/bin/sslyze" --certinfo --certinfo_ca_file "$WORK/ca.pem" \
      --targets_in "$WORK/$N.targets" --quiet --json_out "$WORK/sslyze.json"
  else
    echo "  sslyze: skipped (not installed, or $N > SSLYZE_MAX=$SSLYZE_MAX)"
  fi
  if [ -n "$BB" ]; then
    BBPORT=$("$PY" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
    cat >"$WORK/blackbox.yml" <<EOF
modules:
  tls_verify:
    prober: tcp
    timeout: 30s
    tcp:
      tls: true
      tls_config:
        ca_file: $WORK/ca.pem
        insecure_skip_verify: false
EOF
    "$BB" --config.file="$WORK/blackbox.yml" --web.listen-address="127.0.0.1:$BBPORT" --log.level=warn \
      >"$WORK/bb.log" 2>&1 &
    BB_PID=$!
    for _ in $(seq 100); do
      (exec 3<>"/dev/tcp/127.0.0.1/$BBPORT") 2>/dev/null && break
      sleep 0.1
    done
    read -r cpu0 _ < <($H proc "$BB_PID")
    t0=$(date +%s.%N)
    set +e
    $H blackbox "http://127.0.0.1:$BBPORT" "$WORK/$N.targets" "$C" 2>"$WORK/bb.err"
    rc=$?
    set -e
    t1=$(date +%s.%N)
    read -r cpu1 kib < <($H proc "$BB_PID")
    ok=$(sed -n 's/.*probe_success 1: \([0-9]*\).*/\1/p' "$WORK/bb.err")
    wall=$(echo "$t1 - $t0" | bc)
    printf '%s\t%s\t%s\t%s\t%s\t%s\texit %s\n' "blackbox_exporter /probe" "$N" "${ok:-0}" "$wall" \
      "$(echo "$cpu1 - $cpu0" | bc)" "$kib" "$rc" >>"$RES"
    echo "  blackbox_exporter $N: ok ${ok:-0}, wall $wall s, exporter cpu $(echo "$cpu1 - $cpu0" | bc) s, VmHWM $kib KiB"
    kill "$BB_PID"; wait "$BB_PID" 2>/dev/null || true; BB_PID=""
  else
    echo "  blackbox_exporter: not installed"
  fi
done

if [ -n "${MEMORY:-}" ]; then
  echo "== 100000 targets (certdoctor only: peak memory)"
  $H targets "$WORK" 100000
  run_certdoctor 100000
fi
echo "load while it ran: $(uptime | sed 's/.*load/load/') (2-core machines shared with other work: compare ratios)"

echo
$H report "$RES"
