package io.machinery.broker.gcppubsub;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.pubsub.v1.PullRequest;
import com.google.pubsub.v1.ReceivedMessage;
import io.machinery.Arg;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.spi.Inspector;
import io.machinery.testkit.BrokerContract;
import io.machinery.wire.WireCodec;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What the Pub/Sub inspector does beyond the contract: listings hand messages back, purge spares
 * leased ones.
 */
class GcpPubSubInspectorIT {
  @RegisterExtension static final PubSubTestProject pubsub = new PubSubTestProject();

  private static GcpPubSubBroker broker() {
    Config config = BrokerContract.uniqueQueue(Config.DEFAULT, "ps_insp_");
    return pubsub.broker(config);
  }

  private static void publish(GcpPubSubBroker broker, long value) {
    Signature task = Signature.create("add", Arg.of(value));
    Signature routed = task.toBuilder().routingKey(broker.routingKeyFor(task)).build();
    broker.publish(routed, WireCodec.encode(routed));
  }

  @Test
  void aListingHandsEveryMessageBackAtOnce() {
    try (GcpPubSubBroker broker = broker()) {
      Inspector inspector = broker.inspector().orElseThrow();
      for (int i = 0; i < 3; i++) {
        publish(broker, i);
      }

      assertThat(inspector.pending("", 0, 1)).hasSize(1);

      // not leased by the listing: a purge right after finds all three
      assertThat(inspector.purge("")).isEqualTo(3);
      assertThat(inspector.pending("", 0, 10)).isEmpty();
    }
  }

  @Test
  void purgeSparesTheMessagesAWorkerHolds() {
    try (GcpPubSubBroker broker = broker()) {
      Inspector inspector = broker.inspector().orElseThrow();
      publish(broker, 1);
      publish(broker, 2);
      String subscription = broker.subscriptionFor(broker.topicOf(""));
      @SuppressWarnings("deprecation")
      PullRequest pull =
          PullRequest.newBuilder()
              .setSubscription(broker.client().subscriptionName(subscription))
              .setMaxMessages(1)
              .setReturnImmediately(true)
              .build();
      List<ReceivedMessage> held =
          broker.client().subscriber().pullCallable().call(pull).getReceivedMessagesList();
      assertThat(held).hasSize(1);

      assertThat(inspector.purge("")).isEqualTo(1);

      broker
          .client()
          .modifyAckDeadline(
              subscription, List.of(held.get(0).getAckId()), 0); // the worker gives it back
      assertThat(inspector.pending("", 0, 10))
          .extracting(Signature::uuid)
          .containsExactly(
              WireCodec.decodeSignature(held.get(0).getMessage().getData().toByteArray()).uuid());
    }
  }
}
