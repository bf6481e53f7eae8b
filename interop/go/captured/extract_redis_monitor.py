#!/usr/bin/env python3
"""Extract wire fixtures from a `redis-cli MONITOR` capture of
`machinery-interop send -scenario all` (Redis broker + Redis backend, Go
worker running). Writes one file per sample, holding the exact bytes Go sent
to Redis (no trailing newline), and prints an index.

usage: extract_redis_monitor.py MONITOR.txt OUTDIR
"""
import json, os, re, sys


def parse_args(s):
    """Parse the arguments of one MONITOR line (sdscatrepr quoting)."""
    out, i, n = [], 0, len(s)
    esc = {'n': 10, 'r': 13, 't': 9, 'a': 7, 'b': 8, '"': 34, '\\': 92}
    while i < n:
        if s[i] == ' ':
            i += 1
            continue
        assert s[i] == '"', s[i:i + 20]
        i += 1
        buf = bytearray()
        while True:
            c = s[i]
            if c == '\\':
                d = s[i + 1]
                if d == 'x':
                    buf.append(int(s[i + 2:i + 4], 16))
                    i += 4
                else:
                    buf.append(esc[d])
                    i += 2
                continue
            if c == '"':
                i += 1
                break
            buf.extend(c.encode('utf-8'))
            i += 1
        out.append(bytes(buf))
    return out


def commands(path):
    for line in open(path, encoding='utf-8'):
        m = re.match(r'^([0-9.]+) \[(\d+) ([^\]]+)\] (.*)$', line.rstrip('\n'))
        if m:
            args = parse_args(m.group(4))
            yield args[0].decode().lower(), args[1:]


