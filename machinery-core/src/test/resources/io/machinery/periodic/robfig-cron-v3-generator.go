// Writes robfig-cron-v3.json, which ScheduleTest replays: for each spec, whether robfig/cron v3.0.1's
// ParseStandard accepts it (and its error if not), and the first three Next() times, as Unix seconds, from
// every start time in every zone below ("starts" read as wall-clock times in each zone).
//
// Regenerate: copy this file into an empty folder with a go.mod requiring github.com/robfig/cron/v3 v3.0.1,
// then `go run . > robfig-cron-v3.json`.
package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

var specs = []string{
	"* * * * *", "*/5 * * * *", "5/15 * * * *", "1-10/3 * * * *", "0 0 * * MON-FRI", "0 0 1 JAN *",
	"0 0 ? * MON", "0 0 1 * ?", "0 0 ? ? ?", "? * * * *", "30 2 * * *", "30 1 * * *", "0 2 * * *", "0 3 * * *",
	"0 0 13 * 5", "0 0 13 * FRI", "0 0 13 * */1", "0 0 */1 * 5", "0 0 */2 * 1", "0 9 1-7 * MON", "0 0 1-31 * 0",
	"*/100 * * * *", "1,,2 * * * *", "+5 * * * *", "05 4 * * *", "0 0 29 2 *", "0 0 31 * *", "0 0 1,15 * *",
	"0-59/20 8-18 * * 1-5", "0 0 * * sun", "0 0 * jan-mar/2 *", "0 0 * * 0-6/2", "0 0 * * mon/2", "  0  0 * * *",
	"0\t0 * * *", "15 14 1 * *", "0 22 * * 1-5", "23 0-20/2 * * *", "5 4 * * sun", "0 0,12 1 */2 *",
	"0 4 8-14 * *", "0 0 1 1 *", "59 23 31 12 *", "0 12 * * 6,0", "0 0 * * 6-6", "0 0 L * *",
	"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly",
	"@every 1m30s", "@every 1.5s", "@every 500ms", "@every 90m", "@every -1s", "@every 0", "@every 1h0m0.9s",
	"@every 2h", "@every 1µs", "@every 3600000ms", "@every .5m", "@every 1.m",
	"CRON_TZ=Asia/Tokyo 0 9 * * *", "TZ=America/New_York 30 2 * * *", "CRON_TZ=Europe/Berlin @daily",
	"CRON_TZ=UTC 0 0 * * *", "TZ=Australia/Lord_Howe 0 2 * * *", "CRON_TZ=Asia/Kolkata */30 * * * *",
	"CRON_TZ=Local 0 0 * * *", "CRON_TZ=America/New_York   0 1 * * *",

	"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * 32 * *", "* * * 13 *",
	"* * * 0 *", "* * * * 7", "5-1 * * * *", "*/0 * * * *", "1-2-3 * * * *", "*/2/3 * * * *", "a * * * *",
	"MON * * * *", "-1 * * * *", "0 0 * * 1#2", "0 0 LW * *", "@every", "@every 1x", "@every ", "@every1m",
	"@every  1m", "@every 1", "@every 1m ", "@reboot", "@Daily", "@daily ", " @daily", "CRON_TZ=Nowhere/City * * * * *",
	"TZ=Mars/Olympus @daily", "0 0 * * FRI-MON", "0 0 * * 1-", "0 0 * * -1", "0 0 * * ,", "1/ * * * *",
	"*/-1 * * * *", "0 0 * * 0x1", "0 0 1 jan-dec/0 *", "CRON_TZ=+02:00 * * * * *", "* * * * * ?",
}

var zones = []string{"UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"}

var starts = []string{
	"2024-01-15T10:07:30.5", "2024-03-10T01:58:59", "2024-11-03T00:30:00", "2024-10-27T01:30:00",
	"2024-03-31T01:59:59", "2024-04-07T01:30:00", "2024-02-28T23:59:59", "2023-12-31T23:59:59.999999999",
	"2024-09-13T00:00:00",
}

func parse(spec string) (s cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return cron.ParseStandard(spec)
}

func main() {
	fmt.Println("{")
	fmt.Printf(" \"zones\": %s,\n", js(zones))
	fmt.Printf(" \"starts\": %s,\n", js(starts))
	fmt.Println(" \"specs\": [")
	for i, spec := range specs {
		sep := ","
		if i == len(specs)-1 {
			sep = ""
		}
		sched, err := parse(spec)
		if err != nil {
			fmt.Printf("  {\"spec\": %s, \"error\": %s}%s\n", js(spec), js(err.Error()), sep)
			continue
		}
		var next [][]int64
		for _, zone := range zones {
			loc, err := time.LoadLocation(zone)
			if err != nil {
				panic(err)
			}
			for _, start := range starts {
				t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", start, loc)
				if err != nil {
					panic(err)
				}
				var times []int64
				for i := 0; i < 3; i++ {
					t = sched.Next(t)
					if t.IsZero() {
						times = append(times, 0) // never
						break
					}
					times = append(times, t.Unix())
				}
				next = append(next, times)
			}
		}
		fmt.Printf("  {\"spec\": %s, \"next\": %s}%s\n", js(spec), js(next), sep)
	}
	fmt.Println(" ]")
	fmt.Println("}")
}

func js(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSpace(b.String())
}
