package io.machinery.broker.gcppubsub;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.pubsub.v1.PublishRequest;
import com.google.pubsub.v1.PubsubMessage;
import java.util.List;
import java.util.function.Function;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** How the delay pump's batches are cut into requests Pub/Sub takes, without a server. */
class PublishRequestsTest {
  private static final String TOPIC = "projects/p/topics/t";

  private static PubsubMessage message(int bytes) {
    return PubsubMessage.newBuilder().setData(ByteString.copyFrom(new byte[bytes])).build();
  }

  @Test
  void aRequestCarriesAtMostPubSubsThousandMessages() {
    List<PubsubMessage> messages = IntStream.range(0, 2_500).mapToObj(i -> message(10)).toList();
    List<List<PubsubMessage>> requests =
        PubSubClient.inPublishRequests(
            TOPIC,
            messages,
            Function.identity(),
            PubSubClient.MAX_MESSAGES_PER_PUBLISH,
            PubSubClient.MAX_PUBLISH_REQUEST_BYTES);
    assertThat(requests).extracting(List::size).containsExactly(1_000, 1_000, 500);
    assertThat(requests.stream().flatMap(List::stream).toList()).isEqualTo(messages);
  }

  @Test
  void aRequestStaysWithinTheByteLimitAndATooLargeMessageGoesAlone() {
    long limit = 1_000;
    List<PubsubMessage> messages =
        List.of(message(300), message(300), message(300), message(2_000), message(10));
    List<List<PubsubMessage>> requests =
        PubSubClient.inPublishRequests(TOPIC, messages, Function.identity(), 1_000, limit);
    assertThat(requests).extracting(List::size).containsExactly(3, 1, 1);
    int firstSize =
        PublishRequest.newBuilder()
            .setTopic(TOPIC)
            .addAllMessages(requests.get(0))
            .build()
            .getSerializedSize();
    assertThat(firstSize).as("the first request's size").isBetween(900, (int) limit);
  }
}
