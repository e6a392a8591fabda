# SPDX-License-Identifier: GPL-2.0-only
# Suite "bench-downtime" (opt-in: in no default list; run by run-tests.sh,
# in a process of its own): the live-migration benchmark of
# Documentation/benchmarks.rst. The same nested guest is migrated with
# QEMU's default parameters and vfio-pci options, alternately without the
# device (idle), with it (its workload rewriting the whole device memory
# with PACE ms of pauses per round), and without the device but with the
# same writer at the same pace on as much of its own RAM ("ram": what
# QEMU does with that dirtying when it is all guest RAM, so that the
# device path's own cost is told from what QEMU's downtime limit allows
# any writer), VFMIG_BENCH_ROUNDS times each,
# for each PACE of VFMIG_BENCH_PACES (comma-separated, default 1000).
# VFMIG_BENCH_WRITER says how the pause is taken: "steady" (the default)
# spreads it over the round, so that the memory is dirtied at an even rate
# and the switchover finds the same amount dirty wherever it falls;
# "burst" sleeps it after each round, as the qemu-defaults suite's writer
# does, so the switchover's phase in the round decides the downtime. It
# prints every migration's downtime, total time and the workload's
# measured dirty rate, then per pace the medians and their ratios (with /
# without), as comments: figures, never judged (tests/bench/plot_downtime.py
# draws downtime against dirty rate). Its checks are only that it could
# measure (every migration completed) and that the
# kernel stayed clean. Needs a kernel that can report DMA logging
# (VFMIG_KERNEL=iommufd), as the qemu-defaults suite does.
. /opt/vfmig/tests/guest/lib.sh
plan 3

mapfile -t devs < <(ivshmem_devices)
A=${devs[0]}
B=${devs[1]}
rounds=${VFMIG_BENCH_ROUNDS:-10}
paces=${VFMIG_BENCH_PACES:-1000}
case ${VFMIG_BENCH_WRITER:-steady} in
steady) steady=1 ;;
burst) steady=0 ;;
*) echo "bench-downtime: VFMIG_BENCH_WRITER is steady or burst" >&2; exit 1 ;;
esac
# A migration still running after VFMIG_BENCH_WAIT seconds (300) is
# recorded with QEMU's status ("active": it did not converge at the
# 300 ms limit).
# shellcheck disable=SC2034 # read by live_migrate (lib.sh)
MIG_WAIT=${VFMIG_BENCH_WAIT:-300}
if [ ! -c /dev/iommu ]; then
	for i in 1 2 3; do
		skip "bench-downtime part $i" "needs a kernel with IOMMUFD (DMA logging reports): VFMIG_KERNEL=iommufd"
	done
	exit 0
fi
dmesg_mark bench-downtime
bar=$(($(stat -c %s "/sys/bus/pci/devices/$A/resource2" 2>/dev/null || echo 0) >> 20))
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
modprobe "$VFMIG_MODULE"
check "A and B bound for the benchmark" "bind failed" \
	eval 'bind "$A" "$VFMIG_DRIVER" && bind "$B" "$VFMIG_DRIVER"'

# one KIND PACE : one migration with QEMU's defaults; appends "KIND PACE
# status downtime_ms total_ms vfio_bytes ram_bytes dirty_MiB_per_s
# sc_bytes sc_ms mbps" to /tmp/bd.txt. The dirty rate is the workload's
# own on the source: the BAR's size over the median period of its rounds
# after the first (each CHECK line's ms=, the round's pauses included).
# sc_bytes and sc_ms are vfmig's STOP_COPY share on the source (its
# status file's last_stop_copy: the bytes QEMU read after the function
# stopped, and the time from the STOP_COPY arc to the last of them), the
# device's part of the downtime; mbps is QEMU's own figure for the
# stream's rate.
# writer_rate : the source workload's dirty rate in MiB/s (see above).
writer_rate() {
	grep -o 'VFMIG-L2-CHECK round=[0-9]* .* ms=[0-9]*' /tmp/bd_src.console |
		sed 's/.*ms=//' | tail -n +2 | sort -n |
		awk -v b="$bar" '{ ms[NR] = $1 }
		END { m = NR % 2 ? ms[(NR + 1) / 2] : (ms[NR / 2] + ms[NR / 2 + 1]) / 2
			printf "%.2f", (NR && m > 0 ? b * 1000 / m : 0) }'
}

