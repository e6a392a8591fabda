# SPDX-License-Identifier: GPL-2.0-only
# Suite "bench-downtime" (opt-in: in no default list; run by run-tests.sh,
# in a process of its own): the live-migration benchmark of
# Documentation/benchmarks.rst. The same nested guest is migrated with
# QEMU's default parameters and vfio-pci options, alternately without the
# device (idle) and with it (its workload writing the device memory every
# VFMIG_BENCH_PACE ms), VFMIG_BENCH_ROUNDS times each; it prints every
# migration's downtime and total time, then the medians and their ratios
# (with / without), as comments: figures, never judged. Its checks are
# only that it could measure (every migration completed) and that the
# kernel stayed clean. Needs a kernel that can report DMA logging
# (VFMIG_KERNEL=iommufd), as the qemu-defaults suite does.
. /opt/vfmig/tests/guest/lib.sh
plan 3

mapfile -t devs < <(ivshmem_devices)
A=${devs[0]}
B=${devs[1]}
rounds=${VFMIG_BENCH_ROUNDS:-10}
pace=${VFMIG_BENCH_PACE:-1000}
if [ ! -c /dev/iommu ]; then
	for i in 1 2 3; do
		skip "bench-downtime part $i" "needs a kernel with IOMMUFD (DMA logging reports): VFMIG_KERNEL=iommufd"
	done
	exit 0
fi
dmesg_mark bench-downtime
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
modprobe "$VFMIG_MODULE"
check "A and B bound for the benchmark" "bind failed" \
	eval 'bind "$A" "$VFMIG_DRIVER" && bind "$B" "$VFMIG_DRIVER"'

# one KIND : one migration with QEMU's defaults; appends
# "KIND status downtime_ms total_ms vfio_bytes ram_bytes" to /tmp/bd.txt.
one() {
	local res
	if [ "$1" = without ]; then
		vm_start bd_src - && wait_console bd_src "VFMIG-L2-IDLE" 1 240 &&
			MIG_DEFAULTS=1 live_migrate bd_src bd_dst -
	else
		VM_VFIO_OPTS= VM_APPEND="vfmig.pace_ms=$pace" vm_start bd_src "$A" &&
			wait_console bd_src "VFMIG-L2-CHECK" 2 300 &&
			VM_VFIO_OPTS= VM_APPEND="vfmig.pace_ms=$pace" MIG_DEFAULTS=1 \
				live_migrate bd_src bd_dst "$B"
	fi
	res=${MIG_RES:-}
	echo "$1 $(mig_field "$res" status) $(mig_field "$res" downtime)" \
		"$(mig_field "$res" total-time) $(mig_field "$res" vfio.transferred)" \
		"$(mig_field "$res" ram.transferred)" >> /tmp/bd.txt
	tail -n 1 /tmp/bd.txt | sed 's/^/# bench-downtime: /'
	vm_stop bd_src
	vm_stop bd_dst
	MIG_RES=
}

: > /tmp/bd.txt
echo "# bench-downtime: kind status downtime_ms total_ms vfio_bytes ram_bytes ($rounds rounds, pace $pace ms)"
for _ in $(seq "$rounds"); do
	one without
	one with
done
cp /tmp/bd.txt /results/bench-downtime.txt 2>/dev/null
python3 - /tmp/bd.txt <<'PY' | sed 's/^/# bench-downtime: /'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def med(kind, col):
    v = [float(r[col]) for r in rows if r[0] == kind and r[1:2] == ['completed'] and len(r) > col]
    return (statistics.median(v), len(v)) if v else (float('nan'), 0)
for name, col in (('downtime', 2), ('total time', 3)):
    w, nw = med('with', col)
    o, no = med('without', col)
    print('%s median: with the device %.0f ms (%d), without %.0f ms (%d), ratio %.2f'
          % (name, w, nw, o, no, w / o if o else float('nan')))
PY
n_bad=$(awk '$2 != "completed"' /tmp/bd.txt | wc -l)
check "every migration completed ($((2 * rounds)))" "$n_bad did not" test "$n_bad" -eq 0
unbind "$A" > /dev/null
unbind "$B" > /dev/null
bad=$(dmesg_bad_since bench-downtime)
check "no WARN, BUG or oops in dmesg during the benchmark" \
	"$(echo "$bad" | head -n 3 | tr '\n' ' ')" test -z "$bad"
done_testing
