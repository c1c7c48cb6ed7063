P=/root/peer; F=/host/vm/faultline; mkdir -p /host/selftests $P && cp /host/peer/hmm-tests /host/peer/ioctl-times.so $P/ && echo 64 > /proc/sys/vm/nr_hugepages && insmod /host/peer/test_hmm.ko && cd $P || exit 1
timeout 900 stdbuf -oL ./hmm-tests > /host/selftests/hmm-tests.tap 2>&1; echo "hmm-tests exit=$?"
for r in 1 2 3; do
  echo "peer: round $r hmm-tests"
  IOCTL_TIMES_LOG=$P/r$r-ioctls.txt LD_PRELOAD=$P/ioctl-times.so timeout 300 taskset -c 0 stdbuf -oL ./hmm-tests -r hmm.hmm_device_private.benchmark_thp_migration > /host/peer/r$r-bench.tap 2>&1
  cp $P/r$r-ioctls.txt /host/peer/
  echo "peer: round $r faultline"
  $F run -q --prepare --cpus 0 --section device-migrate,device-migrate-thp,device-migrate-bench,device-migrate-bench-thp -o /host/peer/r$r /host/vm/device.job
done
echo 0 > /proc/sys/vm/nr_hugepages