one() {
	local res rate=0 sc='0 0'
	local wl="vfmig.pace_ms=$2 vfmig.steady=$steady"
	MIG_RES=	# not the last round's, if this one never gets to migrate
	if [ "$1" = without ]; then
		vm_start bd_src - && wait_console bd_src "VFMIG-L2-IDLE" 1 240 &&
			MIG_DEFAULTS=1 live_migrate bd_src bd_dst -
	elif [ "$1" = ram ]; then
		VM_APPEND="vfmig.ram=$bar $wl" vm_start bd_src - &&
			wait_console bd_src "VFMIG-L2-CHECK" 2 300 &&
			VM_APPEND="vfmig.ram=$bar $wl" MIG_DEFAULTS=1 live_migrate bd_src bd_dst - &&
			rate=$(writer_rate)
	else
		VM_VFIO_OPTS= VM_APPEND="$wl" vm_start bd_src "$A" &&
			wait_console bd_src "VFMIG-L2-CHECK" 2 300 &&
			VM_VFIO_OPTS= VM_APPEND="$wl" MIG_DEFAULTS=1 \
				live_migrate bd_src bd_dst "$B" &&
			rate=$(writer_rate) &&
			sc=$(status_field "$A" last_stop_copy |
				awk '{ printf "%d %.1f", $1, $4 / 1000 }')
	fi
	# live_migrate keeps QEMU's own status when it never switched over.
	res=${MIG_RES:-}
	echo "$1 $2 $(mig_field "$res" status) $(mig_field "$res" downtime)" \
		"$(mig_field "$res" total-time) $(mig_field "$res" vfio.transferred)" \
		"$(mig_field "$res" ram.transferred) $rate $sc" \
		"$(mig_field "$res" ram.mbps)" >> /tmp/bd.txt
	tail -n 1 /tmp/bd.txt | sed 's/^/# bench-downtime: /'
	vm_stop bd_src
	vm_stop bd_dst
	MIG_RES=
}

: > /tmp/bd.txt
echo "# bench-downtime: kind pace_ms status downtime_ms total_ms vfio_bytes ram_bytes dirty_MiB_per_s sc_bytes sc_ms mbps ($rounds rounds per pace, BAR2 $bar MiB, ${VFMIG_BENCH_WRITER:-steady} writer)"
for pace in ${paces//,/ }; do
	for _ in $(seq "$rounds"); do
		one without "$pace"
		one ram "$pace"
		one with "$pace"
	done
done
cp /tmp/bd.txt /results/bench-downtime.txt 2>/dev/null
python3 - /tmp/bd.txt <<'PY' | sed 's/^/# bench-downtime: /'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def med(kind, pace, col):
    v = [float(r[col]) for r in rows if r[0] == kind and r[1] == pace and
         r[2:3] == ['completed'] and len(r) > col]
    return (statistics.median(v), len(v)) if v else (float('nan'), 0)
for pace in dict.fromkeys(r[1] for r in rows):
    for name, col in (('downtime', 3), ('total time', 4)):
        w, nw = med('with', pace, col)
        o, no = med('without', pace, col)
        r, nr = med('ram', pace, col)
        print('pace %s ms: %s median: with the device %.0f ms (%d), without %.0f ms (%d), ratio %.2f'
              % (pace, name, w, nw, o, no, w / o if o else float('nan')))
        print('pace %s ms: %s median: the writer on RAM %.0f ms (%d), ratio with the device / on RAM %.2f'
              % (pace, name, r, nr, w / r if r else float('nan')))
    print('pace %s ms: dirty rate median %.1f MiB/s with the device, %.1f MiB/s on RAM'
          % (pace, med('with', pace, 7)[0], med('ram', pace, 7)[0]))
    # The device's share: what vfmig had left when the VM stopped.
    b, n = med('with', pace, 8)
    t, _ = med('with', pace, 9)
    w, _ = med('with', pace, 3)
    print('pace %s ms: the device\'s STOP_COPY median %.0f bytes in %.1f ms (%d), %.2f of the median downtime with it'
          % (pace, b, t, n, t / w if w else float('nan')))
    for kind in ('with', 'ram', 'without'):
        print('pace %s ms: QEMU\'s stream rate median %s %.0f Mbit/s'
              % (pace, kind, med(kind, pace, 10)[0]))
PY
n_bad=$(awk '$3 != "completed"' /tmp/bd.txt | wc -l)
n_rows=$(wc -l < /tmp/bd.txt)
n_want=$((3 * rounds * $(echo "$paces" | tr ',' '\n' | grep -c .)))
check "every migration completed ($n_rows of $n_want)" "$n_bad did not" \
	eval '[ "$n_bad" -eq 0 ] && [ "$n_rows" -eq "$n_want" ] && [ "$n_want" -gt 0 ]'
unbind "$A" > /dev/null
unbind "$B" > /dev/null
check_dmesg_clean bench-downtime "the benchmark"
done_testing
