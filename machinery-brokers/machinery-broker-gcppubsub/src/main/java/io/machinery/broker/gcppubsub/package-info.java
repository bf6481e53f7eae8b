/** Go Machinery's GCP Pub/Sub broker: {@link io.machinery.broker.gcppubsub.GcpPubSubBroker}. */
@NullMarked
package io.machinery.broker.gcppubsub;

import org.jspecify.annotations.NullMarked;
