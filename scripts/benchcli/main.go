// Command benchcli times whole processes for scripts/bench-cli.sh: it runs
// two commands alternately, -n times each after one untimed warm-up run of
// each, and prints each one's median and minimum wall time and the ratio
// of the first to the second.
//
//	benchcli -n 21 -label 10MB -- palyra skills verify a.palyra-skill -- cosign verify-blob ...
//
// Running them alternately puts both under the same machine load, which on
// a shared machine moves more than either command does. Every run must exit
// 0; stdout and stderr are discarded.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

func main() {
	n := flag.Int("n", 21, "timed runs of each command")
	label := flag.String("label", "", "row label")
	flag.Parse()
	cmds, err := split(flag.Args())
	if err == nil && *n < 1 {
		err = errors.New("-n must be at least 1")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchcli:", err)
		os.Exit(2)
	}
	times := make([][]time.Duration, len(cmds))
	for i := -1; i < *n; i++ {
		for j, c := range cmds {
			d, err := run(c)
			if err != nil {
				fmt.Fprintf(os.Stderr, "benchcli: %s: %v\n", strings.Join(c, " "), err)
				os.Exit(1)
			}
			if i >= 0 { // i == -1 is the warm-up
				times[j] = append(times[j], d)
			}
		}
	}
	med := func(ds []time.Duration) time.Duration { slices.Sort(ds); return ds[len(ds)/2] }
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	m0, m1 := med(times[0]), med(times[1])
	fmt.Printf("%-10s %-7s median %7.1f ms  min %7.1f ms\n", *label, name(cmds[0]), ms(m0), ms(times[0][0]))
	fmt.Printf("%-10s %-7s median %7.1f ms  min %7.1f ms\n", *label, name(cmds[1]), ms(m1), ms(times[1][0]))
	fmt.Printf("%-10s ratio   median %7.2f×     min %7.2f×   (%d runs each)\n", *label,
		float64(m0)/float64(m1), float64(times[0][0])/float64(times[1][0]), *n)
}

// split cuts "a args -- b args" (flag.Parse has taken the first "--")
// into the two commands.
func split(args []string) ([][]string, error) {
	cmds := [][]string{nil}
	for _, a := range args {
		if a == "--" {
			cmds = append(cmds, nil)
			continue
		}
		cmds[len(cmds)-1] = append(cmds[len(cmds)-1], a)
	}
	if len(cmds) != 2 || len(cmds[0]) == 0 || len(cmds[1]) == 0 {
		return nil, errors.New("want two commands: -- CMD ARGS -- CMD ARGS")
	}
	return cmds, nil
}

func run(argv []string) (time.Duration, error) {
	c := exec.Command(argv[0], argv[1:]...)
	start := time.Now()
	err := c.Run()
	return time.Since(start), err
}

func name(argv []string) string {
	base := argv[0][strings.LastIndexByte(argv[0], '/')+1:]
	return base
}
