/**
 * Go Machinery's AWS SQS broker (standard and FIFO queues): {@link
 * io.machinery.broker.sqs.SqsBroker}.
 */
@NullMarked
package io.machinery.broker.sqs;

import org.jspecify.annotations.NullMarked;
