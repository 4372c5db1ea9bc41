#!/bin/sh
# Copy the work-in-progress files into the scratch integration tree /tmp/aspace-int.
set -e
W=/work/wt/aspace; I=/tmp/aspace-int
cp $W/wip/aspace.c $I/core/aspace.c
cp $W/wip/tests/common/aspace_fixture.h $I/tests/common/
cp $W/wip/tests/test_*.c $I/tests/
for f in include/svmm/aspace.h include/svmm/asid.h core/asid.c core/err.c include/svmm/types.h include/svmm/port.h port/host/port_host.c port/host/hostsim.h tests/test_asid.c; do cp $W/$f $I/$f; done
