package bench

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CPU is where the machine's processor time went during a point.
type CPU struct {
	// Process is the cores this process used on average (the service and
	// vegeta: 1.0 is one core busy all the time).
	Process float64 `json:"process_cores"`
	// Machine is the cores busy on the whole machine on average (PostgreSQL,
	// pgbench, this process and anything else running).
	Machine float64 `json:"machine_cores"`
	// ProcessPerRequestMs is Process over the point's throughput: the
	// service's and the load generator's processor time per request.
	ProcessPerRequestMs float64 `json:"process_ms_per_request,omitempty"`
}

type cpuSnapshot struct {
	at          time.Time
	self        time.Duration
	busy, total uint64
}

func takeCPU() cpuSnapshot {
	s := cpuSnapshot{at: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	s.busy, s.total = procStat()
	return s
}

// since returns the CPU use from s to now, per wall-clock second.
func (s cpuSnapshot) since(throughput float64) *CPU {
	now := takeCPU()
	wall := now.at.Sub(s.at)
	if wall <= 0 {
		return nil
	}
	c := &CPU{Process: float64(now.self-s.self) / float64(wall)}
	if dt := now.total - s.total; dt > 0 {
		// /proc/stat counts ticks of all cores: busy/total is the busy
		// fraction of the machine.
		c.Machine = float64(now.busy-s.busy) / float64(dt) * float64(runtime.NumCPU())
	}
	if throughput > 0 {
		c.ProcessPerRequestMs = c.Process / throughput * 1000
	}
	return c
}

// procStat returns the busy and total ticks of the "cpu" line of
// /proc/stat (zero where it cannot be read).
func procStat() (busy, total uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0
	}
	for i, f := range fields[1:] {
		v, _ := strconv.ParseUint(f, 10, 64)
		total += v
		// idle (4th) and iowait (5th) are not busy.
		if i != 3 && i != 4 {
			busy += v
		}
	}
	return busy, total
}
