#!/usr/bin/env python3
"""Extract AMQP wire fixtures from RabbitMQ management-API dumps.

Inputs (JSON returned by POST /api/queues/%2F/<queue>/get with
ackmode=ack_requeue_true, encoding=auto):
  amqp-mgmt-get-machinery_task-queue.json  the never-consumed `machinery_task`
      queue that Go's publisher declares (direct exchange; every default-routed
      task lands there too), after `send -scenario all` with the AMQP broker
  amqp-mgmt-get-task-state-queue.json      the result-backend queue task_<uuid>
      of an add(1,1) sent with -no-wait and processed by the Go worker

usage: extract_amqp_mgmt.py DIR   (reads and writes in DIR)
"""
import json, os, sys

d = sys.argv[1] if len(sys.argv) > 1 else '.'
msgs = json.load(open(os.path.join(d, 'amqp-mgmt-get-machinery_task-queue.json')))
states = json.load(open(os.path.join(d, 'amqp-mgmt-get-task-state-queue.json')))
index = []


def put(name, data, note):
    with open(os.path.join(d, name), 'w') as f:
        f.write(data)
    index.append((name, note))


def body(pred):
    return [m for m in msgs if pred(json.loads(m['payload']))][0]


m = body(lambda b: b['Name'] == 'add' and not b['GroupUUID'] and not b['OnSuccess'] and b['Args'][0]['Value'] == 1)
put('amqp-msg-add.json', m['payload'], 'add(1,1) body as published by server.SendTask (exchange machinery_exchange, routing key machinery_task, content_type application/json, delivery_mode 2, no headers)')
m = body(lambda b: b['Name'] == 'add' and b['ChordCallback'] is not None)
put('amqp-msg-chord-group-member.json', m['payload'], 'first chord group member')
m = body(lambda b: b['UUID'].startswith('chord_'))
put('amqp-msg-chord-callback-triggered.json', m['payload'], 'chord callback multiply(2,4,11) published by the Go worker')
m = body(lambda b: b['Name'] == 'fail_n_times' and b['RetryCount'] == 1)
put('amqp-msg-retry-republished-1.json', m['payload'], 'fail_n_times after the 1st failure, dead-lettered out of delay.<ms>.machinery_exchange.machinery_task (RetryCount 1, RetryTimeout 1, ETA)')
put('amqp-msg-retry-republished-1.properties.json',
    json.dumps({k: v for k, v in m.items() if k != 'payload'}, indent=1, sort_keys=True),
    'management view of that delivery: properties incl. the x-death headers RabbitMQ added (not Go bytes)')
m = body(lambda b: b['Name'] == 'fail_n_times' and b['RetryCount'] == 0)
put('amqp-msg-retry-republished-2.json', m['payload'], 'fail_n_times after the 2nd failure (RetryCount 0, RetryTimeout 2)')
for s in states:
    b = json.loads(s['payload'])
    put('amqp-state-add-%s.json' % b['State'].lower(), s['payload'],
        'result-backend message %s in queue %s (routing key = task UUID)' % (b['State'], s['routing_key']))

for n, note in index:
    print('%-48s %s' % (n, note))
