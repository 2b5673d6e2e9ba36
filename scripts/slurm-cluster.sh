#!/bin/sh
# A single-node Slurm cluster on loopback, for tests: munged + slurmctld + slurmd from Debian's
# packages (`make deps-slurm`), everything under DIR, stopped by the PIDs it wrote there.
#
#   scripts/slurm-cluster.sh start DIR   # prints SLURM_CONF=DIR/slurm.conf once the node is idle
#   scripts/slurm-cluster.sh stop DIR
#
# slurmd must run as root (it starts jobs as their users). Ports 28817/28818 are away from
# Slurm's defaults, so a real cluster on the machine is left alone.
set -eu
cmd=${1:?usage: slurm-cluster.sh start|stop DIR}
dir=$(mkdir -p "${2:?usage: slurm-cluster.sh start|stop DIR}" && cd "$2" && pwd)

stop() {
  for p in slurmd slurmctld munged; do
    [ -f "$dir/$p.pid" ] || continue
    pid=$(cat "$dir/$p.pid")
    kill "$pid" 2>/dev/null || true
    i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/$p.pid"
  done
}

case $cmd in
stop) stop; exit 0 ;;
start) ;;
*) echo "usage: slurm-cluster.sh start|stop DIR" >&2; exit 2 ;;
esac

for b in munged slurmctld slurmd sbatch scontrol; do
  command -v $b >/dev/null 2>&1 || { echo "slurm-cluster: $b not installed (make deps-slurm)" >&2; exit 3; }
done
[ "$(id -u)" = 0 ] || { echo "slurm-cluster: slurmd must run as root" >&2; exit 3; }
stop
mkdir -p "$dir/spool" "$dir/state" "$dir/munge"
chmod 700 "$dir/munge"
[ -f "$dir/munge/munge.key" ] || { dd if=/dev/urandom bs=1 count=1024 of="$dir/munge/munge.key" 2>/dev/null; chmod 400 "$dir/munge/munge.key"; }
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.sock" \
  --pid-file="$dir/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munge.seed"

host=$(hostname -s)
cpus=$(nproc)
cat > "$dir/slurm.conf" <<CONF
ClusterName=hone-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=28817
SlurmdPort=28818
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.sock
CryptoType=crypto/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
ReturnToService=2
MinJobAge=600
KillWait=2
InactiveLimit=0
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=4096 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
i=0
until scontrol show node "$host" 2>/dev/null | grep -q "State=IDLE"; do
  i=$((i + 1))
  if [ $i -gt 150 ]; then
    echo "slurm-cluster: the node did not become idle in 30 s; see $dir/slurmctld.log and $dir/slurmd.log" >&2
    stop; exit 1
  fi
  sleep 0.2
done
echo "SLURM_CONF=$SLURM_CONF"
