#!/bin/sh
F=/mnt/pmem/lat.dat
dd if=/dev/zero of=$F bs=2M count=64 2>/dev/null; sync
cd /host/vm
cat /sys/kernel/mm/transparent_hugepage/enabled
taskset -c 0 ./perio2 $F 128 2 6 > perio2.txt
taskset -c 0 ./perio2 $F 128 2 6 1 > perio2t.txt
for r in 1 2 3; do taskset -c 0 fio --name=p --output-format=json --rw=read --invalidate=0 --ioengine=mmap --filename=$F --size=134217728 --bs=2M --loops=2 --thread > fio.$r.json; done
echo done