def main():
    src, outdir = sys.argv[1], sys.argv[2]
    cmds = list(commands(src))
    pushes = [(c, a) for c, a in cmds if c in ('rpush', 'zadd')]
    sets = [a for c, a in cmds if c == 'set']

    def msg(args, cmd):
        return args[-1] if cmd == 'rpush' else args[2]

    def sig(b):
        return json.loads(b)

    picked = {}

    def first_push(pred, cmd=None, nth=0):
        hits = [(c, a) for c, a in pushes if (cmd is None or c == cmd) and pred(sig(msg(a, c)))]
        return hits[nth] if len(hits) > nth else None

    def put(name, data, note):
        picked[name] = note
        with open(os.path.join(outdir, name), 'wb') as f:
            f.write(data)

    def put_push(name, hit, note):
        c, a = hit
        extra = ''
        if c == 'zadd':
            extra = ' (ZADD %s score %s)' % (a[0].decode(), a[1].decode())
        else:
            extra = ' (RPUSH %s)' % a[0].decode()
        put(name, msg(a, c), note + extra)

    # task messages
    put_push('redis-msg-add.json', first_push(lambda s: s['Name'] == 'add' and not s['GroupUUID'] and not s['OnSuccess'] and len(s['Args']) == 2 and s['Args'][0]['Value'] == 1),
             'task message add(1,1) as published by server.SendTask')
    put_push('redis-msg-sum-slice-arg.json', first_push(lambda s: s['Name'] == 'sum'), 'sum([1,2]): []int64 argument')
    put_push('redis-msg-chord-group-member.json',
             first_push(lambda s: s['Name'] == 'add' and s['ChordCallback'] is not None),
             'first chord group member add(1,1) (GroupUUID, GroupTaskCount, nested ChordCallback)')
    put_push('redis-msg-chord-callback-triggered.json',
             first_push(lambda s: s['UUID'].startswith('chord_')),
             'chord callback multiply() published by the Go worker after the group finished (group results appended as args)')
    put_push('redis-msg-chain-first.json',
             first_push(lambda s: s['Name'] == 'add' and s['OnSuccess'] is not None),
             'first chain message add(2,2) with nested OnSuccess add(5,6) -> multiply(4)')
    put_push('redis-msg-chain-last-callback.json',
             first_push(lambda s: s['Name'] == 'multiply' and not s['UUID'].startswith('chord_')),
             'last chain step multiply(4,15) published by the Go worker (parent result appended)')
    put_push('redis-msg-eta-delayed.json', first_push(lambda s: s['Name'] == 'delay_test', 'zadd'),
             'delay_test with ETA now+1s, ZADD to delayed_tasks')
    put_push('redis-msg-retry-original.json', first_push(lambda s: s['Name'] == 'fail_n_times', 'rpush'),
             'fail_n_times(key,2) RetryCount=2 as first sent')
    put_push('redis-msg-retry-republished-1.json', first_push(lambda s: s['Name'] == 'fail_n_times', 'zadd', 0),
             'fail_n_times after 1st failure, republished by the Go worker: RetryCount 1, RetryTimeout 1, ETA now+1s')
    put_push('redis-msg-retry-republished-2.json', first_push(lambda s: s['Name'] == 'fail_n_times', 'zadd', 1),
             'fail_n_times after 2nd failure: RetryCount 0, RetryTimeout 2, ETA now+2s')
    put_push('redis-msg-retry-promoted.json', first_push(lambda s: s['Name'] == 'fail_n_times', 'rpush', 1),
             'fail_n_times moved from delayed_tasks to the queue by the Go worker (ETA kept, now in the past)')
    put_push('redis-msg-retry-later-republished.json', first_push(lambda s: s['Name'] == 'retry_later', 'zadd'),
             'retry_later after ErrRetryTaskLater(1s): RetryCount/RetryTimeout untouched, ETA now+1s')
    put_push('redis-msg-on-error-task.json', first_push(lambda s: s['Name'] == 'return_just_error' and s['OnError']),
             'return_just_error("boom",true) with OnError [record_error]')
    put_push('redis-msg-on-error-callback.json', first_push(lambda s: s['Name'] == 'record_error'),
             'record_error published by the Go worker: error string prepended as first arg')
    put_push('redis-msg-echo-bytes.json', first_push(lambda s: s['Name'] == 'echo_bytes'), 'echo_bytes([]byte{0,1,2,255}) Type "[]byte", base64 value')
    put_push('redis-msg-echo-uint64.json', first_push(lambda s: s['Name'] == 'echo_uint64'), 'echo_uint64(2^64-1)')
    put_push('redis-msg-echo-int64.json', first_push(lambda s: s['Name'] == 'echo_int64'), 'echo_int64(2^53+1)')
    put_push('redis-msg-panic-no-args.json', first_push(lambda s: s['Name'] == 'panic'), 'panic: no args -> "Args":null')

    # states
    def state(pred, nth=0):
        hits = [a for a in sets if a[1].startswith(b'{"TaskUUID"') and pred(json.loads(a[1]))]
        return hits[nth] if len(hits) > nth else None

    def put_state(name, a, note):
        put(name, a[1], note + ' (SET %s ... %s %s)' % (a[0].decode(), a[2].decode(), a[3].decode()))

    first_add = json.loads(msg(first_push(lambda s: s['Name'] == 'add')[1], 'rpush'))['UUID']
    for st in ('PENDING', 'RECEIVED', 'STARTED', 'SUCCESS'):
        put_state('redis-state-add-%s.json' % st.lower(), state(lambda s: s['TaskUUID'] == first_add and s['State'] == st),
                  'add(1,1) state %s' % st)
    put_state('redis-state-retry.json', state(lambda s: s['TaskName'] == 'fail_n_times' and s['State'] == 'RETRY'),
              'fail_n_times RETRY state')
    put_state('redis-state-failure-error.json', state(lambda s: s['State'] == 'FAILURE' and s['Error'] == 'Test error'),
              'return_just_error("Test error") FAILURE')
    put_state('redis-state-failure-panic.json', state(lambda s: s['State'] == 'FAILURE' and s['Error'] == 'oops'),
              'panic FAILURE ("oops")')
    put_state('redis-state-success-multi.json', state(lambda s: s['TaskName'] == 'return_multiple_values' and s['State'] == 'SUCCESS'),
              'return_multiple_values SUCCESS (two string results)')
    put_state('redis-state-success-bytes.json', state(lambda s: s['TaskName'] == 'echo_bytes' and s['State'] == 'SUCCESS'),
              'echo_bytes SUCCESS: Type "[]uint8", base64 value')
    put_state('redis-state-success-uint64.json', state(lambda s: s['TaskName'] == 'echo_uint64' and s['State'] == 'SUCCESS'),
              'echo_uint64 SUCCESS')
    put_state('redis-state-chord-callback-success.json', state(lambda s: s['TaskUUID'].startswith('chord_') and s['State'] == 'SUCCESS'),
              'chord callback SUCCESS (88)')

    groups = [a for a in sets if a[1].startswith(b'{"GroupUUID"')]
    put('redis-group-meta-init.json', groups[0][1], 'group meta written by InitGroup (SET %s ... EX)' % groups[0][0].decode())
    trig = [a for a in groups if b'"ChordTriggered":true' in a[1]]
    if trig:
        put('redis-group-meta-chord-triggered.json', trig[0][1], 'group meta after TriggerChord (SET %s ... EX)' % trig[0][0].decode())

    for k in sorted(picked):
        print('%-45s %s' % (k, picked[k]))


if __name__ == '__main__':
    main()
