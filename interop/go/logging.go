package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	mlog "github.com/RichardKnop/machinery/v2/log"
)

// Machinery logs INFO and WARNING to stdout by default. Our stdout carries
// JSON (and READY), so every Machinery log line goes to stderr instead.
// The adapter also watches for the line Machinery's brokers print once
// consumption has started ("[*] Waiting for messages"), which is how the
// worker knows when to print READY.

type stderrLogger struct {
	prefix  string
	out     io.Writer
	mu      *sync.Mutex
	onReady func()
}

var readyOnce sync.Once

func (l *stderrLogger) write(s string) {
	if l.out == nil {
		return
	}
	l.mu.Lock()
	fmt.Fprintf(l.out, "%s %s%s\n", time.Now().Format("15:04:05.000"), l.prefix, strings.TrimRight(s, "\n"))
	l.mu.Unlock()
	if l.onReady != nil && strings.Contains(s, "Waiting for messages") {
		readyOnce.Do(l.onReady)
	}
}

func (l *stderrLogger) Print(v ...interface{})                 { l.write(fmt.Sprint(v...)) }
func (l *stderrLogger) Printf(format string, v ...interface{}) { l.write(fmt.Sprintf(format, v...)) }
func (l *stderrLogger) Println(v ...interface{})               { l.write(fmt.Sprintln(v...)) }
func (l *stderrLogger) Fatal(v ...interface{})                 { l.write(fmt.Sprint(v...)); os.Exit(1) }
func (l *stderrLogger) Fatalf(format string, v ...interface{}) {
	l.write(fmt.Sprintf(format, v...))
	os.Exit(1)
}
func (l *stderrLogger) Fatalln(v ...interface{}) { l.write(fmt.Sprintln(v...)); os.Exit(1) }
func (l *stderrLogger) Panic(v ...interface{})   { s := fmt.Sprint(v...); l.write(s); panic(s) }
func (l *stderrLogger) Panicf(format string, v ...interface{}) {
	s := fmt.Sprintf(format, v...)
	l.write(s)
	panic(s)
}
func (l *stderrLogger) Panicln(v ...interface{}) { s := fmt.Sprintln(v...); l.write(s); panic(s) }

// setupLogging routes Machinery's loggers to stderr. onReady (may be nil) is
// called once when a broker reports that it is waiting for messages. quiet
// drops INFO lines (used by bench).
func setupLogging(verbose, quiet bool, onReady func()) {
	mu := &sync.Mutex{}
	mk := func(prefix string, enabled bool) *stderrLogger {
		l := &stderrLogger{prefix: prefix, mu: mu, onReady: onReady}
		if enabled {
			l.out = os.Stderr
		}
		return l
	}
	mlog.SetDebug(mk("DEBUG: ", verbose))
	mlog.SetInfo(mk("INFO: ", !quiet))
	mlog.SetWarning(mk("WARNING: ", !quiet))
	mlog.SetError(mk("ERROR: ", true))
	mlog.SetFatal(mk("FATAL: ", true))
}
